package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/evalrun/evalrun/reports/model"
)

// Defaults of a capacity search (evalrun capacity). A stage of 20 s at a
// few hundred ops/s or more holds thousands of operations, enough that its
// p99 rests on tens of samples above it; the settle before it lets the
// rate change and the backlog of the stage before (at most max_lag of it)
// pass before anything counts.
const (
	DefaultCapacityFactor    = 1.5
	DefaultCapacityStage     = 20 * time.Second
	DefaultCapacitySettle    = 3 * time.Second
	DefaultCapacityMaxStages = 12
	DefaultCapacityBisect    = 2
	// bisectCloseEnough: no bisection between rates closer than this ratio.
	bisectCloseEnough = 1.02
)

// CapacityOptions configure the capacity search that follows the
// scenario's steps (Options.Capacity).
type CapacityOptions struct {
	SLO       model.SLO
	StartRate float64       // the first stage's offered rate (> 0)
	Factor    float64       // each stage offers Factor times the last (> 1)
	Stage     time.Duration // measured length of a stage
	Settle    time.Duration // before each stage, not counted
	MaxRate   float64       // no stage offers more (0: no bound but MaxStages)
	MaxStages int           // stages before bisection (>= 1)
	Bisect    int           // extra stages between the last held and the first broken rate
	// OnStage is called when a stage has been judged; may be nil.
	OnStage func(model.CapacityStage)
}

// Check says what is wrong with the options, in the words of the flags.
func (c *CapacityOptions) Check() error {
	switch {
	case c.SLO.P99Us <= 0:
		return errors.New("the SLO needs a p99 (--slo p99=20ms)")
	case !(c.StartRate > 0):
		return fmt.Errorf("--start-rate must be > 0, got %v", c.StartRate)
	case !(c.Factor > 1) || c.Factor > 100:
		return fmt.Errorf("--factor must be in (1, 100], got %v", c.Factor)
	case c.Stage < time.Second:
		return fmt.Errorf("--stage must be at least 1s, got %v", c.Stage)
	case c.Settle < 0:
		return fmt.Errorf("--settle must not be negative, got %v", c.Settle)
	case c.MaxRate < 0 || (c.MaxRate > 0 && c.MaxRate < c.StartRate):
		return fmt.Errorf("--max-rate must be 0 (none) or at least the start rate %v, got %v", c.StartRate, c.MaxRate)
	case c.MaxStages < 1 || c.MaxStages > 100:
		return fmt.Errorf("--max-stages must be in [1, 100], got %d", c.MaxStages)
	case c.Bisect < 0 || c.Bisect > 10:
		return fmt.Errorf("--bisect must be in [0, 10], got %d", c.Bisect)
	}
	return nil
}

// skeleton is the capacity section before any stage ran: incomplete.
func (c *CapacityOptions) skeleton() *model.Capacity {
	return &model.Capacity{
		SLO: c.SLO, StartRate: c.StartRate, Factor: c.Factor, StageMs: c.Stage.Milliseconds(), SettleMs: c.Settle.Milliseconds(),
		MaxRate: c.MaxRate, MaxStages: c.MaxStages, Bisect: c.Bisect, Stages: []model.CapacityStage{}, Result: model.CapacityIncomplete,
	}
}

// stageSpec is one stage to run.
type stageSpec struct {
	N      int
	Rate   float64
	Bisect bool
	// Recover, when > 0, comes first: a phase at RecoverRate that lets the
	// backlog of a broken stage drain (the operations due while the
	// cluster could not keep up stay due: the schedule is open-loop).
	Recover     time.Duration
	RecoverRate float64
}

// stageRunner runs one stage and returns what it measured; the search
// judges it. An error (ctx ended) ends the search.
type stageRunner func(ctx context.Context, s stageSpec) (model.CapacityStage, error)

// searchCapacity raises the offered rate from StartRate by Factor per
// stage until a stage breaks the SLO, MaxRate is passed or MaxStages
// ran, then bisects (geometric mean) between the last rate that held and
// the first that broke, Bisect times at most; a bisecting stage after a
// broken one first recovers for recoverFor at a quarter of the rate that
// held. It fills capc (the report's section) as it goes, so an
// interrupted search leaves what it found; the error is the stage
// runner's.
func searchCapacity(ctx context.Context, o *CapacityOptions, capc *model.Capacity, run stageRunner, recoverFor time.Duration) error {
	held, broken := 0.0, 0.0
	n := 0
	lastHeld := true
	stage := func(s stageSpec) (bool, error) {
		n++
		s.N = n
		if !lastHeld {
			s.Recover, s.RecoverRate = recoverFor, roundRate(held/4)
		}
		st, err := run(ctx, s)
		if err != nil {
			return false, err
		}
		judgeStage(o.SLO, &st)
		capc.Stages = append(capc.Stages, st)
		if o.OnStage != nil {
			o.OnStage(st)
		}
		lastHeld = st.Held
		return st.Held, nil
	}
	var err error
	rate := roundRate(o.StartRate)
	for i := 0; i < o.MaxStages && (o.MaxRate == 0 || rate <= o.MaxRate); i++ {
		var ok bool
		if ok, err = stage(stageSpec{Rate: rate}); err != nil {
			break
		}
		if !ok {
			broken = rate
			break
		}
		held = rate
		rate = nextRate(rate, o.Factor, o.MaxRate)
	}
	for i := 0; err == nil && i < o.Bisect && held > 0 && broken > 0 && broken/held > bisectCloseEnough; i++ {
		mid := roundRate(math.Sqrt(held * broken))
		var ok bool
		if ok, err = stage(stageSpec{Rate: mid, Bisect: true}); err != nil {
			break
		}
		if ok {
			held = mid
		} else {
			broken = mid
		}
	}
	concludeCapacity(capc, held, broken, err != nil)
	return err
}

// nextRate is the next stage's rate: rate times factor, but the max rate
// itself once when the factor would overshoot it.
func nextRate(rate, factor, maxRate float64) float64 {
	next := roundRate(rate * factor)
	if maxRate > 0 && rate < maxRate && next > maxRate {
		return maxRate
	}
	return next
}

// roundRate keeps a tenth of an op/s: the rate a stage shows is the rate
// it ran.
func roundRate(r float64) float64 { return math.Round(r*10) / 10 }

// concludeCapacity writes the result from the judged stages: the
// highest rate shown to hold and the lowest shown to break above it,
// never a number no stage showed. stopped: the search ended early.
func concludeCapacity(capc *model.Capacity, held, broken float64, stopped bool) {
	capc.MaxHeldRate, capc.FirstBrokenRate = nil, nil
	if held > 0 {
		capc.MaxHeldRate = &held
	}
	if broken > 0 {
		capc.FirstBrokenRate = &broken
	}
	switch {
	case broken > 0 && held > 0:
		capc.Result = model.CapacityFound
	case broken > 0:
		capc.Result = model.CapacityBelowStart
	case stopped:
		capc.Result = model.CapacityIncomplete
	default:
		capc.Result = model.CapacityNotReached
	}
}

// judgeStage decides whether the stage held the SLO: its corrected p99 at
// most the SLO's, its failed and missed operations a share of all its
// operations at most the SLO's, and its achieved throughput at least
// MinAchieved of the offered rate. Broke names each part it missed.
func judgeStage(slo model.SLO, st *model.CapacityStage) {
	st.ErrorShare, st.LateShare = 0, 0
	if st.Count > 0 {
		st.ErrorShare = float64(st.Errors+st.Missed) / float64(st.Count)
		st.LateShare = float64(st.Late) / float64(st.Count)
	}
	var broke []string
	if st.Count == 0 {
		broke = append(broke, "no operation recorded")
	}
	if st.Count > 0 && st.P99Us > slo.P99Us {
		broke = append(broke, fmt.Sprintf("p99 %v > %v", usDuration(st.P99Us), usDuration(slo.P99Us)))
	}
	if st.ErrorShare > slo.ErrorShare {
		broke = append(broke, fmt.Sprintf("errors %s > %s", pct(st.ErrorShare), pct(slo.ErrorShare)))
	}
	if st.Count > 0 && st.Achieved < slo.MinAchieved*st.Offered {
		broke = append(broke, fmt.Sprintf("achieved %s of offered < %s", pct(st.Achieved/st.Offered), pct(slo.MinAchieved)))
	}
	st.Held = len(broke) == 0
	st.Broke = strings.Join(broke, "; ")
}

func usDuration(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

func pct(f float64) string { return fmt.Sprintf("%.4g%%", f*100) }

// stagePhase and settlePhase name a stage's phases.
func stagePhase(s stageSpec) string {
	return fmt.Sprintf("stage %d (%g ops/s)", s.N, s.Rate)
}

func settlePhase(s stageSpec) string { return fmt.Sprintf("settle %d", s.N) }

// timelineAndStages runs the scenario's steps, then, for a capacity run,
// the stage search on the same load and clock.
func (r *run) timelineAndStages(ctx context.Context) error {
	if err := r.timeline(ctx); err != nil || r.o.Capacity == nil {
		return err
	}
	capc := r.rep.Capacity
	// what a broken stage left due is missed after max_lag; what is left
	// drains at (capacity - a quarter of it) in about another max_lag
	err := searchCapacity(ctx, r.o.Capacity, capc, r.runStage, 2*r.plan.Workload.MaxLag+time.Second)
	// the stage's numbers are as judged when it ended: what runs after
	// is a phase of its own
	r.rec.SetPhase("after the stages", r.clock())
	r.setStep("")
	capc.Notes = append(capc.Notes, capacityNotes(capc, max(r.plan.Workload.MaxConcurrency, r.plan.Workload.Concurrency))...)
	return err
}

// runStage sets the offered rate, lets it settle (a phase of its own),
// then measures the stage as one phase and returns its numbers as they
// stand when it ends.
func (r *run) runStage(ctx context.Context, s stageSpec) (model.CapacityStage, error) {
	r.setStep(fmt.Sprintf("stage %d: %g ops/s", s.N, s.Rate))
	if s.Recover > 0 {
		at := r.clock()
		r.schedule.Ramp(at, s.RecoverRate, 0)
		r.rec.SetPhase(fmt.Sprintf("recover %d (%g ops/s)", s.N, s.RecoverRate), at)
		if err := sleepCtx(ctx, s.Recover); err != nil {
			return model.CapacityStage{}, err
		}
	}
	at := r.clock()
	settle := settleFor(r.o.Capacity.Settle, r.plan.Workload.Concurrency, r.schedule.RateAt(at))
	r.schedule.Ramp(at, s.Rate, 0)
	if settle > 0 {
		r.rec.SetPhase(settlePhase(s), at)
		if err := sleepCtx(ctx, settle); err != nil {
			return model.CapacityStage{}, err
		}
	}
	name := stagePhase(s)
	from := r.clock()
	r.rec.SetPhase(name, from)
	if err := sleepCtx(ctx, r.o.Capacity.Stage); err != nil {
		return model.CapacityStage{}, err
	}
	to := r.clock()
	// the schedule offered s.Rate from the settle on: a constant rate
	st := model.CapacityStage{N: s.N, Phase: name, Bisect: s.Bisect, Offered: s.Rate, StartMs: from.Milliseconds(), EndMs: to.Milliseconds()}
	phases := r.rec.PhaseStats(to)
	stageNumbers(&st, phases[len(phases)-1].Total)
	return st, nil
}

// settleFor is how long a stage settles before it is measured: at least
// settle, and long enough for the operations the load generator's idle
// workers claimed at the old rate to be due. Each worker takes the next
// operation and waits for its intended start, so with concurrency workers
// at oldRate the schedule is claimed up to concurrency/oldRate seconds
// ahead: a rate change takes effect that much later, and until then the
// new rate's operations come on top of the old ones (seen: 500 ops/s for
// 4 s, then 1,500 for 4 s, on a change from 500 to 1,000 with 4,000
// workers). Dispatching operations to workers on demand would remove it.
func settleFor(settle time.Duration, concurrency int, oldRate float64) time.Duration {
	if oldRate <= 0 || concurrency <= 0 {
		return settle
	}
	claimed := time.Duration(float64(concurrency) / oldRate * float64(time.Second))
	return max(settle, claimed+claimed/4)
}

// stageNumbers copies a stage phase's totals into the stage.
func stageNumbers(st *model.CapacityStage, t model.OpStats) {
	st.Achieved, st.Count, st.Errors, st.Missed, st.Late = t.Throughput, t.Count, t.Errors, t.Missed, t.Late
	st.P50Us, st.P99Us, st.ServiceP50Us = t.P50Us, t.P99Us, t.ServiceP50Us
}

// capacityNotes says what the reader of the numbers should know: that the
// load generator's concurrency may be the limit (at the service time the
// broken stage measured, the most workers the pool may grow to cannot
// carry its offered rate).
func capacityNotes(capc *model.Capacity, concurrency int) []string {
	var notes []string
	for _, s := range capc.Stages {
		if s.Held || s.ServiceP50Us <= 0 || s.Offered <= 0 {
			continue
		}
		carry := float64(concurrency) / (float64(s.ServiceP50Us) / 1e6)
		if carry < 1.05*s.Offered {
			notes = append(notes, fmt.Sprintf("stage %d: %d workers at its median service time %v carry about %.0f ops/s, less than the %g offered: "+
				"the workload's max-concurrency may be the limit, not the database (raise workload.max-concurrency to tell)",
				s.N, concurrency, usDuration(s.ServiceP50Us), carry, s.Offered))
			break
		}
	}
	return notes
}
