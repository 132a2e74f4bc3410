package render

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
)

// HistoryJUnit renders the latest verdict of every scenario that has one.
func HistoryJUnit(h *judge.History) ([]byte, error) {
	var names []string
	var cs []*judge.Comparison
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
	metric  model.SetMetric // identity and kind
	medians []float64       // per night (NaN when absent)
	lo, hi  []float64       // min and max per night
	band    model.SetMetric // the pooled band's metric (N 0 when none)
}

func trendRows(sh *judge.ScenarioHistory) []trendRow {
	var rows []trendRow
	at := map[string]int{}
	for j, n := range sh.Nights {
		for _, m := range n.Set.Metrics {
			if !judge.Headline(m) {
				continue
			}
			k := judge.MetricKey(m)
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
			if i, ok := at[judge.MetricKey(m)]; ok {
				rows[i].band = m
			}
		}
	}
	return rows
}

// HistoryMarkdown renders the history: per scenario its nights, the
// latest verdict and the headline metrics against the band.
func HistoryMarkdown(h *judge.History) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# evalrun history: %d scenario(s)\n\n", len(h.Scenarios))
	fmt.Fprintf(&b, "Band: the runs of the last %d nights before the latest (min – max). Verdict: the latest night against the band, "+
		"Mann-Whitney U test at α=%g and the limits %s (a regression is significant and beyond its limit; lost and stale keys: any increase in any run).\n\n",
		h.K, h.Alpha, h.Limits.String())
	for i := range h.Scenarios {
		sh := &h.Scenarios[i]
		fmt.Fprintf(&b, "## %s\n\n", mdText(sh.Name))
		mdHistoryVerdict(&b, sh.Verdict)
		mdNights(&b, sh)
		mdHistoryMetrics(&b, sh)
	}
	return []byte(b.String())
}

// mdHistoryVerdict writes the latest night's verdict (nil: the first
// night), its regressions and notes.
func mdHistoryVerdict(b *strings.Builder, v *judge.Comparison) {
	switch {
	case v == nil:
		fmt.Fprintf(b, "First night: no band to judge it against yet.\n\n")
		return
	case v.Regressed():
		fmt.Fprintf(b, "**%s**\n\n", mdText(v.VerdictLine()))
		for _, r := range v.Regressions {
			fmt.Fprintf(b, "- %s\n", mdText(r))
		}
		b.WriteString("\n")
	default:
		fmt.Fprintf(b, "%s\n\n", mdText(v.VerdictLine()))
	}
	if v.Incomparable != "" {
		fmt.Fprintf(b, "**Cannot judge the latest night**: %s\n\n", mdText(v.Incomparable))
	}
	if len(v.Notes) > 0 {
		for _, n := range v.Notes {
			fmt.Fprintf(b, "- note: %s\n", mdText(n))
		}
		b.WriteString("\n")
	}
}

// mdNights writes a scenario's nights, one row each.
func mdNights(b *strings.Builder, sh *judge.ScenarioHistory) {
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
		fmt.Fprintf(b, "| %d | %s | %d | %s%s | %s |\n", j+1, fmtTime(n.Set.Start), len(n.Set.Runs), mdText(status), mark, mdText(n.Path))
	}
	b.WriteString("\n")
}

// mdHistoryMetrics writes the headline metrics: the band, the latest
// night's median and its verdict against the band.
func mdHistoryMetrics(b *strings.Builder, sh *judge.ScenarioHistory) {
	band := "no band yet"
	if sh.Band != nil {
		band = fmt.Sprintf("band (nights %d–%d)", sh.BandFrom+1, len(sh.Nights)-1)
	}
	fmt.Fprintf(b, "| metric | %s | latest (night %d, median) | change | p (n) | verdict |\n|---|---:|---:|---:|---:|---|\n",
		band, len(sh.Nights))
	verdicts := map[string]judge.MetricComparison{}
	if sh.Verdict != nil {
		sh.Verdict.EachMetric(func(class string, m judge.MetricComparison) { verdicts[class+"|"+m.Metric] = m })
	}
	for _, r := range trendRows(sh) {
		m := r.metric
		latest := "—"
		if j := len(sh.Nights) - 1; !math.IsNaN(r.medians[j]) {
			latest = format.SetValue(m.Kind, r.medians[j])
		}
		band := "—"
		if r.band.N > 0 {
			band = format.SetValue(m.Kind, r.band.Min) + " – " + format.SetValue(m.Kind, r.band.Max)
		}
		change, pn, verdict := "—", "—", "—"
		if mc, ok := verdicts[verdictClass(m)+"|"+verdictMetricName(m)]; ok {
			change, pn, verdict = historyVerdictCells(mc)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", mdText(format.MetricLabel(m)), mdText(band), mdText(latest), mdText(change), pn, verdict)
	}
	b.WriteString("\n")
}

// historyVerdictCells are a metric's change, p (n) and verdict cells.
func historyVerdictCells(mc judge.MetricComparison) (change, pn, verdict string) {
	change, pn, verdict = mc.ChangeText, "—", mc.Verdict()
	if mc.Checked && !mc.Regression && !mc.Inconclusive && mc.Stat != nil && !mc.Stat.Worst && !mc.Stat.Significant {
		verdict = "no significant change"
	}
	if mc.Regression {
		verdict = "**REGRESSION**"
	}
	if st := mc.Stat; st != nil && !st.Worst {
		pn = fmt.Sprintf("%s (%d+%d)", format.P(st.P), st.NA, st.NB)
	} else if st != nil {
		pn = "worst run"
	}
	return change, pn, verdict
}

// verdictClass is the row class Comparison.EachMetric gives a set metric.
func verdictClass(m model.SetMetric) string {
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

func verdictMetricName(m model.SetMetric) string {
	if m.Group == "operational" {
		return format.OpsMetricName(m.Metric)
	}
	return m.Metric
}

// HistoryHTML renders the history as one offline page: per scenario the
// trend plots of the headline metrics (median per night, min–max
// whiskers, the band shaded, significant changes ringed) and the tables
// of the Markdown.
func HistoryHTML(h *judge.History) ([]byte, error) {
	pg := &simplePage{
		Title: fmt.Sprintf("evalrun history: %d scenario(s)", len(h.Scenarios)),
		Sub: fmt.Sprintf("Band: the last %d nights before the latest. Verdict: the latest night against the band (Mann-Whitney U test at α=%g, limits %s).",
			h.K, h.Alpha, h.Limits.String()),
		Note: "Each point is a night's median across its runs, the whisker its min – max; the shaded band spans the runs of the nights before the latest; a red ring marks a night that changed significantly against the nights before it.",
	}
	for i := range h.Scenarios {
		sh := &h.Scenarios[i]
		sec := pageSection{Title: sh.Name, Text: "First night: no band to judge it against yet."}
		if v := sh.Verdict; v != nil {
			sec.Text = v.VerdictLine()
			if v.Regressed() {
				pg.Banners = append(pg.Banners, pageBanner{Bad: true, Text: sh.Name + ": " + v.VerdictLine() + ": " + strings.Join(v.Regressions, "; ")})
			}
			if v.Incomparable != "" {
				pg.Banners = append(pg.Banners, pageBanner{Text: sh.Name + ": cannot judge the latest night: " + v.Incomparable})
			}
		}
		svgs, err := historyTrendPlots(sh)
		if err != nil {
			return nil, err
		}
		sec.SVGs = svgs
		pg.Sections = append(pg.Sections, sec)
		if sh.Verdict != nil {
			pg.Sections = append(pg.Sections, historyVerdictSection(sh))
		}
	}
	return pg.render()
}

// historyTrendPlots draws a scenario's headline metrics night by night, a
// plot per group of metrics.
func historyTrendPlots(sh *judge.ScenarioHistory) ([]template.HTML, error) {
	labels := make([]string, len(sh.Nights))
	for j, n := range sh.Nights {
		labels[j] = nightLabel(n.Set.Start)
	}
	rows := trendRows(sh)
	var ms []model.SetMetric
	byKey := map[string]trendRow{}
	for _, r := range rows {
		ms = append(ms, r.metric)
		byKey[judge.MetricKey(r.metric)] = r
	}
	var svgs []template.HTML
	for _, g := range headlineGroups(ms) {
		axis := axisOf(g.kind)
		var series []trendSeries
		for _, m := range g.metrics {
			series = append(series, nightSeries(sh, byKey[judge.MetricKey(m)], g.seriesName(m), axis))
		}
		svg, err := trendPlotSVG(g.title+" per night", axis, labels, series)
		if err != nil {
			return nil, err
		}
		svgs = append(svgs, svg)
	}
	return svgs, nil
}

// nightSeries is one metric's trend: its median, min and max per night in
// the axis' unit, the nights that changed significantly and the band.
func nightSeries(sh *judge.ScenarioHistory, r trendRow, name string, axis trendAxis) trendSeries {
	m := r.metric
	conv := func(v float64) float64 {
		if math.IsNaN(v) || (m.Kind == model.KindMs && v < 0) {
			return math.NaN()
		}
		return v * axis.scale
	}
	ts := trendSeries{name: name}
	for j := range sh.Nights {
		ts.ys = append(ts.ys, conv(r.medians[j]))
		ts.lo = append(ts.lo, conv(r.lo[j]))
		ts.hi = append(ts.hi, conv(r.hi[j]))
		ts.marked = append(ts.marked, sh.Changed[j][judge.MetricKey(m)])
	}
	if r.band.N > 0 && len(sh.Nights) > 1 {
		ts.band = &trendBand{From: sh.BandFrom, To: len(sh.Nights) - 2, Lo: r.band.Min * axis.scale, Hi: r.band.Max * axis.scale}
	}
	return ts
}

// historyVerdictSection is the table of the latest night against the band.
func historyVerdictSection(sh *judge.ScenarioHistory) pageSection {
	vt := pageSection{Title: sh.Name + ": latest night against the band",
		Header: []string{"metric", "band median", "latest median", "change", "confidence interval", "p (n)", "verdict"}}
	sh.Verdict.EachMetric(func(class string, m judge.MetricComparison) {
		pn := "worst run"
		if st := m.Stat; st != nil && !st.Worst {
			pn = fmt.Sprintf("%s (%d+%d)", format.P(st.P), st.NA, st.NB)
		}
		vt.Rows = append(vt.Rows, pageRow{Alert: m.Regression, Cells: []string{class + " " + m.Metric,
			format.SetValue(m.Kind, m.A), format.SetValue(m.Kind, m.B), m.ChangeText, judge.ShiftCIText(m), pn, m.Verdict()}})
	})
	return vt
}
