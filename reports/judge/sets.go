package judge

import (
	"fmt"
	"math"
	"strconv"

	"github.com/evalrun/evalrun/internal/stats"
	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/model"
)

// SetStat is the statistics of one metric of two run sets: the
// Mann-Whitney U test of B against A and the shift of B against A with
// its confidence interval (Hodges-Lehmann: the median of the pairwise
// differences), as benchstat compares Go benchmarks.
type SetStat struct {
	stats.Result
	// Worst: safety is judged on the worst run of each side (A and B of
	// the MetricComparison are then the worst values, not medians).
	Worst bool
}

// DefaultAlpha is the significance level of set comparisons.
const DefaultAlpha = 0.05

// NeedRunsLine says how many runs a test needs at alpha: "need ≥ 4 runs
// each for α=0.05".
func NeedRunsLine(alpha float64) string {
	return fmt.Sprintf("need ≥ %d runs each for α=%g", stats.MinRunsEach(alpha), alpha)
}

func setRef(s *model.RunSet) RunRef {
	return RunRef{ID: s.ID, Scenario: s.Scenario, Driver: s.Driver, Provider: s.Provider,
		DB: s.DB, DBVersion: s.DBVersion, Complete: s.Complete, Incomplete: s.Incomplete, Runs: len(s.Runs)}
}

// CompareSets measures set b against set a. Each metric of both is
// tested (Mann-Whitney U); a metric with a limit regresses only when the
// change is significant at alpha AND its median moved beyond the limit.
// With too few runs for the test to reach alpha, a metric is inconclusive,
// never a regression. Lost and stale keys are not statistical: the worst
// run of B against the worst of A, beyond the lost limit, is a regression.
// A nil lim means DefaultLimits; alpha <= 0 means DefaultAlpha.
func CompareSets(a, b *model.RunSet, lim Limits, alpha float64) *Comparison {
	if lim == nil {
		lim = DefaultLimits()
	}
	if !(alpha > 0 && alpha < 1) {
		alpha = DefaultAlpha
	}
	c := &Comparison{A: setRef(a), B: setRef(b), Limits: lim, Sets: true, Alpha: alpha}
	c.noteSets(a, b)
	bm := map[string]model.SetMetric{}
	for _, m := range b.Metrics {
		bm[MetricKey(m)] = m
	}
	tables := newSetTables()
	onlyA := map[string]bool{}
	for _, ma := range a.Metrics {
		mb, ok := bm[MetricKey(ma)]
		if !ok {
			c.noteOnlyIn("A", ma, onlyA)
			continue
		}
		mc, where := c.compareSetMetric(ma, mb, lim, alpha)
		if mc == nil {
			continue
		}
		tables.place(c, ma, *mc)
		if mc.Regression {
			c.regressSet(where, *mc)
		}
	}
	am := map[string]bool{}
	for _, m := range a.Metrics {
		am[MetricKey(m)] = true
	}
	onlyB := map[string]bool{}
	for _, m := range b.Metrics {
		if !am[MetricKey(m)] {
			c.noteOnlyIn("B", m, onlyB)
		}
	}
	c.Incomparable = c.incomparable()
	return c
}

// noteSets notes how the two sets differ beyond their metrics: scenario,
// target, completeness, machines, target rate.
func (c *Comparison) noteSets(a, b *model.RunSet) {
	if a.Scenario != b.Scenario {
		c.note("different scenarios: A ran %q, B ran %q", a.Scenario, b.Scenario)
	} else if a.ScenarioSHA256 != "" && b.ScenarioSHA256 != "" && a.ScenarioSHA256 != b.ScenarioSHA256 {
		c.note("scenario %q has a different text in A and B (SHA-256 differs)", a.Scenario)
	}
	c.SameTarget = a.Driver == b.Driver && a.DB == b.DB && a.DBVersion == b.DBVersion && a.Provider == b.Provider
	if !a.Complete {
		c.note("A is incomplete: %s", a.Incomplete)
	}
	if !b.Complete {
		c.note("B is incomplete: %s", b.Incomplete)
	}
	c.noteMachines(machine{a.CPUModel, a.CPUs, a.Kernel, a.Docker, a.ImageID, a.LoadAvgMin, a.LoadAvgMax},
		machine{b.CPUModel, b.CPUs, b.Kernel, b.Docker, b.ImageID, b.LoadAvgMin, b.LoadAvgMax})
	if a.TargetRate != b.TargetRate {
		c.note("different target rates: A %s ops/s, B %s ops/s", format.Rate(a.TargetRate), format.Rate(b.TargetRate))
	}
}

// setTables places the metric comparisons of two sets into the
// comparison's tables, in the order the metrics first come.
type setTables struct {
	phaseAt, opAt, opsAt map[string]int
}

func newSetTables() *setTables {
	return &setTables{phaseAt: map[string]int{}, opAt: map[string]int{}, opsAt: map[string]int{}}
}

// place adds mc, the comparison of the metric m, to its phase and op, its
// operational step, or the safety table.
func (t *setTables) place(c *Comparison, m model.SetMetric, mc MetricComparison) {
	switch m.Group {
	case model.GroupPhase:
		pi, ok := t.phaseAt[m.Phase]
		if !ok {
			pi = len(c.Phases)
			t.phaseAt[m.Phase] = pi
			c.Phases = append(c.Phases, PhaseComparison{Name: m.Phase})
		}
		p := &c.Phases[pi]
		oi, ok := t.opAt[m.Phase+"|"+m.Op]
		if !ok {
			oi = len(p.Ops)
			t.opAt[m.Phase+"|"+m.Op] = oi
			p.Ops = append(p.Ops, OpComparison{Op: m.Op})
		}
		p.Ops[oi].Metrics = append(p.Ops[oi].Metrics, mc)
	case model.GroupOperational:
		k := format.OpsLabel(m)
		oi, ok := t.opsAt[k]
		if !ok {
			oi = len(c.Operational)
			t.opsAt[k] = oi
			c.Operational = append(c.Operational, OperationalComparison{Step: m.Step, Node: m.Node, N: m.Occurrence})
		}
		c.Operational[oi].Metrics = append(c.Operational[oi].Metrics, mc)
	default:
		c.Safety = append(c.Safety, mc)
	}
}

// noteOnlyIn notes once per phase, op or step what only one side has.
func (c *Comparison) noteOnlyIn(side string, m model.SetMetric, seen map[string]bool) {
	var what string
	switch m.Group {
	case model.GroupPhase:
		what = fmt.Sprintf("phase %s: op %q", m.Phase, m.Op)
	case model.GroupOperational:
		what = "operational " + format.OpsLabel(m) + " " + m.Metric
	default:
		what = "safety " + m.Metric
	}
	if !seen[what] {
		seen[what] = true
		c.note("%s is only in %s", what, side)
	}
}

func (c *Comparison) regressSet(where string, m MetricComparison) {
	s := fmt.Sprintf("%s %s: %s -> %s (%s, limit %s", where, m.Metric, format.Value(m.Kind, m.A), format.Value(m.Kind, m.B), m.ChangeText, m.Limit)
	if st := m.Stat; st != nil && !st.Worst {
		s += fmt.Sprintf(", %s, p=%s n=%d+%d", ShiftCIText(m), format.P(st.P), st.NA, st.NB)
	} else if st != nil {
		s += ", worst run"
	}
	c.Regressions = append(c.Regressions, s+")")
}

// compareSetMetric compares one metric of both sets; nil for a metric not
// shown (p90 unless limited). where names the row for the regression list.
func (c *Comparison) compareSetMetric(ma, mb model.SetMetric, lim Limits, alpha float64) (*MetricComparison, string) {
	where := ""
	switch ma.Group {
	case model.GroupPhase:
		where = ma.Phase + "/" + ma.Op
	case model.GroupOperational:
		where = "operational " + format.OpsLabel(ma)
	default:
		where = "safety"
	}
	name := ma.Metric
	if ma.Group == model.GroupOperational {
		name = format.OpsMetricName(ma.Metric)
	}
	m := &MetricComparison{Metric: name, Kind: ma.Kind, A: ma.Median, B: mb.Median}
	if ma.Group == model.GroupSafety {
		worstRun(m, ma, mb, lim, alpha)
		return m, where
	}
	r := stats.Compare(sampleOf(ma), sampleOf(mb), alpha)
	m.Stat = &SetStat{Result: r}

	var beyond, better bool // the medians moved beyond the limit, the wrong way or the right one
	switch ma.Kind {
	case model.KindPercent:
		m.Change = m.B - m.A
		m.ChangeText = format.Points(m.Change)
		if limit, has := lim["errors"]; has {
			m.Checked = true
			m.Limit = "+" + strconv.FormatFloat(limit, 'g', -1, 64) + " pt"
			beyond = m.Change > limit+1e-9
		}
	case model.KindMs:
		limit, has := lim["p99"]
		checked := has && (ma.Metric == "unavailable_ms" || ma.Metric == "recovery_to_baseline_ms" || ma.Op == ReplicaLagRow)
		om := opsMetric(name, int64(m.A), int64(m.B), limit, checked)
		m.Change, m.ChangeText, m.Checked, m.Limit, beyond, better = om.Change, om.ChangeText, om.Checked, om.Limit, om.Regression, om.Improvement
	default:
		dir, limName := 1.0, ma.Metric
		switch ma.Kind {
		case model.KindRate:
			dir = -1
		case model.KindBytes:
			limName = "" // a size, never a regression
		}
		if ma.Metric == "p90" {
			if _, has := lim["p90"]; !has {
				return nil, where // shown only when checked, as for one report
			}
		}
		limit, has := lim[limName]
		rm := relMetric(name, ma.Kind, m.A, m.B, limit, has, dir)
		m.Change, m.ChangeText, m.Checked, m.Limit, beyond, better = rm.Change, rm.ChangeText, rm.Checked, rm.Limit, rm.Regression, rm.Improvement
	}
	if m.Checked {
		m.Inconclusive = r.TooFew
		m.Regression = !r.TooFew && r.Significant && beyond
		m.Improvement = !r.TooFew && r.Significant && better
	}
	return m, where
}

// opsMetricName keeps the names one-report compare uses for the checked
// operational metrics.

// worstRun judges a safety metric, which is not statistical: the worst
// run of each side, against the "lost" limit for lost and stale keys and
// for keys found not linearizable although linearizability was promised.
func worstRun(m *MetricComparison, ma, mb model.SetMetric, lim Limits, alpha float64) {
	m.A, m.B = worstValue(ma), worstValue(mb)
	m.Change = m.B - m.A
	m.ChangeText = strconv.FormatFloat(m.Change, 'f', 0, 64)
	if m.Change > 0 {
		m.ChangeText = "+" + m.ChangeText
	}
	m.Stat = &SetStat{Result: stats.Result{NA: ma.N, NB: mb.N, Alpha: alpha}, Worst: true}
	if limit, has := lim["lost"]; has && (ma.Metric == "lost" || ma.Metric == "stale" || ma.Metric == MetricNotLinearizablePromised) {
		m.Checked = true
		m.Limit = "+" + strconv.FormatFloat(limit, 'g', -1, 64) + " in any run"
		m.Regression = m.B > m.A+limit
	}
}

func worstValue(m model.SetMetric) float64 {
	w := 0.0
	for _, v := range m.Values {
		if v != nil && *v > w {
			w = *v
		}
	}
	return w
}

// ShiftCIText is the confidence interval of the shift of B against A,
// relative to A's median for relative metrics: "[+8.1% … +22.4%]".
func ShiftCIText(m MetricComparison) string {
	st := m.Stat
	if st == nil || st.Worst || math.IsNaN(st.ShiftLo) {
		return "—"
	}
	if math.IsInf(st.ShiftLo, -1) && math.IsInf(st.ShiftHi, 1) {
		return "no CI (too few runs)"
	}
	conf := fmt.Sprintf("%g%% CI ", 100*(1-st.Alpha))
	var f func(float64) string
	switch {
	case m.Kind == model.KindPercent:
		f = format.Points
	case m.Kind == model.KindKeys:
		f = func(v float64) string { return fmt.Sprintf("%+g", v) }
	case m.A <= 0:
		f = func(v float64) string { return format.Signed(m.Kind, v) }
	default:
		f = func(d float64) string {
			s := strconv.FormatFloat(d*100/m.A, 'f', 1, 64) + "%"
			if d > 0 {
				s = "+" + s
			}
			return s
		}
	}
	// An infinite bound: a run never recovered (its duration ranks above all).
	bound := func(v float64) string {
		switch {
		case math.IsInf(v, 1):
			return "+∞"
		case math.IsInf(v, -1):
			return "-∞"
		}
		return f(v)
	}
	return conf + "[" + bound(st.ShiftLo) + " … " + bound(st.ShiftHi) + "]"
}

// setVerdictLine is the one-line verdict of a set comparison.
func (c *Comparison) setVerdictLine() string {
	checked, inconclusive := 0, 0
	c.EachMetric(func(_ string, m MetricComparison) {
		if m.Checked {
			checked++
		}
		if m.Inconclusive {
			inconclusive++
		}
	})
	switch {
	case c.Regressed():
		return fmt.Sprintf("REGRESSION: %d metric(s) of B are significantly worse than A (α=%g) and beyond their limits", len(c.Regressions), c.Alpha)
	case inconclusive > 0 && inconclusive == checked-c.safetyChecks():
		return fmt.Sprintf("INCONCLUSIVE: too few runs to tell a change from noise (%s; A has %d, B has %d); no safety regression",
			NeedRunsLine(c.Alpha), c.A.Runs, c.B.Runs)
	case inconclusive > 0:
		return fmt.Sprintf("OK: no significant regression of B against A (α=%g); %d metric(s) inconclusive (%s)", c.Alpha, inconclusive, NeedRunsLine(c.Alpha))
	}
	return fmt.Sprintf("OK: no significant change beyond the limits of B against A (α=%g)", c.Alpha)
}

func (c *Comparison) safetyChecks() int {
	n := 0
	for _, m := range c.Safety {
		if m.Checked {
			n++
		}
	}
	return n
}

// EachMetric calls f with the row name of every metric, in table order.
func (c *Comparison) EachMetric(f func(class string, m MetricComparison)) {
	for _, p := range c.Phases {
		for _, op := range p.Ops {
			for _, m := range op.Metrics {
				f("phase "+p.Name+"."+op.Op, m)
			}
		}
	}
	for _, o := range c.Operational {
		class := "operational " + o.Step
		if o.Node > 0 {
			class += fmt.Sprintf(" n%d", o.Node)
		}
		if o.N > 1 {
			class += fmt.Sprintf(" #%d", o.N)
		}
		for _, m := range o.Metrics {
			f(class, m)
		}
	}
	for _, m := range c.Safety {
		f("safety", m)
	}
	for _, m := range c.Capacity {
		f("capacity", m)
	}
}
