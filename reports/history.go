package reports

import (
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/evalrun/evalrun/internal/stats"
)

// Night is one night of a history: a run set, or a single report as a
// set of one.
type Night struct {
	Path string // the runs.json or report.json read
	Set  *RunSet
}

// ReadNights reads every run set (runs.json) and every report not inside
// a set under dirs, ordered by run start. Reports are read one at a time
// and only their metrics kept.
func ReadNights(dirs []string) ([]Night, error) {
	var nights []Night
	for _, root := range dirs {
		var setDirs, reportFiles []string
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch {
			case d.IsDir():
			case d.Name() == FileRunsJSON:
				setDirs = append(setDirs, filepath.Dir(p))
			case d.Name() == FileJSON:
				reportFiles = append(reportFiles, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", root, err)
		}
		for _, d := range setDirs {
			p := filepath.Join(d, FileRunsJSON)
			s, err := ReadRunSet(p)
			if err != nil {
				return nil, err
			}
			nights = append(nights, Night{Path: p, Set: s})
		}
		for _, p := range reportFiles {
			if insideAny(p, setDirs) {
				continue
			}
			r, err := ReadJSON(p)
			if err != nil {
				return nil, err
			}
			nights = append(nights, Night{Path: p, Set: SetOfReports(r.Run.ID, r)})
		}
	}
	slices.SortStableFunc(nights, func(a, b Night) int { return a.Set.Start.Compare(b.Set.Start) })
	return nights, nil
}

func insideAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if rel, err := filepath.Rel(d, p); err == nil && !strings.HasPrefix(rel, "..") {
			return true
		}
	}
	return false
}

// History is the nights of each scenario, the band of the last K nights
// and the latest night's verdict against it.
type History struct {
	K         int
	Alpha     float64
	Limits    Limits
	Scenarios []ScenarioHistory
}

// ScenarioHistory is one scenario on one target, night by night.
type ScenarioHistory struct {
	Name   string // "node-loss on etcd (embedded)"
	Nights []Night
	// Band pools the runs of the (up to) K nights before the latest; nil
	// with a single night.
	Band *RunSet
	// BandFrom is the index of the band's first night.
	BandFrom int
	// Verdict is the latest night against Band (CompareSets); nil with a
	// single night.
	Verdict *Comparison
	// Changed[i] holds the metric keys of night i that changed
	// significantly (U test at Alpha) against the K nights before it.
	Changed []map[string]bool
}

// BuildHistory groups the nights (in order) by scenario, driver and
// provider and judges each group's latest night against the K before it.
func BuildHistory(nights []Night, k int, lim Limits, alpha float64) *History {
	if lim == nil {
		lim = DefaultLimits()
	}
	h := &History{K: k, Alpha: alpha, Limits: lim}
	at := map[string]int{}
	for _, n := range nights {
		name := fmt.Sprintf("%s on %s (%s)", n.Set.Scenario, n.Set.Driver, n.Set.Provider)
		i, ok := at[name]
		if !ok {
			i = len(h.Scenarios)
			at[name] = i
			h.Scenarios = append(h.Scenarios, ScenarioHistory{Name: name})
		}
		h.Scenarios[i].Nights = append(h.Scenarios[i].Nights, n)
	}
	for i := range h.Scenarios {
		sh := &h.Scenarios[i]
		sh.Changed = make([]map[string]bool, len(sh.Nights))
		for j := range sh.Nights {
			from := max(0, j-k)
			if j == 0 {
				continue
			}
			band := poolSets(fmt.Sprintf("nights %d-%d", from+1, j), sh.Nights[from:j])
			sh.Changed[j] = significantChanges(band, sh.Nights[j].Set, alpha)
			if j == len(sh.Nights)-1 {
				sh.Band, sh.BandFrom = band, from
				sh.Verdict = CompareSets(band, sh.Nights[j].Set, lim, alpha)
			}
		}
	}
	return h
}

// poolSets is one set of all the runs of several nights (their header
// from the latest of them).
func poolSets(id string, nights []Night) *RunSet {
	head := *nights[len(nights)-1].Set
	head.Runs, head.Metrics = nil, nil
	head.ID, head.Start = id, nights[0].Set.Start
	sb := newSetBuilder(id, 0)
	sb.set = &head
	for _, n := range nights {
		base := len(head.Runs)
		head.Runs = append(head.Runs, n.Set.Runs...)
		if n.Set.ScenarioSHA256 != head.ScenarioSHA256 {
			head.ScenarioSHA256 = ""
		}
		for _, m := range n.Set.Metrics {
			k := metricKey(m)
			j, ok := sb.index[k]
			if !ok {
				j = len(head.Metrics)
				sb.index[k] = j
				m.Values = slices.Clone(m.Values)
				for range base {
					m.Values = append([]*float64{nil}, m.Values...)
				}
				head.Metrics = append(head.Metrics, m)
				continue
			}
			sm := &head.Metrics[j]
			for len(sm.Values) < base {
				sm.Values = append(sm.Values, nil)
			}
			sm.Values = append(sm.Values, m.Values...)
		}
	}
	head.Requested = len(head.Runs)
	sha := head.ScenarioSHA256
	out := sb.finish("")
	out.ScenarioSHA256 = sha
	return out
}

// significantChanges lists the headline metrics of b that differ
// significantly from band.
func significantChanges(band, b *RunSet, alpha float64) map[string]bool {
	out := map[string]bool{}
	bm := map[string]SetMetric{}
	for _, m := range band.Metrics {
		bm[metricKey(m)] = m
	}
	for _, m := range b.Metrics {
		ref, ok := bm[metricKey(m)]
		if !ok || !headline(m) {
			continue
		}
		if r := stats.Compare(sampleOf(ref), sampleOf(m), alpha); r.Significant {
			out[metricKey(m)] = true
		}
	}
	return out
}

// Regressed reports whether any scenario's latest night regressed.
func (h *History) Regressed() bool {
	for _, s := range h.Scenarios {
		if s.Verdict != nil && s.Verdict.Regressed() {
			return true
		}
	}
	return false
}

// Incomparable says why a scenario's latest night cannot be judged
// against its band, or "".
func (h *History) Incomparable() string {
	for _, s := range h.Scenarios {
		if s.Verdict != nil && s.Verdict.Incomparable != "" {
			return s.Name + ": " + s.Verdict.Incomparable
		}
	}
	return ""
}

// JUnit renders the latest verdict of every scenario that has one.
func (h *History) JUnit() ([]byte, error) {
	var names []string
	var cs []*Comparison
	for _, s := range h.Scenarios {
		if s.Verdict == nil {
			continue
		}
		names = append(names, fmt.Sprintf("evalrun history: %s, latest night against the %d before it", s.Name, len(s.Nights)-1-s.BandFrom))
		cs = append(cs, s.Verdict)
	}
	return JUnitSuites(names, cs)
}

func nightLabel(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return t.UTC().Format("01-02 15:04")
}

// trendRow is one headline metric of a scenario across its nights.
type trendRow struct {
	metric  SetMetric // identity and kind
	medians []float64 // per night (NaN when absent)
	lo, hi  []float64 // min and max per night
	band    SetMetric // the pooled band's metric (N 0 when none)
}

func (sh *ScenarioHistory) trendRows() []trendRow {
	var rows []trendRow
	at := map[string]int{}
	for j, n := range sh.Nights {
		for _, m := range n.Set.Metrics {
			if !headline(m) {
				continue
			}
			k := metricKey(m)
			i, ok := at[k]
			if !ok {
				i = len(rows)
				at[k] = i
				r := trendRow{metric: m}
				for range sh.Nights {
					r.medians = append(r.medians, math.NaN())
					r.lo = append(r.lo, math.NaN())
					r.hi = append(r.hi, math.NaN())
				}
				rows = append(rows, r)
			}
			if m.N > 0 {
				rows[i].medians[j], rows[i].lo[j], rows[i].hi[j] = m.Median, m.Min, m.Max
			}
		}
	}
	if sh.Band != nil {
		for _, m := range sh.Band.Metrics {
			if i, ok := at[metricKey(m)]; ok {
				rows[i].band = m
			}
		}
	}
	return rows
}

// HistoryMarkdown renders the history: per scenario its nights, the
// latest verdict and the headline metrics against the band.
func HistoryMarkdown(h *History) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# evalrun history: %d scenario(s)\n\n", len(h.Scenarios))
	fmt.Fprintf(&b, "Band: the runs of the last %d nights before the latest (min – max). Verdict: the latest night against the band, "+
		"Mann-Whitney U test at α=%g and the limits %s (a regression is significant and beyond its limit; lost and stale keys: any increase in any run).\n\n",
		h.K, h.Alpha, h.Limits.String())
	for i := range h.Scenarios {
		sh := &h.Scenarios[i]
		fmt.Fprintf(&b, "## %s\n\n", mdText(sh.Name))
		switch {
		case sh.Verdict == nil:
			fmt.Fprintf(&b, "First night: no band to judge it against yet.\n\n")
		case sh.Verdict.Regressed():
			fmt.Fprintf(&b, "**%s**\n\n", mdText(sh.Verdict.verdictLine()))
			for _, r := range sh.Verdict.Regressions {
				fmt.Fprintf(&b, "- %s\n", mdText(r))
			}
			b.WriteString("\n")
		default:
			fmt.Fprintf(&b, "%s\n\n", mdText(sh.Verdict.verdictLine()))
		}
		if sh.Verdict != nil && sh.Verdict.Incomparable != "" {
			fmt.Fprintf(&b, "**Cannot judge the latest night**: %s\n\n", mdText(sh.Verdict.Incomparable))
		}
		if sh.Verdict != nil && len(sh.Verdict.Notes) > 0 {
			for _, n := range sh.Verdict.Notes {
				fmt.Fprintf(&b, "- note: %s\n", mdText(n))
			}
			b.WriteString("\n")
		}
		b.WriteString("| night | start | runs | status | source |\n|---:|---|---:|---|---|\n")
		for j, n := range sh.Nights {
			status := "complete"
			if !n.Set.Complete {
				status = "INCOMPLETE: " + n.Set.Incomplete
			}
			mark := ""
			if len(sh.Changed[j]) > 0 {
				mark = fmt.Sprintf(" (%d significant change(s))", len(sh.Changed[j]))
			}
			fmt.Fprintf(&b, "| %d | %s | %d | %s%s | %s |\n", j+1, fmtTime(n.Set.Start), len(n.Set.Runs), mdText(status), mark, mdText(n.Path))
		}
		b.WriteString("\n")
		band := "no band yet"
		if sh.Band != nil {
			band = fmt.Sprintf("band (nights %d–%d)", sh.BandFrom+1, len(sh.Nights)-1)
		}
		fmt.Fprintf(&b, "| metric | %s | latest (night %d, median) | change | p (n) | verdict |\n|---|---:|---:|---:|---:|---|\n",
			band, len(sh.Nights))
		verdicts := map[string]MetricComparison{}
		if sh.Verdict != nil {
			sh.Verdict.eachMetric(func(class string, m MetricComparison) { verdicts[class+"|"+m.Metric] = m })
		}
		for _, r := range sh.trendRows() {
			m := r.metric
			latest := "—"
			if j := len(sh.Nights) - 1; !math.IsNaN(r.medians[j]) {
				latest = fmtSetValue(m.Kind, r.medians[j])
			}
			band := "—"
			if r.band.N > 0 {
				band = fmtSetValue(m.Kind, r.band.Min) + " – " + fmtSetValue(m.Kind, r.band.Max)
			}
			change, pn, verdict := "—", "—", "—"
			if mc, ok := verdicts[verdictClass(m)+"|"+verdictMetricName(m)]; ok {
				change, verdict = mc.ChangeText, mc.Verdict()
				if mc.Checked && !mc.Regression && !mc.Inconclusive && mc.Stat != nil && !mc.Stat.Worst && !mc.Stat.Significant {
					verdict = "no significant change"
				}
				if mc.Regression {
					verdict = "**REGRESSION**"
				}
				if st := mc.Stat; st != nil && !st.Worst {
					pn = fmt.Sprintf("%s (%d+%d)", fmtP(st.P), st.NA, st.NB)
				} else if st != nil {
					pn = "worst run"
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", mdText(metricLabel(m)), mdText(band), mdText(latest), mdText(change), pn, verdict)
		}
		b.WriteString("\n")
	}
	return []byte(b.String())
}

// verdictClass is the row class eachMetric gives a set metric.
func verdictClass(m SetMetric) string {
	switch m.Group {
	case "phase":
		return "phase " + m.Phase + "." + m.Op
	case "operational":
		class := "operational " + m.Step
		if m.Node > 0 {
			class += fmt.Sprintf(" n%d", m.Node)
		}
		if m.Occurrence > 1 {
			class += fmt.Sprintf(" #%d", m.Occurrence)
		}
		return class
	}
	return "safety"
}

func verdictMetricName(m SetMetric) string {
	if m.Group == "operational" {
		return opsMetricName(m.Metric)
	}
	return m.Metric
}

// HistoryHTML renders the history as one offline page: per scenario the
// trend plots of the headline metrics (median per night, min–max
// whiskers, the band shaded, significant changes ringed) and the tables
// of the Markdown.
func HistoryHTML(h *History) ([]byte, error) {
	pg := &simplePage{
		Title: fmt.Sprintf("evalrun history: %d scenario(s)", len(h.Scenarios)),
		Sub: fmt.Sprintf("Band: the last %d nights before the latest. Verdict: the latest night against the band (Mann-Whitney U test at α=%g, limits %s).",
			h.K, h.Alpha, h.Limits.String()),
		Note: "Each point is a night's median across its runs, the whisker its min – max; the shaded band spans the runs of the nights before the latest; a red ring marks a night that changed significantly against the nights before it.",
	}
	for i := range h.Scenarios {
		sh := &h.Scenarios[i]
		sec := pageSection{Title: sh.Name}
		switch {
		case sh.Verdict == nil:
			sec.Text = "First night: no band to judge it against yet."
		default:
			sec.Text = sh.Verdict.verdictLine()
			if sh.Verdict.Regressed() {
				pg.Banners = append(pg.Banners, pageBanner{Bad: true, Text: sh.Name + ": " + sh.Verdict.verdictLine() + ": " + strings.Join(sh.Verdict.Regressions, "; ")})
			}
			if sh.Verdict.Incomparable != "" {
				pg.Banners = append(pg.Banners, pageBanner{Text: sh.Name + ": cannot judge the latest night: " + sh.Verdict.Incomparable})
			}
		}
		labels := make([]string, len(sh.Nights))
		for j, n := range sh.Nights {
			labels[j] = nightLabel(n.Set.Start)
		}
		rows := sh.trendRows()
		var ms []SetMetric
		for _, r := range rows {
			ms = append(ms, r.metric)
		}
		byKey := map[string]trendRow{}
		for _, r := range rows {
			byKey[metricKey(r.metric)] = r
		}
		for _, g := range headlineGroups(ms) {
			scale, unit := plotUnit(g.kind)
			var series []trendSeries
			for _, m := range g.metrics {
				r := byKey[metricKey(m)]
				ts := trendSeries{name: g.seriesName(m)}
				for j := range sh.Nights {
					conv := func(v float64) float64 {
						if math.IsNaN(v) || (m.Kind == KindMs && v < 0) {
							return math.NaN()
						}
						return v * scale
					}
					ts.ys = append(ts.ys, conv(r.medians[j]))
					ts.lo = append(ts.lo, conv(r.lo[j]))
					ts.hi = append(ts.hi, conv(r.hi[j]))
					ts.marked = append(ts.marked, sh.Changed[j][metricKey(m)])
				}
				if r.band.N > 0 && len(sh.Nights) > 1 {
					ts.band = &trendBand{From: sh.BandFrom, To: len(sh.Nights) - 2, Lo: r.band.Min * scale, Hi: r.band.Max * scale}
				}
				series = append(series, ts)
			}
			svg, err := trendPlotSVG(g.title+" per night", unit, labels, series)
			if err != nil {
				return nil, err
			}
			sec.SVGs = append(sec.SVGs, svg)
		}
		pg.Sections = append(pg.Sections, sec)
		if sh.Verdict != nil {
			vt := pageSection{Title: sh.Name + ": latest night against the band",
				Header: []string{"metric", "band median", "latest median", "change", "confidence interval", "p (n)", "verdict"}}
			sh.Verdict.eachMetric(func(class string, m MetricComparison) {
				pn := "worst run"
				if st := m.Stat; st != nil && !st.Worst {
					pn = fmt.Sprintf("%s (%d+%d)", fmtP(st.P), st.NA, st.NB)
				}
				vt.Rows = append(vt.Rows, pageRow{Alert: m.Regression, Cells: []string{class + " " + m.Metric,
					fmtSetValue(m.Kind, m.A), fmtSetValue(m.Kind, m.B), m.ChangeText, shiftCIText(m), pn, m.Verdict()}})
			})
			pg.Sections = append(pg.Sections, vt)
		}
	}
	return pg.render()
}
