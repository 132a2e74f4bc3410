package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/evalrun/evalrun/internal/stats"
	"github.com/evalrun/evalrun/reports/model"
)

// Run sets: the names of reports/model, and the files of a set directory.
type (
	RunSet    = model.RunSet
	RunEntry  = model.RunEntry
	SetMetric = model.SetMetric
)

// RunsSchema is model.RunsSchema.
const RunsSchema = model.RunsSchema

// Files of a run-set directory (next to run-1 … run-N).
const (
	FileRunsJSON     = "runs.json"
	FileRunsMarkdown = "runs.md"
	FileRunsHTML     = "runs.html"
)

// KindBytes is a size in bytes (a backup), higher is not worse.
const KindBytes = "bytes"

// RunDirName is the directory of the i-th run (1-based) of a set.
func RunDirName(i int) string { return "run-" + strconv.Itoa(i) }

// reportMetrics flattens r into the metrics a set summarises, each with
// one value, in report order: per phase and op (then "all"), per
// operational step, then safety.
func reportMetrics(r *Report) []SetMetric {
	var out []SetMetric
	add := func(m SetMetric, v float64) {
		m.Values = []*float64{&v}
		out = append(out, m)
	}
	for _, p := range r.Phases {
		ops := opOrder(p.Ops)
		for _, op := range append(ops, "all") {
			st, ok := p.Ops[op]
			if op == "all" {
				st, ok = p.Total, true
			}
			if !ok || st.Count == 0 {
				continue
			}
			base := SetMetric{Group: model.GroupPhase, Phase: p.Name, Op: op, Kind: KindLatency}
			for _, l := range []struct {
				name string
				v    int64
			}{{"p50", st.P50Us}, {"p90", st.P90Us}, {"p99", st.P99Us}, {"p999", st.P999Us}, {"max", st.MaxUs}} {
				m := base
				m.Metric = l.name
				add(m, float64(l.v))
			}
			m := base
			m.Metric, m.Kind = "throughput", KindRate
			add(m, st.Throughput)
			m.Metric, m.Kind = "error rate", KindPercent
			add(m, errorRate(st.Errors, st.Count))
		}
	}
	// Operational entries are matched by step and order, not by node: the
	// node a step hits (the leader, a random member) differs between runs.
	occ := map[string]int{}
	for _, o := range r.Operational {
		occ[o.Step]++
		base := SetMetric{Group: model.GroupOperational, Step: o.Step, Occurrence: occ[o.Step], Kind: KindMs}
		for _, f := range []struct {
			name string
			v    *int64
			kind string
		}{
			{"unavailable_ms", o.UnavailableMs, KindMs},
			{"recovery_to_baseline_ms", o.RecoveryToBaselineMs, KindMs},
			{"time_to_first_error_ms", o.TimeToFirstErrorMs, KindMs},
			{"handoff_ms", o.HandoffMs, KindMs},
			{"duration_ms", o.DurationMs, KindMs},
			{"bytes", o.Bytes, KindBytes},
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
		add(SetMetric{Group: model.GroupSafety, Metric: f.name, Kind: KindKeys}, float64(f.v))
	}
	return out
}

// metricKey identifies a metric across runs and sets.
func metricKey(m SetMetric) string {
	return fmt.Sprintf("%s|%s|%s|%s|%d|%d|%s", m.Group, m.Phase, m.Op, m.Step, m.Node, m.Occurrence, m.Metric)
}

// setBuilder gathers runs one at a time: it keeps their metric values,
// never the reports.
type setBuilder struct {
	set   *RunSet
	index map[string]int // metricKey -> position in set.Metrics
	shas  map[string]bool
}

func newSetBuilder(id string, requested int) *setBuilder {
	return &setBuilder{
		set:   &RunSet{Schema: RunsSchema, ID: id, Requested: requested, Confidence: stats.Confidence},
		index: map[string]int{}, shas: map[string]bool{},
	}
}

// add appends one run; r is nil when the run left no report.
func (sb *setBuilder) add(e RunEntry, r *Report) {
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
			k := metricKey(m)
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
func (sb *setBuilder) finish(incomplete string) *RunSet {
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
func sampleOf(m SetMetric) []float64 {
	var v []float64
	for _, p := range m.Values {
		if p == nil {
			continue
		}
		x := *p
		if m.Kind == KindMs && x < 0 {
			x = math.Inf(1)
		}
		v = append(v, x)
	}
	return v
}

// fromSample turns a statistic back into the report's convention: +Inf
// (never recovered) is -1.
func fromSample(kind string, x float64) float64 {
	if kind == KindMs && math.IsInf(x, 1) {
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

func summarizeMetric(m *SetMetric) {
	s := stats.Summarize(sampleOf(*m))
	m.N = s.N
	if s.N == 0 {
		m.Median, m.Min, m.Max = 0, 0, 0
		m.CILo, m.CIHi, m.CV = nil, nil, nil
		return
	}
	m.Median, m.Min, m.Max = fromSample(m.Kind, s.Median), fromSample(m.Kind, s.Min), fromSample(m.Kind, s.Max)
	m.CILo, m.CIHi, m.CV = finiteOrNil(s.Lo), finiteOrNil(s.Hi), finiteOrNil(s.CV)
}

// BuildRunSet summarises the runs of a set directory: entries name each
// run's directory (relative to dir) and, for a run that left no report,
// why. It reads the reports one at a time and keeps only their metrics,
// so a set of N runs costs N reports on disk, not in memory. incomplete,
// when not "", says why the set stopped early.
func BuildRunSet(dir, id string, requested int, entries []RunEntry, incomplete string) (*RunSet, error) {
	sb := newSetBuilder(id, requested)
	first := ""
	for _, e := range entries {
		path := filepath.Join(dir, e.Dir, FileJSON)
		r, err := ReadJSON(path)
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
func SetOfReports(id string, rs ...*Report) *RunSet {
	sb := newSetBuilder(id, len(rs))
	for i, r := range rs {
		sb.add(RunEntry{Dir: RunDirName(i + 1)}, r)
	}
	return sb.finish("")
}

// WriteRunSet writes runs.json, runs.md and runs.html into dir, each
// atomically; the JSON even when a rendering fails.
func WriteRunSet(dir string, s *RunSet) error {
	var errs []error
	data, err := marshalIndented(s, "run set")
	if err == nil {
		err = WriteFileAtomic(filepath.Join(dir, FileRunsJSON), data)
	}
	errs = append(errs, err)
	errs = append(errs, WriteFileAtomic(filepath.Join(dir, FileRunsMarkdown), RunSetMarkdown(s)))
	if page, err := RunSetHTML(s); err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, WriteFileAtomic(filepath.Join(dir, FileRunsHTML), page))
	}
	return errors.Join(errs...)
}

// ReadRunSet reads a runs.json. Another schema major version is a
// *SchemaError.
func ReadRunSet(path string) (*RunSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read run set: %w", err)
	}
	if err := checkSchema(path, data, RunsSchema); err != nil {
		return nil, err
	}
	var s RunSet
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("read run set %s: %w", path, err)
	}
	return &s, nil
}

// metricLabel names a metric for a human: "steady/read p99",
// "kill n1 unavailable_ms", "safety lost".
func metricLabel(m SetMetric) string {
	switch m.Group {
	case model.GroupPhase:
		return m.Phase + "/" + m.Op + " " + m.Metric
	case model.GroupOperational:
		return opsLabel(m) + " " + m.Metric
	default:
		return "safety " + m.Metric
	}
}

func opsLabel(m SetMetric) string {
	s := m.Step
	if m.Node > 0 {
		s += " " + fmtNode(m.Node)
	}
	if m.Occurrence > 1 {
		s += fmt.Sprintf(" #%d", m.Occurrence)
	}
	return s
}

// fmtSetValue formats a value of a set metric (bytes as sizes).
func fmtSetValue(kind string, v float64) string {
	if kind == KindBytes {
		return fmtBytes(int64(v))
	}
	return fmtValue(kind, v)
}

func fmtCI(m SetMetric) string {
	if m.CILo == nil || m.CIHi == nil {
		if m.N == 0 {
			return "—"
		}
		return fmt.Sprintf("need ≥ %d runs", minRunsForCI())
	}
	return fmtSetValue(m.Kind, fromSample(m.Kind, *m.CILo)) + " – " + fmtSetValue(m.Kind, fromSample(m.Kind, *m.CIHi))
}

// minRunsForCI is the fewest runs with a finite interval of the median.
func minRunsForCI() int {
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

func fmtCV(m SetMetric) string {
	if m.CV == nil {
		return "—"
	}
	return strconv.FormatFloat(*m.CV*100, 'f', 1, 64) + "%"
}

func fmtRunValues(m SetMetric) string {
	parts := make([]string, len(m.Values))
	for i, v := range m.Values {
		if v == nil {
			parts[i] = "—"
		} else {
			parts[i] = fmtSetValue(m.Kind, *v)
		}
	}
	return strings.Join(parts, ", ")
}

// runSetStatus is one line about the set's completeness.
func runSetStatus(s *RunSet) string {
	if s.Complete {
		return fmt.Sprintf("%d of %d runs complete", len(s.Runs), s.Requested)
	}
	return "INCOMPLETE: " + s.Incomplete
}

func runEntryStatus(e RunEntry) string {
	switch {
	case e.Error != "":
		return "FAILED: " + oneLine(e.Error)
	case !e.Complete:
		return "incomplete: " + oneLine(e.Incomplete)
	default:
		return "complete"
	}
}

// RunSetMarkdown renders the set: its runs, then per metric median, the
// confidence interval of the median, min, max, the coefficient of
// variation and every run's value.
func RunSetMarkdown(s *RunSet) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# evalrun runs: %s on %s (%d runs)\n\n", mdText(s.Scenario), mdText(setTarget(s)), len(s.Runs))
	if !s.Complete {
		fmt.Fprintf(&b, "> **INCOMPLETE**: %s — every run is counted below.\n\n", mdText(s.Incomplete))
	}
	fmt.Fprintf(&b, "- **Set:** %s, %s\n", mdText(s.ID), mdText(runSetStatus(s)))
	if !s.Start.IsZero() {
		fmt.Fprintf(&b, "- **Ran:** %s – %s\n", fmtTime(s.Start), fmtTime(s.End))
	}
	if m := setMachine(s); m != "" {
		fmt.Fprintf(&b, "- **Machine:** %s\n", mdText(m))
	}
	fmt.Fprintf(&b, "- **Statistics:** median and its %g%% confidence interval (distribution-free, as benchstat); CV = stddev/mean across runs\n\n", s.Confidence*100)
	b.WriteString("## Runs\n\n")
	mdRow(&b, "run", "id", "status")
	b.WriteString("|---|---|---|\n")
	for _, e := range s.Runs {
		mdRow(&b, e.Dir, e.ID, runEntryStatus(e))
	}
	b.WriteString("\n")
	section := ""
	for _, m := range s.Metrics {
		sec := setSection(m)
		if sec != section {
			section = sec
			fmt.Fprintf(&b, "\n## %s\n\n", mdText(sec))
			mdRow(&b, "", "metric", "median", "95% CI", "min", "max", "CV", "runs")
			b.WriteString("|---|---|---:|---:|---:|---:|---:|---|\n")
		}
		if m.N == 0 {
			mdRow(&b, setRowName(m), m.Metric, "—", "—", "—", "—", "—", fmtRunValues(m))
			continue
		}
		mdRow(&b, setRowName(m), m.Metric, fmtSetValue(m.Kind, m.Median), fmtCI(m),
			fmtSetValue(m.Kind, m.Min), fmtSetValue(m.Kind, m.Max), fmtCV(m), fmtRunValues(m))
	}
	b.WriteString("\nLatencies are from the intended start (coordinated-omission corrected); ms durations of -1 (\"not recovered\") rank above every duration.\n")
	return b.Bytes()
}

// setMachine says where the set ran: "AMD EPYC, 2 cores, kernel 6.1".
func setMachine(s *RunSet) string {
	var parts []string
	if s.CPUModel != "" {
		parts = append(parts, s.CPUModel)
	}
	if s.CPUs > 0 {
		parts = append(parts, fmt.Sprintf("%d cores", s.CPUs))
	}
	if s.Kernel != "" {
		parts = append(parts, "kernel "+s.Kernel)
	}
	return strings.Join(parts, ", ")
}

func setTarget(s *RunSet) string {
	return fmt.Sprintf("%s %s (driver %s, provider %s)", s.DB, s.DBVersion, s.Driver, s.Provider)
}

// setSection is the table a metric belongs to.
func setSection(m SetMetric) string {
	switch m.Group {
	case model.GroupPhase:
		return "Phase " + m.Phase
	case model.GroupOperational:
		return "Operational"
	default:
		return "Safety"
	}
}

func setRowName(m SetMetric) string {
	switch m.Group {
	case model.GroupPhase:
		return m.Op
	case model.GroupOperational:
		return opsLabel(m)
	default:
		return ""
	}
}

// headline reports whether a metric is one of the few a trend shows:
// p99 and throughput per phase and op, the unavailability of each fault,
// lost and stale keys.
func headline(m SetMetric) bool {
	switch m.Group {
	case model.GroupPhase:
		return m.Metric == "p99" || (m.Metric == "throughput" && m.Op == "all")
	case model.GroupOperational:
		return m.Metric == "unavailable_ms"
	default:
		return m.Metric == "lost" || m.Metric == "stale"
	}
}

// RunSetHTML renders the set as one offline page: the headline metrics
// per run as plots (SVG), then the tables of runs.md.
func RunSetHTML(s *RunSet) ([]byte, error) {
	pg := &simplePage{
		Title: fmt.Sprintf("%s on %s: %d runs", s.Scenario, setTarget(s), len(s.Runs)),
		Sub:   "Set " + s.ID,
		Note: fmt.Sprintf("Median and its %g%% confidence interval (distribution-free, as benchstat); CV = stddev/mean across runs. "+
			"Latencies are from the intended start (coordinated-omission corrected).", s.Confidence*100),
	}
	if !s.Complete {
		pg.Banners = append(pg.Banners, pageBanner{Text: "INCOMPLETE: " + s.Incomplete + " — every run is counted below."})
	}
	pg.Items = append(pg.Items, item{Label: "Runs", Value: runSetStatus(s), Alert: !s.Complete})
	if !s.Start.IsZero() {
		pg.Items = append(pg.Items, item{Label: "Ran", Value: fmtTime(s.Start) + " – " + fmtTime(s.End)})
	}
	if m := setMachine(s); m != "" {
		pg.Items = append(pg.Items, item{Label: "Machine", Value: m})
	}
	labels := make([]string, len(s.Runs))
	for i := range s.Runs {
		labels[i] = strconv.Itoa(i + 1)
	}
	plots := pageSection{Title: "Headline metrics per run", Text: "One point per run; the shaded band is the confidence interval of the median."}
	for _, g := range headlineGroups(s.Metrics) {
		scale, unit := plotUnit(g.kind)
		var series []trendSeries
		for _, m := range g.metrics {
			ts := trendSeries{name: g.seriesName(m)}
			for _, v := range m.Values {
				y := math.NaN()
				if v != nil && !(m.Kind == KindMs && *v < 0) {
					y = *v * scale
				}
				ts.ys = append(ts.ys, y)
			}
			if m.CILo != nil && m.CIHi != nil && len(s.Runs) > 0 {
				ts.band = &trendBand{From: 0, To: len(s.Runs) - 1, Lo: *m.CILo * scale, Hi: *m.CIHi * scale}
			}
			series = append(series, ts)
		}
		svg, err := trendPlotSVG(g.title+" per run", unit, labels, series)
		if err != nil {
			return nil, err
		}
		plots.SVGs = append(plots.SVGs, svg)
	}
	pg.Sections = append(pg.Sections, plots)
	runs := pageSection{Title: "Runs", Header: []string{"run", "id", "status"}}
	for _, e := range s.Runs {
		runs.Rows = append(runs.Rows, pageRow{Cells: []string{e.Dir, e.ID, runEntryStatus(e)}, Alert: !e.Complete})
	}
	pg.Sections = append(pg.Sections, runs)
	var sec *pageSection
	for _, m := range s.Metrics {
		if sec == nil || sec.Title != setSection(m) {
			pg.Sections = append(pg.Sections, pageSection{Title: setSection(m),
				Header: []string{"", "metric", "median", "95% CI", "min", "max", "CV", "runs"}})
			sec = &pg.Sections[len(pg.Sections)-1]
		}
		row := []string{setRowName(m), m.Metric, "—", "—", "—", "—", "—", fmtRunValues(m)}
		if m.N > 0 {
			row = []string{setRowName(m), m.Metric, fmtSetValue(m.Kind, m.Median), fmtCI(m),
				fmtSetValue(m.Kind, m.Min), fmtSetValue(m.Kind, m.Max), fmtCV(m), fmtRunValues(m)}
		}
		sec.Rows = append(sec.Rows, pageRow{Cells: row})
	}
	return pg.render()
}

// headlineGroup is the headline metrics one plot shows.
type headlineGroup struct {
	title   string
	kind    string
	by      string // what names a series: op, phase, step, metric
	metrics []SetMetric
}

func (g headlineGroup) seriesName(m SetMetric) string {
	switch g.by {
	case "op":
		return m.Op
	case "phase":
		return m.Phase
	case "step":
		return opsLabel(m)
	default:
		return m.Metric
	}
}

// headlineGroups sorts the headline metrics into plots: p99 per phase
// (a line per op), throughput (a line per phase), unavailability (a line
// per fault step), safety (lost, stale).
func headlineGroups(ms []SetMetric) []headlineGroup {
	var groups []headlineGroup
	find := func(title, kind, by string) *headlineGroup {
		for i := range groups {
			if groups[i].title == title {
				return &groups[i]
			}
		}
		groups = append(groups, headlineGroup{title: title, kind: kind, by: by})
		return &groups[len(groups)-1]
	}
	for _, m := range ms {
		if !headline(m) {
			continue
		}
		var g *headlineGroup
		switch {
		case m.Group == model.GroupPhase && m.Metric == "p99":
			g = find("p99 latency, phase "+m.Phase, m.Kind, "op")
		case m.Group == model.GroupPhase:
			g = find("Throughput", m.Kind, "phase")
		case m.Group == model.GroupOperational:
			g = find("Unavailability per fault and recovery step", m.Kind, "step")
		default:
			g = find("Lost and stale keys", m.Kind, "metric")
		}
		g.metrics = append(g.metrics, m)
	}
	// p99 plots first (in phase order), then throughput, unavailability, safety.
	rank := func(g headlineGroup) int {
		switch g.by {
		case "op":
			return 0
		case "phase":
			return 1
		case "step":
			return 2
		}
		return 3
	}
	slices.SortStableFunc(groups, func(a, b headlineGroup) int { return rank(a) - rank(b) })
	return groups
}

// RebuildRunSet summarises a set directory again from its run-i
// directories (after a crash, or to re-render with a newer evalrun). What
// an existing runs.json says of the set (its id, the runs asked for, why
// a run left no report) is kept.
func RebuildRunSet(dir string) (*RunSet, error) {
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
	if old, err := ReadRunSet(filepath.Join(dir, FileRunsJSON)); err == nil {
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
	entries := make([]RunEntry, len(names))
	for i, n := range names {
		entries[i] = RunEntry{Dir: n, Error: errs[n]}
	}
	return BuildRunSet(dir, id, requested, entries, incomplete)
}
