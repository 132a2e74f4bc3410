// Package judge is the statistics and verdicts over reports: it
// summarises the runs of a set (medians and their confidence intervals),
// compares one report against another or a set against a set
// (Mann-Whitney U, the shift's interval) within limits, builds the history
// of nights and says a report's safety and saturation verdicts. It reads
// reports and sets but draws and writes nothing: that is package render.
package judge

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/model"
)

// Comparison is the result of Compare: report B (the candidate) measured
// against report A (the reference).
type Comparison struct {
	// Incomparable says why A and B cannot be compared ("" when they can):
	// other scenarios, no shared phase or operation, nothing checked.
	Incomparable string
	A, B         RunRef
	Limits       Limits
	// SameTarget is false when A and B ran different drivers, providers,
	// databases or versions (the header says so; it is not an error).
	SameTarget  bool
	Notes       []string // things worth knowing that are not regressions
	Phases      []PhaseComparison
	Operational []OperationalComparison
	Safety      []MetricComparison
	// Regressions lists every regression in words, in table order.
	Regressions []string
	// Sets: A and B are run sets, compared with statistics at Alpha
	// (CompareSets); false for one report against one (Compare).
	Sets  bool
	Alpha float64
	// Capacity compares two capacity reports (evalrun capacity): the max
	// rate held and the first broken; nil otherwise (capacity.go).
	Capacity []MetricComparison
}

// RunRef identifies one side of a comparison.
type RunRef struct {
	ID         string
	Scenario   string
	Driver     string
	Provider   string
	DB         string
	DBVersion  string
	Complete   bool
	Incomplete string
	Runs       int // runs in the set; 0 for a single report
}

func (r RunRef) String() string {
	s := fmt.Sprintf("%s: %s %s (driver %s, provider %s)", r.ID, r.DB, r.DBVersion, r.Driver, r.Provider)
	switch {
	case r.Runs == 1:
		s += ", 1 run"
	case r.Runs > 1:
		s += fmt.Sprintf(", %d runs", r.Runs)
	}
	if !r.Complete {
		s += ", INCOMPLETE"
		if r.Incomplete != "" {
			s += ": " + format.OneLine(r.Incomplete)
		}
	}
	return s
}

// PhaseComparison holds the per-op comparisons of one phase present in both reports.
type PhaseComparison struct {
	Name string
	Ops  []OpComparison // op types in both, then "all" (the phase total)
}

// OpComparison compares one op type within a phase.
type OpComparison struct {
	Op      string
	Metrics []MetricComparison
}

// OperationalComparison compares the operational entries matched by
// step, node and order of occurrence.
type OperationalComparison struct {
	Step    string
	Node    int
	N       int // 1 for the first (step, node) entry, 2 for the second…
	Metrics []MetricComparison
}

// MetricComparison is one metric, side by side.
type MetricComparison struct {
	Metric     string // "p99", "throughput", "error rate", "unavailable_ms", "lost"…
	Kind       string // one of the Kind constants
	A, B       float64
	Change     float64 // relative change in % (latency, rate, ms), points (percent) or absolute (count, keys)
	ChangeText string  // Change formatted, or "new", "not recovered"…
	Limit      string  // the limit applied ("+10%"), "" when not checked
	Checked    bool
	Regression bool
	// Improvement: checked, and B is better than A by more than the
	// limit allows the other way (the mirror of a regression).
	Improvement bool
	// Inconclusive: checked, but the runs are too few for the test to
	// reach significance at the set comparison's alpha (never a regression).
	Inconclusive bool
	// Stat is the statistics of a set comparison; nil for one report against one.
	Stat *SetStat
}

// Verdict is "REGRESSION", "ok", or "—" when the metric has no limit.
func (m MetricComparison) Verdict() string {
	switch {
	case m.Regression:
		return "REGRESSION"
	case m.Inconclusive:
		return "too few runs"
	case m.Checked:
		return "ok"
	default:
		return "—"
	}
}

// Regressed reports whether B regressed against A on any limited metric.
func (c *Comparison) Regressed() bool { return len(c.Regressions) > 0 }

// VerdictLine summarises the comparison in one line.
// An incomparable pair says so, never OK or REGRESSION: the exit code
// (2) follows this line.
func (c *Comparison) VerdictLine() string {
	if c.Incomparable != "" {
		return "NOTHING TO COMPARE: " + c.Incomparable
	}
	if c.Sets {
		return c.setVerdictLine()
	}
	if c.Capacity != nil {
		return c.capacityVerdictLine()
	}
	if c.Regressed() {
		return fmt.Sprintf("REGRESSION: %d metric(s) of B are worse than A beyond their limits", len(c.Regressions))
	}
	return "OK: no regression of B against A within the limits"
}

func runRef(r *model.Report) RunRef {
	return RunRef{
		ID: r.Run.ID, Scenario: r.Scenario.Name, Driver: r.Driver.Name, Provider: r.Driver.Provider,
		DB: r.Driver.DB, DBVersion: r.Driver.DBVersion, Complete: r.Complete, Incomplete: r.Incomplete,
	}
}

// opsMinAbsMs is the smallest absolute worsening of an operational
// duration that can be a regression, to keep noise out.
const opsMinAbsMs = 500

// Compare measures b against a. A nil lim means DefaultLimits; an empty
// one checks nothing. Phases are taken in a's order, op types in the
// usual order; what only one side has is noted, never a regression.
func Compare(a, b *model.Report, lim Limits) *Comparison {
	if lim == nil {
		lim = DefaultLimits()
	}
	c := &Comparison{A: runRef(a), B: runRef(b), Limits: lim}

	if a.Scenario.Name != b.Scenario.Name {
		c.note("different scenarios: A ran %q, B ran %q", a.Scenario.Name, b.Scenario.Name)
	} else if a.Scenario.SHA256 != "" && b.Scenario.SHA256 != "" && a.Scenario.SHA256 != b.Scenario.SHA256 {
		c.note("scenario %q has a different text in A and B (SHA-256 differs)", a.Scenario.Name)
	}
	c.SameTarget = a.Driver.Name == b.Driver.Name && a.Driver.DB == b.Driver.DB &&
		a.Driver.DBVersion == b.Driver.DBVersion && a.Driver.Provider == b.Driver.Provider
	if !a.Complete {
		c.note("A is incomplete: %s", format.Status(a))
	}
	if !b.Complete {
		c.note("B is incomplete: %s", format.Status(b))
	}
	c.noteEnvironment(a, b)
	if a.Workload.TargetRate != b.Workload.TargetRate {
		c.note("different target rates: A %s ops/s, B %s ops/s", format.Rate(a.Workload.TargetRate), format.Rate(b.Workload.TargetRate))
	}
	if a.Capacity != nil || b.Capacity != nil {
		c.compareCapacity(a, b, lim)
		c.compareSafety(a.Safety, b.Safety, lim)
		c.compareConsistency(a.Consistency, b.Consistency, lim)
		return c
	}

	bPhases := map[string]*model.Phase{}
	for i := range b.Phases {
		bPhases[b.Phases[i].Name] = &b.Phases[i]
	}
	aPhases := map[string]bool{}
	for i := range a.Phases {
		pa := &a.Phases[i]
		aPhases[pa.Name] = true
		pb, ok := bPhases[pa.Name]
		if !ok {
			c.note("phase %q is only in A", pa.Name)
			continue
		}
		pc := PhaseComparison{Name: pa.Name}
		for _, op := range format.OpOrder(pa.Ops) {
			sb, ok := pb.Ops[op]
			if !ok {
				c.note("phase %s: op %q is only in A", pa.Name, op)
				continue
			}
			pc.Ops = append(pc.Ops, c.compareOp(pa.Name, op, pa.Ops[op], sb, lim))
		}
		for _, op := range format.OpOrder(pb.Ops) {
			if _, ok := pa.Ops[op]; !ok {
				c.note("phase %s: op %q is only in B", pa.Name, op)
			}
		}
		pc.Ops = append(pc.Ops, c.compareOp(pa.Name, "all", pa.Total, pb.Total, lim))
		if lag, ok := c.compareLag(pa, pb, lim); ok {
			pc.Ops = append(pc.Ops, lag)
		}
		c.Phases = append(c.Phases, pc)
	}
	for _, p := range b.Phases {
		if !aPhases[p.Name] {
			c.note("phase %q is only in B", p.Name)
		}
	}

	c.compareOperational(a.Operational, b.Operational, lim)
	c.compareSafety(a.Safety, b.Safety, lim)
	c.compareConsistency(a.Consistency, b.Consistency, lim)
	c.Incomparable = c.incomparable()
	return c
}

// Checks counts the metrics compared against a limit.
func (c *Comparison) Checks() int {
	n := 0
	count := func(ms []MetricComparison) {
		for _, m := range ms {
			if m.Checked {
				n++
			}
		}
	}
	for _, p := range c.Phases {
		for _, op := range p.Ops {
			count(op.Metrics)
		}
	}
	for _, o := range c.Operational {
		count(o.Metrics)
	}
	count(c.Safety)
	count(c.Capacity)
	return n
}

// incomparable says why a and b cannot be compared at all, or "": they
// share no phase or no operation, or nothing was checked against a
// limit. A nightly job that compares the wrong files must fail, not pass
// forever. Other scenario names alone do not make runs incomparable (two
// files that differ in a cluster option, shards=1 against shards=3, are
// the comparison asked for): the notes say so, and what the two share is
// judged, so the printed verdict and the exit code agree.
func (c *Comparison) incomparable() string {
	if len(c.Phases) == 0 {
		return "the reports share no phase"
	}
	ops := 0
	for _, p := range c.Phases {
		for _, op := range p.Ops {
			if op.Op != "all" && op.Op != ReplicaLagRow {
				ops++
			}
		}
	}
	if ops == 0 {
		return "the reports share no operation type in any phase"
	}
	if c.Checks() == 0 {
		return "no metric was checked against a limit"
	}
	return ""
}

func (c *Comparison) note(format string, args ...any) {
	c.Notes = append(c.Notes, fmt.Sprintf(format, args...))
}

func (c *Comparison) regress(where string, m MetricComparison) {
	c.Regressions = append(c.Regressions, fmt.Sprintf("%s %s: %s -> %s (%s, limit %s)",
		where, m.Metric, format.Value(m.Kind, m.A), format.Value(m.Kind, m.B), m.ChangeText, m.Limit))
}

func (c *Comparison) compareOp(phase, op string, a, b model.OpStats, lim Limits) OpComparison {
	oc := OpComparison{Op: op}
	where := phase + "/" + op
	oc.Metrics = append(oc.Metrics, countMetric("count", model.KindCount, float64(a.Count), float64(b.Count)))
	if a.Count == 0 || b.Count == 0 {
		if a.Count == 0 && b.Count == 0 {
			return oc
		}
		side := "A"
		if b.Count == 0 {
			side = "B"
		}
		c.note("%s: no completed operations in %s, latencies not compared", where, side)
		return oc
	}
	lat := []struct {
		name   string
		va, vb int64
	}{
		{"p50", a.P50Us, b.P50Us},
		{"p90", a.P90Us, b.P90Us},
		{"p99", a.P99Us, b.P99Us},
		{"p999", a.P999Us, b.P999Us},
		{"max", a.MaxUs, b.MaxUs},
	}
	for _, l := range lat {
		limit, has := lim[l.name]
		if l.name == "p90" && !has {
			continue // shown only when checked
		}
		m := relMetric(l.name, model.KindLatency, float64(l.va), float64(l.vb), limit, has, +1)
		if m.Regression {
			c.regress(where, m)
		}
		oc.Metrics = append(oc.Metrics, m)
	}
	limit, has := lim["throughput"]
	m := relMetric("throughput", model.KindRate, a.Throughput, b.Throughput, limit, has, -1)
	if m.Regression {
		c.regress(where, m)
	}
	oc.Metrics = append(oc.Metrics, m)

	ea, eb := format.ErrorRate(a.Errors, a.Count), format.ErrorRate(b.Errors, b.Count)
	m = MetricComparison{Metric: "error rate", Kind: model.KindPercent, A: ea, B: eb, Change: eb - ea}
	m.ChangeText = format.Points(m.Change)
	if limit, has := lim["errors"]; has {
		m.Checked = true
		m.Limit = "+" + strconv.FormatFloat(limit, 'g', -1, 64) + " pt"
		m.Regression = eb-ea > limit+1e-9
	}
	if m.Regression {
		c.regress(where, m)
	}
	oc.Metrics = append(oc.Metrics, m)
	return oc
}

// ReplicaLagRow names the row of a phase comparison that holds its peak
// replica lag, beside the op types and "all".
const ReplicaLagRow = "replica lag"

// lagGaugePrefix begins the name of every replica-lag gauge (in
// seconds): "lag_s.node2", "lag_s.shard2-r1".
const lagGaugePrefix = "lag_s."

// peakLag is the highest replica lag any gauge sampled in phase p, in
// seconds; ok is false when p has no lag gauge.
func peakLag(p *model.Phase) (peak float64, ok bool) {
	for name, g := range p.Gauges {
		if strings.HasPrefix(name, lagGaugePrefix) && g.Samples > 0 {
			peak, ok = max(peak, g.Max), true
		}
	}
	return peak, ok
}

// compareLag compares the peak replica lag of a phase, whichever replicas
// (or groups) the two sides had: lower is better, judged as an
// operational duration (the p99 limit and at least opsMinAbsMs worse), so
// that a lag of a few ms that doubles is noise. ok is false when neither
// side measured lag; a side without it is noted.
func (c *Comparison) compareLag(pa, pb *model.Phase, lim Limits) (OpComparison, bool) {
	la, okA := peakLag(pa)
	lb, okB := peakLag(pb)
	if !okA || !okB {
		if okA != okB {
			side := "A"
			if okB {
				side = "B"
			}
			c.note("phase %s: only %s measured replica lag, not compared", pa.Name, side)
		}
		return OpComparison{}, false
	}
	limit, has := lim["p99"]
	m := opsMetric("peak", int64(math.Round(la*1000)), int64(math.Round(lb*1000)), limit, has)
	if m.Regression {
		c.regress(pa.Name+"/"+ReplicaLagRow, m)
	}
	return OpComparison{Op: ReplicaLagRow, Metrics: []MetricComparison{m}}, true
}

// countMetric is a metric shown with its absolute change, never checked.
func countMetric(name, kind string, a, b float64) MetricComparison {
	m := MetricComparison{Metric: name, Kind: kind, A: a, B: b, Change: b - a}
	m.ChangeText = format.RelChange(a, b)
	return m
}

// relMetric compares a metric by relative change. dir is +1 when higher
// is worse (latency), -1 when lower is worse (throughput).
func relMetric(name, kind string, a, b, limit float64, has bool, dir float64) MetricComparison {
	m := MetricComparison{Metric: name, Kind: kind, A: a, B: b}
	m.ChangeText = format.RelChange(a, b)
	if a != 0 {
		m.Change = (b - a) * 100 / a
	}
	if !has {
		return m
	}
	m.Checked = true
	if dir > 0 {
		m.Limit = "+" + strconv.FormatFloat(limit, 'g', -1, 64) + "%"
	} else {
		m.Limit = "-" + strconv.FormatFloat(limit, 'g', -1, 64) + "%"
	}
	// From zero there is no relative change to judge.
	m.Regression = a != 0 && dir*m.Change > limit+1e-9
	m.Improvement = a != 0 && -dir*m.Change > limit+1e-9
	return m
}

type opsKey struct {
	step string
	node int
}

func (c *Comparison) compareOperational(a, b []model.Operational, lim Limits) {
	index := func(list []model.Operational) (map[opsKey][]model.Operational, []opsKey) {
		m := map[opsKey][]model.Operational{}
		var order []opsKey
		for _, o := range list {
			k := opsKey{o.Step, o.Node}
			if _, ok := m[k]; !ok {
				order = append(order, k)
			}
			m[k] = append(m[k], o)
		}
		return m, order
	}
	am, aorder := index(a)
	bm, border := index(b)
	limit, has := lim["p99"]
	for _, k := range aorder {
		for i, oa := range am[k] {
			name := fmt.Sprintf("%s %s", k.step, format.Node(k.node))
			if k.node == 0 {
				name = k.step
			}
			if len(am[k]) > 1 || len(bm[k]) > 1 {
				name += fmt.Sprintf(" #%d", i+1)
			}
			if i >= len(bm[k]) {
				c.note("operational %s (at %s) is only in A", name, format.Offset(oa.AtMs))
				continue
			}
			ob := bm[k][i]
			occ := OperationalComparison{Step: k.step, Node: k.node, N: i + 1}
			for _, f := range []struct {
				metric string
				va, vb *int64
			}{
				{"unavailable", oa.UnavailableMs, ob.UnavailableMs},
				{"failover", oa.FailoverMs, ob.FailoverMs},
				{"recovery to baseline p99", oa.RecoveryToBaselineMs, ob.RecoveryToBaselineMs},
			} {
				if f.va == nil || f.vb == nil {
					continue
				}
				m := opsMetric(f.metric, *f.va, *f.vb, limit, has)
				if m.Regression {
					c.regress("operational "+name, m)
				}
				occ.Metrics = append(occ.Metrics, m)
			}
			if len(occ.Metrics) > 0 {
				c.Operational = append(c.Operational, occ)
			}
		}
	}
	for _, k := range border {
		for i, ob := range bm[k] {
			if i < len(am[k]) {
				continue
			}
			name := k.step
			if k.node > 0 {
				name += " " + format.Node(k.node)
			}
			if len(am[k]) > 1 || len(bm[k]) > 1 {
				name += fmt.Sprintf(" #%d", i+1)
			}
			c.note("operational %s (at %s) is only in B", name, format.Offset(ob.AtMs))
		}
	}
}

// opsMetric compares an operational duration in ms (-1 = never). B
// regresses when it is worse than A by more than limit % and by more
// than opsMinAbsMs; never recovering is worse than any duration.
func opsMetric(name string, a, b int64, limit float64, has bool) MetricComparison {
	m := MetricComparison{Metric: name, Kind: model.KindMs, A: float64(a), B: float64(b)}
	switch {
	case a < 0 && b < 0:
		m.ChangeText = "0%"
	case b < 0:
		m.ChangeText = "not recovered"
	case a < 0:
		m.ChangeText = "recovered"
	default:
		m.ChangeText = format.RelChange(float64(a), float64(b))
		if a != 0 {
			m.Change = float64(b-a) * 100 / float64(a)
		}
	}
	if !has {
		return m
	}
	m.Checked = true
	m.Limit = fmt.Sprintf("+%g%% and +%s", limit, format.Millis(opsMinAbsMs))
	switch {
	case a < 0:
		m.Regression = false
	case b < 0:
		m.Regression = true
	default:
		m.Regression = float64(b) > float64(a)*(1+limit/100)+1e-9 && b-a > opsMinAbsMs
		m.Improvement = float64(a) > float64(b)*(1+limit/100)+1e-9 && a-b > opsMinAbsMs
	}
	return m
}

// Improvements lists in words, in table order, the phase metrics of B
// that are better than A's beyond their limits (a lower p99, a lower
// peak replica lag, a higher throughput): what a change bought.
func (c *Comparison) Improvements() []string {
	var out []string
	for _, p := range c.Phases {
		for _, o := range p.Ops {
			for _, m := range o.Metrics {
				if m.Improvement && !m.Inconclusive {
					out = append(out, fmt.Sprintf("%s/%s %s: %s -> %s (%s)", p.Name, o.Op, m.Metric,
						format.Value(m.Kind, m.A), format.Value(m.Kind, m.B), m.ChangeText))
				}
			}
		}
	}
	return out
}

func (c *Comparison) compareSafety(a, b model.Safety, lim Limits) {
	limit, has := lim["lost"]
	for _, f := range []struct {
		name   string
		va, vb int64
		check  bool
	}{
		{"lost", a.Lost, b.Lost, true},
		{"stale", a.Stale, b.Stale, true},
		{"quorum_notfound", a.QuorumNotFound, b.QuorumNotFound, false},
		{"read_stale", a.ReadStale, b.ReadStale, false},
		{"unreadable", a.Unreadable, b.Unreadable, false},
		{"notfound_reads", a.NotFoundReads, b.NotFoundReads, false},
	} {
		c.addSafety(keysMetric(f.name, f.va, f.vb, limit, f.check && has))
	}
	if a.Checked && !b.Checked {
		c.note("B's final read-back was not done: its safety numbers are partial")
	} else if !a.Checked && b.Checked {
		c.note("A's final read-back was not done: its safety numbers are partial")
	}
}

// keysMetric compares a count of keys (lost, stale, not linearizable),
// an absolute change; checked against limit (the "lost" limit), any rise
// beyond it is a regression.
func keysMetric(name string, a, b int64, limit float64, checked bool) MetricComparison {
	m := MetricComparison{Metric: name, Kind: model.KindKeys, A: float64(a), B: float64(b), Change: float64(b - a)}
	m.ChangeText = strconv.FormatInt(b-a, 10)
	if b > a {
		m.ChangeText = "+" + m.ChangeText
	}
	if checked {
		m.Checked = true
		m.Limit = "+" + strconv.FormatFloat(limit, 'g', -1, 64)
		m.Regression = float64(b) > float64(a)+limit
	}
	return m
}

// addSafety adds a safety metric, and its regression when it is one.
func (c *Comparison) addSafety(m MetricComparison) {
	if m.Regression {
		c.regress("safety", m)
	}
	c.Safety = append(c.Safety, m)
}

// noteEnvironment says where A and B ran differently: the machine (CPU
// model, cores, kernel), the Docker daemon, the image. Comparing machines
// is a legitimate use; it must be visible, not an error.
func (c *Comparison) noteEnvironment(a, b *model.Report) {
	c.noteMachines(machine{a.Run.CPUModel, a.Run.CPUs, a.Run.Kernel, a.Driver.Config["docker-server"], a.Driver.ImageID, a.Run.LoadAvg, a.Run.LoadAvg},
		machine{b.Run.CPUModel, b.Run.CPUs, b.Run.Kernel, b.Driver.Config["docker-server"], b.Driver.ImageID, b.Run.LoadAvg, b.Run.LoadAvg})
}

// machine is where a run (or a set) ran.
type machine struct {
	cpu     string
	cpus    int
	kernel  string
	docker  string
	imageID string
	// loadMin and loadMax: the 1-minute load average at the start of the
	// run, or its range over a set's runs; nil when not recorded.
	loadMin, loadMax *float64
}

func (c *Comparison) noteMachines(a, b machine) {
	differ := func(what, x, y string) {
		if x != "" && y != "" && x != y {
			c.note("different %s: A %s, B %s", what, x, y)
		}
	}
	differ("CPU", a.cpu, b.cpu)
	if a.cpus > 0 && b.cpus > 0 && a.cpus != b.cpus {
		c.note("different core counts: A %d, B %d", a.cpus, b.cpus)
	}
	differ("kernels", a.kernel, b.kernel)
	differ("Docker daemons", a.docker, b.docker)
	differ("images", a.imageID, b.imageID)
	if a.loadMin != nil && b.loadMin != nil && loadsDiffer(a, b) {
		c.note("different machine load at the start of the runs (1-minute load average): A %s, B %s; a busier machine is slower, and the statistics cannot tell that from a change",
			a.loadText(), b.loadText())
	}
}

// loadsDiffer: the load averages of a and b are far enough apart (by at
// least one runnable process per core and half the larger) to move latency.
func loadsDiffer(a, b machine) bool {
	lo, hi := min(*a.loadMin, *b.loadMin), max(*a.loadMax, *b.loadMax)
	gap := max(*b.loadMin-*a.loadMax, *a.loadMin-*b.loadMax) // between the ranges; <= 0 when they overlap
	cores := float64(max(a.cpus, b.cpus, 1))
	return gap >= cores && gap >= 0.5*hi && hi > lo
}

// loadText is the load average, or its range over a set's runs.
func (m machine) loadText() string {
	if *m.loadMin == *m.loadMax {
		return strconv.FormatFloat(*m.loadMin, 'f', 2, 64)
	}
	return strconv.FormatFloat(*m.loadMin, 'f', 2, 64) + "–" + strconv.FormatFloat(*m.loadMax, 'f', 2, 64)
}
