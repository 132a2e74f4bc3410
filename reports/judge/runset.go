package judge

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evalrun/evalrun/internal/stats"
	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/model"
)

// reportMetrics flattens r into the metrics a set summarises, each with
// one value, in report order: per phase and op (then "all"), per
// operational step, then safety.
func reportMetrics(r *model.Report) []model.SetMetric {
	var out []model.SetMetric
	add := func(m model.SetMetric, v float64) {
		m.Values = []*float64{&v}
		out = append(out, m)
	}
	for _, p := range r.Phases {
		ops := format.OpOrder(p.Ops)
		for _, op := range append(ops, "all") {
			st, ok := p.Ops[op]
			if op == "all" {
				st, ok = p.Total, true
			}
			if !ok || st.Count == 0 {
				continue
			}
			base := model.SetMetric{Group: model.GroupPhase, Phase: p.Name, Op: op, Kind: model.KindLatency}
			for _, l := range []struct {
				name string
				v    int64
			}{{"p50", st.P50Us}, {"p90", st.P90Us}, {"p99", st.P99Us}, {"p999", st.P999Us}, {"max", st.MaxUs}} {
				m := base
				m.Metric = l.name
				add(m, float64(l.v))
			}
			m := base
			m.Metric, m.Kind = "throughput", model.KindRate
			add(m, st.Throughput)
			m.Metric, m.Kind = "error rate", model.KindPercent
			add(m, format.ErrorRate(st.Errors, st.Count))
		}
		if peak, ok := peakLag(&p); ok {
			add(model.SetMetric{Group: model.GroupPhase, Phase: p.Name, Op: ReplicaLagRow, Metric: "peak", Kind: model.KindMs},
				math.Round(peak*1000))
		}
	}
	// Operational entries are matched by step and order, not by node: the
	// node a step hits (the leader, a random member) differs between runs.
	occ := map[string]int{}
	for _, o := range r.Operational {
		occ[o.Step]++
		base := model.SetMetric{Group: model.GroupOperational, Step: o.Step, Occurrence: occ[o.Step], Kind: model.KindMs}
		for _, f := range []struct {
			name string
			v    *int64
			kind string
		}{
			{"unavailable_ms", o.UnavailableMs, model.KindMs},
			{"recovery_to_baseline_ms", o.RecoveryToBaselineMs, model.KindMs},
			{"time_to_first_error_ms", o.TimeToFirstErrorMs, model.KindMs},
			{"handoff_ms", o.HandoffMs, model.KindMs},
			{"duration_ms", o.DurationMs, model.KindMs},
			{"bytes", o.Bytes, model.KindBytes},
		} {
			if f.v == nil {
				continue
			}
			m := base
			m.Metric, m.Kind = f.name, f.kind
			add(m, float64(*f.v))
		}
	}
	s := r.Safety
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"lost", s.Lost}, {"stale", s.Stale}, {"unreadable", s.Unreadable},
		{"quorum_notfound", s.QuorumNotFound}, {"read_stale", s.ReadStale}, {"notfound_reads", s.NotFoundReads}, {"stale_reads", s.StaleReads},
	} {
		add(model.SetMetric{Group: model.GroupSafety, Metric: f.name, Kind: model.KindKeys}, float64(f.v))
	}
	for _, f := range consistencyMetrics(r.Consistency) {
		add(model.SetMetric{Group: model.GroupSafety, Metric: f.name, Kind: model.KindKeys}, float64(f.v))
	}
	return out
}

// MetricKey identifies a metric across runs and sets.
func MetricKey(m model.SetMetric) string {
	return fmt.Sprintf("%s|%s|%s|%s|%d|%d|%s", m.Group, m.Phase, m.Op, m.Step, m.Node, m.Occurrence, m.Metric)
}

// setBuilder gathers runs one at a time: it keeps their metric values,
// never the reports.
type setBuilder struct {
	set   *model.RunSet
	index map[string]int // MetricKey -> position in set.Metrics
	shas  map[string]bool
}

func newSetBuilder(id string, requested int) *setBuilder {
	return &setBuilder{
		set:   &model.RunSet{Schema: model.RunsSchema, ID: id, Requested: requested, Confidence: stats.Confidence},
		index: map[string]int{}, shas: map[string]bool{},
	}
}

// add appends one run; r is nil when the run left no report.
func (sb *setBuilder) add(e model.RunEntry, r *model.Report) {
	s := sb.set
	i := len(s.Runs)
	if r != nil {
		e.ID, e.Start, e.End, e.Complete, e.Incomplete = r.Run.ID, r.Run.Start, r.Run.End, r.Complete, r.Incomplete
		if s.Scenario == "" {
			s.Scenario, s.Driver, s.Provider = r.Scenario.Name, r.Driver.Name, r.Driver.Provider
			s.DB, s.DBVersion, s.TargetRate = r.Driver.DB, r.Driver.DBVersion, r.Workload.TargetRate
		}
		if s.CPUModel == "" && s.CPUs == 0 {
			s.CPUModel, s.CPUs, s.Kernel = r.Run.CPUModel, r.Run.CPUs, r.Run.Kernel
			s.ImageID, s.Docker = r.Driver.ImageID, r.Driver.Config["docker-server"]
		}
		if l := r.Run.LoadAvg; l != nil {
			if s.LoadAvgMin == nil || *l < *s.LoadAvgMin {
				s.LoadAvgMin = l
			}
			if s.LoadAvgMax == nil || *l > *s.LoadAvgMax {
				s.LoadAvgMax = l
			}
		}
		sb.shas[r.Scenario.SHA256] = true
		if s.Start.IsZero() || r.Run.Start.Before(s.Start) {
			s.Start = r.Run.Start
		}
		if r.Run.End.After(s.End) {
			s.End = r.Run.End
		}
		for _, m := range reportMetrics(r) {
			v := *m.Values[0]
			k := MetricKey(m)
			j, ok := sb.index[k]
			if !ok {
				j = len(s.Metrics)
				sb.index[k] = j
				m.Values = nil
				s.Metrics = append(s.Metrics, m)
			}
			sm := &s.Metrics[j]
			for len(sm.Values) < i {
				sm.Values = append(sm.Values, nil)
			}
			sm.Values = append(sm.Values, &v)
		}
	}
	s.Runs = append(s.Runs, e)
}

// finish pads the value lists, summarises every metric and says whether
// the set is complete.
func (sb *setBuilder) finish(incomplete string) *model.RunSet {
	s := sb.set
	for i := range s.Metrics {
		m := &s.Metrics[i]
		for len(m.Values) < len(s.Runs) {
			m.Values = append(m.Values, nil)
		}
		summarizeMetric(m)
	}
	if len(sb.shas) == 1 {
		for sha := range sb.shas {
			s.ScenarioSHA256 = sha
		}
	}
	var why []string
	if incomplete != "" {
		why = append(why, incomplete)
	}
	if len(s.Runs) < s.Requested {
		why = append(why, fmt.Sprintf("%d of %d runs ran", len(s.Runs), s.Requested))
	}
	bad := 0
	for _, e := range s.Runs {
		if !e.Complete {
			bad++
		}
	}
	if bad > 0 {
		why = append(why, fmt.Sprintf("%d run(s) failed or incomplete", bad))
	}
	s.Complete = len(why) == 0
	s.Incomplete = strings.Join(why, "; ")
	return s
}

// sampleOf returns the metric's values for statistics: never-recovered
// durations (-1) rank above every duration, as +Inf.
func sampleOf(m model.SetMetric) []float64 {
	var v []float64
	for _, p := range m.Values {
		if p == nil {
			continue
		}
		x := *p
		if m.Kind == model.KindMs && x < 0 {
			x = math.Inf(1)
		}
		v = append(v, x)
	}
	return v
}

// FromSample turns a statistic back into the report's convention: +Inf
// (never recovered) is -1.
func FromSample(kind string, x float64) float64 {
	if kind == model.KindMs && math.IsInf(x, 1) {
		return -1
	}
	return x
}

func finiteOrNil(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

func summarizeMetric(m *model.SetMetric) {
	s := stats.Summarize(sampleOf(*m))
	m.N = s.N
	if s.N == 0 {
		m.Median, m.Min, m.Max = 0, 0, 0
		m.CILo, m.CIHi, m.CV = nil, nil, nil
		return
	}
	m.Median, m.Min, m.Max = FromSample(m.Kind, s.Median), FromSample(m.Kind, s.Min), FromSample(m.Kind, s.Max)
	m.CILo, m.CIHi, m.CV = finiteOrNil(s.Lo), finiteOrNil(s.Hi), finiteOrNil(s.CV)
}

// BuildRunSet summarises the runs of a set directory: entries name each
// run's directory (relative to dir) and, for a run that left no report,
// why. It reads the reports one at a time and keeps only their metrics,
// so a set of N runs costs N reports on disk, not in memory. incomplete,
// when not "", says why the set stopped early.
func BuildRunSet(dir, id string, requested int, entries []model.RunEntry, incomplete string) (*model.RunSet, error) {
	sb := newSetBuilder(id, requested)
	first := ""
	for _, e := range entries {
		path := filepath.Join(dir, e.Dir, reports.FileJSON)
		r, err := reports.ReadJSON(path)
		switch {
		case err == nil:
			if first == "" {
				first = r.Scenario.Name + " on " + r.Driver.Name + " (" + r.Driver.Provider + ")"
			} else if got := r.Scenario.Name + " on " + r.Driver.Name + " (" + r.Driver.Provider + ")"; got != first {
				return nil, fmt.Errorf("%s: %s ran %s, the runs before it %s: a set is one scenario on one target", dir, e.Dir, got, first)
			}
		case errors.Is(err, os.ErrNotExist):
			if e.Error == "" {
				e.Error = "no report.json"
			}
			r = nil
		default:
			return nil, err
		}
		sb.add(e, r)
	}
	return sb.finish(incomplete), nil
}

// SetOfReports makes a set of reports already in memory (one report
// compared with a set is a set of one).
func SetOfReports(id string, rs ...*model.Report) *model.RunSet {
	sb := newSetBuilder(id, len(rs))
	for i, r := range rs {
		sb.add(model.RunEntry{Dir: reports.RunDirName(i + 1)}, r)
	}
	return sb.finish("")
}

// MinRunsForCI is the fewest runs with a finite interval of the median.
func MinRunsForCI() int {
	for n := 2; n < 100; n++ {
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(i)
		}
		if s := stats.Summarize(v); !math.IsInf(s.Lo, 0) && !math.IsInf(s.Hi, 0) {
			return n
		}
	}
	return 100
}

// Headline reports whether a metric is one of the few a trend shows:
// p99 and throughput per phase and op, the unavailability of each fault,
// lost and stale keys, keys found not linearizable although promised.
func Headline(m model.SetMetric) bool {
	switch m.Group {
	case model.GroupPhase:
		return m.Metric == "p99" || (m.Metric == "throughput" && m.Op == "all")
	case model.GroupOperational:
		return m.Metric == "unavailable_ms"
	default:
		return m.Metric == "lost" || m.Metric == "stale" || m.Metric == MetricNotLinearizablePromised
	}
}

// RebuildRunSet summarises a set directory again from its run-i
// directories (after a crash, or to re-render with a newer evalrun). What
// an existing runs.json says of the set (its id, the runs asked for, why
// a run left no report) is kept.
func RebuildRunSet(dir string) (*model.RunSet, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var names []string
	for _, de := range des {
		if de.IsDir() && strings.HasPrefix(de.Name(), "run-") {
			names = append(names, de.Name())
		}
	}
	id, requested, incomplete := filepath.Base(filepath.Clean(dir)), 0, ""
	errs := map[string]string{}
	if old, err := reports.ReadRunSet(filepath.Join(dir, reports.FileRunsJSON)); err == nil {
		id, requested = old.ID, old.Requested
		for _, e := range old.Runs {
			errs[e.Dir] = e.Error
			if !slices.Contains(names, e.Dir) { // a run listed but gone is still counted
				names = append(names, e.Dir)
			}
		}
		if strings.Contains(old.Incomplete, "interrupted") {
			incomplete = "interrupted by a signal (SIGINT/SIGTERM)"
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no run-1 … run-N directories (not a set of runs)", dir)
	}
	slices.SortFunc(names, naturalCompare)
	requested = max(requested, len(names))
	entries := make([]model.RunEntry, len(names))
	for i, n := range names {
		entries[i] = model.RunEntry{Dir: n, Error: errs[n]}
	}
	return BuildRunSet(dir, id, requested, entries, incomplete)
}
