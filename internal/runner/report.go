package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/measure"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/scenarios"
)

// finish fills the report from what the run measured. err is why the run
// did not complete (nil when it did).
func (r *run) finish(err error) {
	rep := r.rep
	rep.Run.End = time.Now().UTC()
	switch {
	case err == nil:
		rep.Complete, rep.Incomplete = true, ""
	case errors.Is(err, context.Canceled):
		rep.Incomplete = "interrupted"
	default:
		rep.Incomplete = err.Error()
	}
	rep.Events = append(rep.Events, r.log.events...)
	if r.rec == nil {
		return
	}
	end := r.loadEnd
	if !r.started {
		end = 0
	} else if end == 0 {
		end = r.clock()
	}
	if err := r.rec.LogErr(); err != nil {
		rep.Files.HdrLogError = "writing the interval log: " + err.Error()
	}
	rep.Run.DurationMs = end.Milliseconds()
	rep.Phases = r.rec.PhaseStats(end)
	nameServingNodes(rep.Phases, rep.Driver.NodeNames)
	rep.WindowMs = time.Second.Milliseconds()
	rep.Windows = r.rec.Windows()
	if rep.Windows == nil {
		rep.Windows = []model.Window{}
	}
	r.gauges.intoWindows(rep.Windows, rep.WindowMs)
	r.gauges.intoPhases(rep.Phases)
	rep.Events = r.gauges.noticesIntoEvents(rep.Events)
	r.targetsIntoWindows(rep.Windows, end)
	if r.gauges.errors > 0 {
		r.o.Logf("gauges: %d samples failed; the last: %s", r.gauges.errors, r.gauges.lastErr)
	}
	if r.ledger != nil {
		rep.Safety.AcknowledgedWrites = r.ledger.AcknowledgedWrites()
		rep.Safety.NotFoundReads = r.ledger.NotFoundReads()
		rep.Safety.StaleReads = r.ledger.StaleReads()
	}
	if sc, ok := r.client.(drivers.SiblingCounter); ok {
		rep.Safety.Siblings = sc.SiblingReads()
	}
	rep.Safety.Verifications = r.log.verifs
	rep.Operational = r.operational(end)
}

// baselineP99 is the p99 the run counts as normal: the phase named
// "baseline" if there is one, else the last phase that ended before the
// first fault, else the whole first phase.
func baselineP99(phases []model.Phase, firstFault time.Duration) int64 {
	for _, p := range phases {
		if p.Name == "baseline" && p.Total.Count > 0 {
			return p.Total.P99Us
		}
	}
	var best int64
	for _, p := range phases {
		if time.Duration(p.EndMs)*time.Millisecond <= firstFault && p.Total.Count > 0 {
			best = p.Total.P99Us
		}
	}
	if best == 0 && len(phases) > 0 {
		best = phases[0].Total.P99Us
	}
	return best
}

func (r *run) operational(end time.Duration) []model.Operational {
	out := []model.Operational{}
	if len(r.log.opSteps) == 0 {
		return out
	}
	firstFault := end
	for _, s := range r.log.opSteps {
		if s.kind == scenarios.KindFault {
			firstFault = time.Duration(s.ev.StartMs) * time.Millisecond
			break
		}
	}
	base := baselineP99(r.rep.Phases, firstFault)
	tl := r.rec.Timeline()
	minSlice := time.Duration(0)
	if rate := r.plan.Workload.Rate; rate > 0 {
		minSlice = time.Duration(2 / rate * float64(time.Second))
	}
	i64 := func(d time.Duration) *int64 {
		v := d.Milliseconds()
		if d < 0 {
			v = -1
		}
		return &v
	}
	for i, s := range r.log.opSteps {
		o := model.Operational{Step: s.ev.Step, Node: s.ev.Node, AtMs: s.ev.StartMs, Kind: string(s.kind), Method: s.method, Detail: s.detail}
		if !s.ev.Outcome.OK() {
			o.Detail = string(s.ev.Outcome)
		}
		switch s.kind {
		case scenarios.KindFault, scenarios.KindRecovery, scenarios.KindFailover:
			until := end
			if i+1 < len(r.log.opSteps) {
				next := r.log.opSteps[i+1]
				until = time.Duration(next.ev.StartMs) * time.Millisecond
				if s.kind == scenarios.KindFault && next.kind == scenarios.KindFailover && o.Detail == "" {
					// a dead primary's numbers stop where the failover's begin
					o.Detail = fmt.Sprintf("numbers until the %s at %s; the %s's say when writes came back",
						next.ev.Step, fmtSeconds(next.ev.StartMs), next.ev.Step)
				}
			}
			at := time.Duration(s.ev.StartMs) * time.Millisecond
			n := measure.Fault(tl, r.rep.Windows, time.Second, base, measure.Span{At: at, Until: until}, minSlice)
			o.TimeToFirstErrorMs = i64(n.TimeToFirstError)
			o.UnavailableMs = i64(n.Unavailable)
			o.RecoveryToBaselineMs = i64(n.RecoveryToBaseline)
			o.BaselineP99Us = base
			if s.kind == scenarios.KindFailover {
				o.FailoverMs = i64(n.FirstWriteAck)
			}
		default:
			d := s.duration
			if d == 0 {
				d = time.Duration(s.ev.EndMs-s.ev.StartMs) * time.Millisecond
			}
			o.DurationMs = i64(d)
			o.PeakP99Us = peakP99(r.rep.Windows, s.ev.StartMs, s.ev.StartMs+d.Milliseconds())
			o.BaselineP99Us = base
			if s.hasBytes {
				b := s.bytes
				o.Bytes = &b
			}
			o.FreezeMs = s.freezeMs
		}
		if s.handoff != nil {
			var d string
			o.HandoffMs, o.HandoffPartitions, d = s.handoff.result()
			if o.Detail != "" {
				d = o.Detail + "; " + d
			}
			o.Detail = d
		}
		out = append(out, o)
	}
	return out
}

// peakP99 is the highest p99 of the one-second windows that overlap
// [fromMs, toMs]: what a step cost the load while it ran (0 when no
// window overlaps).
func peakP99(ws []model.Window, fromMs, toMs int64) int64 {
	var peak int64
	for i, w := range ws {
		end := toMs + 1
		if i+1 < len(ws) {
			end = ws[i+1].StartMs
		}
		if end > fromMs && w.StartMs <= toMs && w.Count > 0 {
			peak = max(peak, w.P99Us)
		}
	}
	return peak
}

// fmtSeconds writes a run offset as "12.3 s".
func fmtSeconds(ms int64) string { return fmt.Sprintf("%.1f s", float64(ms)/1000) }

// targetsIntoWindows writes the target rate of each window: the operations
// the schedule made due in it per second (rate and ramp steps change it).
func (r *run) targetsIntoWindows(ws []model.Window, end time.Duration) {
	if r.schedule == nil {
		return
	}
	for i := range ws {
		from := time.Duration(ws[i].StartMs) * time.Millisecond
		to := end
		if i+1 < len(ws) {
			to = time.Duration(ws[i+1].StartMs) * time.Millisecond
		}
		if to <= from {
			continue
		}
		n := r.schedule.Count(to) - r.schedule.Count(from)
		ws[i].TargetRate = math.Round(n/(to-from).Seconds()*10) / 10
	}
}
