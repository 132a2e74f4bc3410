package measure

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/evalrun/evalrun/reports/model"
)

// Histogram ranges. Values are nanoseconds (the HdrHistogram log convention,
// so HdrHistogram's own tools read latency.hlog with their defaults). The
// highest trackable value is an hour: a stall never overflows a histogram.
const (
	lowestNs      = 1000 // 1 µs resolution
	highestNs     = int64(time.Hour)
	latencyDigits = 3
	serviceDigits = 2
)

func newLatencyHist() *hdr.Histogram { return hdr.New(lowestNs, highestNs, latencyDigits) }
func newServiceHist() *hdr.Histogram { return hdr.New(lowestNs, highestNs, serviceDigits) }

// newStartLagHist holds start lags (actual start - intended start) at
// nanosecond resolution up to an hour: the lag a precise dispatcher keeps
// is tens of microseconds, below the latency histograms' 1 µs floor.
func newStartLagHist() *hdr.Histogram { return hdr.New(1, highestNs, serviceDigits) }

// Config sets up a Recorder.
type Config struct {
	Ops    []string      // op type names; Record's op argument indexes this
	Start  time.Time     // the run clock's zero: offsets passed to Record are from it
	Window time.Duration // window length (default 1s)
	Slice  time.Duration // timeline resolution (default 100ms)
	Shards int           // independent recording shards (default 4); a power of two
	// HdrLog, when set, receives every window as an HdrHistogram interval
	// log (one tagged histogram per op type and an untagged one for all).
	HdrLog io.Writer
	// FirstPhase names the phase in force before any SetPhase (default "main").
	FirstPhase string
	// CPU reads the process's CPU time (default ProcessCPU), so each phase
	// can say what the harness itself spent on its operations.
	CPU func() CPUTime
	// LateThreshold: an operation sent more than this after its intended
	// start is late (default DefaultLateThreshold).
	LateThreshold time.Duration
	// WriteOps are the op types (indexes of Ops) that write: the timeline
	// keeps when their first acknowledgement after a moment came
	// (Failover).
	WriteOps []int
	// PerNode keeps, per phase, what each node served (Outcome.Node):
	// set it when the client says which node served each operation
	// (drivers.ServingClient).
	PerNode bool
	// NodeGroups names each node's group by 1-based index
	// (drivers.NodeGrouper; nil when the nodes form no groups): with
	// PerNode, each phase then has per-group statistics (model.GroupStats).
	NodeGroups map[int]string
}

// DefaultLateThreshold is when an operation counts as late.
const DefaultLateThreshold = 5 * time.Millisecond

// LateThreshold is when an operation counts as late: the one definition the
// load generator's schedule statistics and the recorder's per-phase and
// per-window counts share.
func (r *Recorder) LateThreshold() time.Duration { return r.cfg.LateThreshold }

// Recorder collects outcomes. Record is safe for concurrent use and does not
// allocate once a phase's histograms exist.
type Recorder struct {
	cfg    Config
	shards []shard
	mask   int

	curPhase atomic.Int32
	phaseMu  sync.Mutex
	phases   []phaseSpan

	timeline timeline

	rollMu     sync.Mutex
	winStart   time.Duration
	winAgg     []*hdr.Histogram // per op, reused every window
	winTotal   *hdr.Histogram
	windows    []model.Window
	lastWindow atomic.Pointer[model.Window]
	hlog       *hdr.HistogramLogWriter
	hlogErr    error
	rollCPU    CPUTime // the process's CPU time at the last Roll

	groups nodeGroups // Config.NodeGroups, indexed
}

type phaseSpan struct {
	name       string
	start, end time.Duration // end is -1 while the phase is open
	// cpuStart, cpuEnd: the process's CPU time when the phase began and
	// ended (for the open phase, at the last Roll).
	cpuStart, cpuEnd CPUTime
}

type shard struct {
	mu     sync.Mutex
	win    []opWindow
	phases [][]*opPhase   // [phase][op], allocated on first use
	nodes  [][]*nodePhase // [phase][node] (Config.PerNode), allocated on first use
	// groupWrites: [phase][group number] write latencies (Config.NodeGroups).
	groupWrites [][]*hdr.Histogram
	_           [64]byte // keep shards on separate cache lines
}

type opWindow struct {
	lat                    *hdr.Histogram
	ok, errs, missed, late int64
}

type opPhase struct {
	lat, svc *hdr.Histogram
	startLag *hdr.Histogram // of the operations sent
	count    int64
	byClass  [numClasses]int64
	notFound int64
	missed   int64 // not-found reads of acknowledged keys
	late     int64 // sent more than LateThreshold after the intended start
	stale    int64 // reads that returned a superseded value
	maxStale time.Duration
}

// NewRecorder returns a recorder whose clock starts at cfg.Start.
func NewRecorder(cfg Config) (*Recorder, error) {
	if len(cfg.Ops) == 0 {
		return nil, fmt.Errorf("measure: no op types")
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Second
	}
	if cfg.Slice <= 0 {
		cfg.Slice = 100 * time.Millisecond
	}
	if cfg.Shards <= 0 {
		cfg.Shards = 4
	}
	if cfg.Shards&(cfg.Shards-1) != 0 {
		return nil, fmt.Errorf("measure: shards must be a power of two, got %d", cfg.Shards)
	}
	if cfg.FirstPhase == "" {
		cfg.FirstPhase = "main"
	}
	if cfg.CPU == nil {
		cfg.CPU = ProcessCPU
	}
	if cfg.LateThreshold <= 0 {
		cfg.LateThreshold = DefaultLateThreshold
	}
	r := &Recorder{cfg: cfg, shards: make([]shard, cfg.Shards), mask: cfg.Shards - 1, groups: newNodeGroups(cfg.NodeGroups)}
	for i := range r.shards {
		r.shards[i].win = make([]opWindow, len(cfg.Ops))
		for j := range r.shards[i].win {
			r.shards[i].win[j].lat = newLatencyHist()
		}
	}
	r.winAgg = make([]*hdr.Histogram, len(cfg.Ops))
	for i := range r.winAgg {
		r.winAgg[i] = newLatencyHist()
	}
	r.winTotal = newLatencyHist()
	r.phases = []phaseSpan{{name: cfg.FirstPhase, start: 0, end: -1, cpuStart: cfg.CPU()}}
	r.timeline.slice = cfg.Slice
	if cfg.HdrLog != nil {
		r.hlog = hdr.NewHistogramLogWriter(cfg.HdrLog)
		base := cfg.Start.UnixMilli()
		r.hlog.SetBaseTime(base)
		r.hlogErr = firstErr(
			r.hlog.OutputLogFormatVersion(),
			r.hlog.OutputComment(fmt.Sprintf("[evalrun: values in nanoseconds, latency from the intended start; tags: %v; untagged = all ops]", cfg.Ops)),
			r.hlog.OutputStartTime(base),
			r.hlog.OutputBaseTime(base),
			r.hlog.OutputLegend(),
		)
	}
	return r, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// Ops returns the op type names.
func (r *Recorder) Ops() []string { return r.cfg.Ops }

// Since returns the offset of t on the recorder's clock.
func (r *Recorder) Since(t time.Time) time.Duration { return t.Sub(r.cfg.Start) }

// Outcome is one finished (or missed) operation. Times are offsets on the
// recorder's clock.
type Outcome struct {
	Op       int
	Intended time.Duration // when the schedule wanted it to start
	Start    time.Duration // when it was actually sent (== End for a missed op)
	End      time.Duration // when it completed or was given up
	Class    Class
	NotFound bool // a read that found no value
	// NotFoundAcked: that read missed a key whose write had been
	// acknowledged before the read began (the ledger says so).
	NotFoundAcked bool
	// Stale: that read returned a value superseded by a write
	// acknowledged before the read began; Staleness is at least how long
	// it had been superseded (safety.Ledger.StaleRead).
	Stale     bool
	Staleness time.Duration
	// Node is the 1-based index of the node that served the operation, 0
	// when unknown (Config.PerNode).
	Node int
}

// Record adds one outcome. hint spreads concurrent callers over shards
// (a worker's index is a good hint).
func (r *Recorder) Record(hint int, o Outcome) {
	lat := int64(o.End - o.Intended)
	if lat < lowestNs {
		lat = lowestNs
	}
	svc := int64(o.End - o.Start)
	if svc < lowestNs {
		svc = lowestNs
	}
	ph := int(r.curPhase.Load())
	sh := &r.shards[hint&r.mask]
	sh.mu.Lock()
	p := sh.phase(ph, o.Op)
	_ = p.lat.RecordValue(lat)
	if o.Class != Missed {
		_ = p.svc.RecordValue(svc)
		_ = p.startLag.RecordValue(max(int64(o.Start-o.Intended), 1))
	}
	late := o.Class != Missed && o.Start-o.Intended > r.cfg.LateThreshold
	p.count++
	p.byClass[o.Class]++
	if late {
		p.late++
	}
	if o.NotFound {
		p.notFound++
	}
	if o.NotFoundAcked {
		p.missed++
	}
	if o.Stale {
		p.stale++
		p.maxStale = max(p.maxStale, o.Staleness)
	}
	if r.cfg.PerNode && o.Class != Missed {
		r.recordNode(sh, ph, o.Op, o.Node, lat, svc, o.Class != OK)
	}
	w := &sh.win[o.Op]
	_ = w.lat.RecordValue(lat)
	if late {
		w.late++
	}
	switch o.Class {
	case OK:
		w.ok++
	case Missed:
		w.missed++
	default:
		w.errs++
	}
	sh.mu.Unlock()
	// The timeline judges the database: an operation the load generator
	// never sent is neither its success nor its error.
	if o.Class != Missed {
		r.timeline.add(o.End, o.Class == OK)
	}
	if o.Class == OK && slices.Contains(r.cfg.WriteOps, o.Op) {
		r.timeline.ackWrite(o.Start, o.End)
	}
}

func (sh *shard) phase(ph, op int) *opPhase {
	for len(sh.phases) <= ph {
		sh.phases = append(sh.phases, nil)
	}
	if sh.phases[ph] == nil {
		sh.phases[ph] = make([]*opPhase, len(sh.win))
	}
	p := sh.phases[ph][op]
	if p == nil {
		p = &opPhase{lat: newLatencyHist(), svc: newServiceHist(), startLag: newStartLagHist()}
		sh.phases[ph][op] = p
	}
	return p
}

// SetPhase starts phase name at offset at; the previous phase ends there.
// Outcomes recorded from now on count towards the new phase.
func (r *Recorder) SetPhase(name string, at time.Duration) {
	r.phaseMu.Lock()
	defer r.phaseMu.Unlock()
	last := &r.phases[len(r.phases)-1]
	if last.name == name {
		return
	}
	cpu := r.cfg.CPU()
	last.end, last.cpuEnd = at, cpu
	r.phases = append(r.phases, phaseSpan{name: name, start: at, end: -1, cpuStart: cpu})
	r.curPhase.Store(int32(len(r.phases) - 1))
}

// Phase returns the name of the phase in force.
func (r *Recorder) Phase() string {
	r.phaseMu.Lock()
	defer r.phaseMu.Unlock()
	return r.phases[len(r.phases)-1].name
}

// Roll closes the window that started at the previous Roll (or at 0) and
// ends at now: it merges the shards' window histograms, appends a summary
// and writes the interval log. The runner calls it once per window length
// and once at the end.
func (r *Recorder) Roll(now time.Duration) {
	r.rollMu.Lock()
	defer r.rollMu.Unlock()
	if now <= r.winStart {
		return
	}
	r.winTotal.Reset()
	var ok, errs, missed, late int64
	for op := range r.winAgg {
		agg := r.winAgg[op]
		agg.Reset()
		for i := range r.shards {
			sh := &r.shards[i]
			sh.mu.Lock()
			w := &sh.win[op]
			agg.Merge(w.lat)
			w.lat.Reset()
			ok += w.ok
			errs += w.errs
			missed += w.missed
			late += w.late
			w.ok, w.errs, w.missed, w.late = 0, 0, 0, 0
			sh.mu.Unlock()
		}
		if agg.TotalCount() > 0 {
			r.winTotal.Merge(agg)
			r.writeLog(agg, r.cfg.Ops[op], r.winStart, now)
		}
	}
	if r.winTotal.TotalCount() > 0 {
		r.writeLog(r.winTotal, "", r.winStart, now)
	}
	secs := (now - r.winStart).Seconds()
	w := model.Window{
		StartMs: r.winStart.Milliseconds(),
		Count:   ok + errs + missed,
		Errors:  errs,
		Missed:  missed,
		Late:    late,
		P50Us:   r.winTotal.ValueAtQuantile(50) / 1000,
		P99Us:   r.winTotal.ValueAtQuantile(99) / 1000,
		MaxUs:   r.winTotal.Max() / 1000,
		Rate:    math.Round(float64(ok)/secs*10) / 10,
		Phase:   r.Phase(),
	}
	r.windows = append(r.windows, w)
	r.lastWindow.Store(&w)
	r.winStart = now
	r.rollCPU = r.cfg.CPU()
}

func (r *Recorder) writeLog(h *hdr.Histogram, tag string, from, to time.Duration) {
	if r.hlog == nil || r.hlogErr != nil {
		return
	}
	base := r.cfg.Start.UnixMilli()
	h.SetTag(tag)
	h.SetStartTimeMs(base + from.Milliseconds())
	h.SetEndTimeMs(base + to.Milliseconds())
	r.hlogErr = r.hlog.OutputIntervalHistogram(h)
}

// LogErr reports the first error writing the interval log, if any.
func (r *Recorder) LogErr() error {
	r.rollMu.Lock()
	defer r.rollMu.Unlock()
	return r.hlogErr
}

// LastWindow returns the most recent window summary, or nil before the first.
func (r *Recorder) LastWindow() *model.Window { return r.lastWindow.Load() }

// Windows returns the window summaries so far.
func (r *Recorder) Windows() []model.Window {
	r.rollMu.Lock()
	defer r.rollMu.Unlock()
	return append([]model.Window(nil), r.windows...)
}

// PhaseSpan is a phase's name and bounds, and the CPU time the process
// used in it (the open phase's until the last Roll).
type PhaseSpan struct {
	Name       string
	Start, End time.Duration
	CPU        CPUTime
}

// Phases returns the phases with their bounds; the open one ends at end.
func (r *Recorder) Phases(end time.Duration) []PhaseSpan {
	r.rollMu.Lock() // before phaseMu, as in Roll
	rollCPU := r.rollCPU
	r.rollMu.Unlock()
	r.phaseMu.Lock()
	defer r.phaseMu.Unlock()
	out := make([]PhaseSpan, len(r.phases))
	for i, p := range r.phases {
		e, cpuEnd := p.end, p.cpuEnd
		if e < 0 {
			e, cpuEnd = end, rollCPU
		}
		cpu := cpuEnd.Sub(p.cpuStart)
		if cpu.User < 0 || cpu.Sys < 0 { // no Roll since the phase began
			cpu = CPUTime{}
		}
		out[i] = PhaseSpan{Name: p.name, Start: p.start, End: e, CPU: cpu}
	}
	return out
}

// PhaseStats merges the shards into per-phase statistics. Phases in which
// nothing was recorded are kept (with empty ops) so the timeline reads whole.
// end closes the open phase.
func (r *Recorder) PhaseStats(end time.Duration) []model.Phase {
	spans := r.Phases(end)
	out := make([]model.Phase, 0, len(spans))
	for ph, span := range spans {
		p := model.Phase{Name: span.Name, StartMs: span.Start.Milliseconds(), EndMs: span.End.Milliseconds(), Ops: map[string]model.OpStats{}}
		secs := (span.End - span.Start).Seconds()
		totalLat, totalSvc, startLag := newLatencyHist(), newServiceHist(), newStartLagHist()
		var total opPhase
		for op, name := range r.cfg.Ops {
			lat, svc := newLatencyHist(), newServiceHist()
			var agg opPhase
			for i := range r.shards {
				sh := &r.shards[i]
				sh.mu.Lock()
				if ph < len(sh.phases) && sh.phases[ph] != nil && sh.phases[ph][op] != nil {
					src := sh.phases[ph][op]
					lat.Merge(src.lat)
					svc.Merge(src.svc)
					startLag.Merge(src.startLag)
					agg.add(src)
				}
				sh.mu.Unlock()
			}
			if agg.count == 0 {
				continue
			}
			totalLat.Merge(lat)
			totalSvc.Merge(svc)
			total.add(&agg)
			p.Ops[name] = opStats(lat, svc, &agg, secs)
		}
		if total.count > 0 {
			p.Total = opStats(totalLat, totalSvc, &total, secs)
		}
		p.StartLag = lagStats(startLag)
		p.Nodes, p.Groups = r.nodeStats(ph, secs)
		if c := span.CPU; c.User > 0 || c.Sys > 0 {
			p.HarnessCPU = &model.HarnessCPU{UserUs: c.User.Microseconds(), SysUs: c.Sys.Microseconds()}
			if sent := total.count - total.byClass[Missed]; sent > 0 {
				p.HarnessCPU.PerOpUs = math.Round(float64(c.User+c.Sys)/float64(sent)/100) / 10
			}
		}
		out = append(out, p)
	}
	return out
}

// lagStats summarises a start-lag histogram; nil when it is empty.
func lagStats(h *hdr.Histogram) *model.LagStats {
	if h.TotalCount() == 0 {
		return nil
	}
	us := func(ns int64) int64 { return (ns + 500) / 1000 }
	return &model.LagStats{P50Us: us(h.ValueAtQuantile(50)), P99Us: us(h.ValueAtQuantile(99)), MaxUs: us(h.Max())}
}

func (a *opPhase) add(b *opPhase) {
	a.count += b.count
	a.notFound += b.notFound
	a.missed += b.missed
	a.late += b.late
	a.stale += b.stale
	a.maxStale = max(a.maxStale, b.maxStale)
	for c := range a.byClass {
		a.byClass[c] += b.byClass[c]
	}
}

func opStats(lat, svc *hdr.Histogram, p *opPhase, secs float64) model.OpStats {
	s := model.OpStats{
		Count:          p.count,
		NotFound:       p.notFound,
		NotFoundAcked:  p.missed,
		StaleReads:     p.stale,
		MaxStalenessUs: p.maxStale.Microseconds(),
		P50Us:          lat.ValueAtQuantile(50) / 1000,
		P90Us:          lat.ValueAtQuantile(90) / 1000,
		P99Us:          lat.ValueAtQuantile(99) / 1000,
		P999Us:         lat.ValueAtQuantile(99.9) / 1000,
		MaxUs:          lat.Max() / 1000,
		MeanUs:         math.Round(lat.Mean()/100) / 10,
		ServiceP50Us:   svc.ValueAtQuantile(50) / 1000,
		ServiceP99Us:   svc.ValueAtQuantile(99) / 1000,
		ServiceMaxUs:   svc.Max() / 1000,
	}
	s.Missed, s.Late = p.byClass[Missed], p.late
	for c := Class(1); c < numClasses; c++ {
		if n := p.byClass[c]; n > 0 && c != Missed {
			if s.ErrorsByClass == nil {
				s.ErrorsByClass = map[string]int64{}
			}
			s.ErrorsByClass[c.String()] = n
			s.Errors += n
		}
	}
	if secs > 0 {
		s.Throughput = math.Round(float64(p.byClass[OK])/secs*10) / 10
	}
	return s
}

// Timeline returns the success/error counts per slice so far.
func (r *Recorder) Timeline() Timeline { return r.timeline.snapshot() }

// Overall merges every phase and op type: the whole run in one line. end is
// the run's length so far (for throughput).
func (r *Recorder) Overall(end time.Duration) model.OpStats {
	lat, svc := newLatencyHist(), newServiceHist()
	var agg opPhase
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for _, ops := range sh.phases {
			for _, p := range ops {
				if p != nil {
					lat.Merge(p.lat)
					svc.Merge(p.svc)
					agg.add(p)
				}
			}
		}
		sh.mu.Unlock()
	}
	return opStats(lat, svc, &agg, end.Seconds())
}
