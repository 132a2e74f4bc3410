package render

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
)

// WriteRunSet writes runs.json, runs.md and runs.html into dir, each
// atomically; the JSON even when a rendering fails.
func WriteRunSet(dir string, s *model.RunSet) error {
	var errs []error
	errs = append(errs, reports.WriteRunSetJSON(dir, s))
	errs = append(errs, reports.WriteFileAtomic(filepath.Join(dir, reports.FileRunsMarkdown), RunSetMarkdown(s)))
	if page, err := RunSetHTML(s); err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, reports.WriteFileAtomic(filepath.Join(dir, reports.FileRunsHTML), page))
	}
	return errors.Join(errs...)
}

func fmtCI(m model.SetMetric) string {
	if m.CILo == nil || m.CIHi == nil {
		if m.N == 0 {
			return "—"
		}
		return fmt.Sprintf("need ≥ %d runs", judge.MinRunsForCI())
	}
	return format.SetValue(m.Kind, judge.FromSample(m.Kind, *m.CILo)) + " – " + format.SetValue(m.Kind, judge.FromSample(m.Kind, *m.CIHi))
}

func fmtCV(m model.SetMetric) string {
	if m.CV == nil {
		return "—"
	}
	return strconv.FormatFloat(*m.CV*100, 'f', 1, 64) + "%"
}

func fmtRunValues(m model.SetMetric) string {
	parts := make([]string, len(m.Values))
	for i, v := range m.Values {
		if v == nil {
			parts[i] = "—"
		} else {
			parts[i] = format.SetValue(m.Kind, *v)
		}
	}
	return strings.Join(parts, ", ")
}

// runSetStatus is one line about the set's completeness.
func runSetStatus(s *model.RunSet) string {
	if s.Complete {
		return fmt.Sprintf("%d of %d runs complete", len(s.Runs), s.Requested)
	}
	return "INCOMPLETE: " + s.Incomplete
}

func runEntryStatus(e model.RunEntry) string {
	switch {
	case e.Error != "":
		return "FAILED: " + format.OneLine(e.Error)
	case !e.Complete:
		return "incomplete: " + format.OneLine(e.Incomplete)
	default:
		return "complete"
	}
}

// RunSetMarkdown renders the set: its runs, then per metric median, the
// confidence interval of the median, min, max, the coefficient of
// variation and every run's value.
func RunSetMarkdown(s *model.RunSet) []byte {
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
		mdRow(&b, setRowName(m), m.Metric, format.SetValue(m.Kind, m.Median), fmtCI(m),
			format.SetValue(m.Kind, m.Min), format.SetValue(m.Kind, m.Max), fmtCV(m), fmtRunValues(m))
	}
	b.WriteString("\nLatencies are from the intended start (coordinated-omission corrected); ms durations of -1 (\"not recovered\") rank above every duration.\n")
	return b.Bytes()
}

// setMachine says where the set ran: "AMD EPYC, 2 cores, kernel 6.1".
func setMachine(s *model.RunSet) string {
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

func setTarget(s *model.RunSet) string {
	return fmt.Sprintf("%s %s (driver %s, provider %s)", s.DB, s.DBVersion, s.Driver, s.Provider)
}

// setSection is the table a metric belongs to.
func setSection(m model.SetMetric) string {
	switch m.Group {
	case model.GroupPhase:
		return "Phase " + m.Phase
	case model.GroupOperational:
		return "Operational"
	default:
		return "Safety"
	}
}

func setRowName(m model.SetMetric) string {
	switch m.Group {
	case model.GroupPhase:
		return m.Op
	case model.GroupOperational:
		return format.OpsLabel(m)
	default:
		return ""
	}
}

// RunSetHTML renders the set as one offline page: the headline metrics
// per run as plots (SVG), then the tables of runs.md.
func RunSetHTML(s *model.RunSet) ([]byte, error) {
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
		axis := axisOf(g.kind)
		var series []trendSeries
		for _, m := range g.metrics {
			ts := trendSeries{name: g.seriesName(m)}
			for _, v := range m.Values {
				y := math.NaN()
				if v != nil && !(m.Kind == model.KindMs && *v < 0) {
					y = *v * axis.scale
				}
				ts.ys = append(ts.ys, y)
			}
			if m.CILo != nil && m.CIHi != nil && len(s.Runs) > 0 {
				ts.band = &trendBand{From: 0, To: len(s.Runs) - 1, Lo: *m.CILo * axis.scale, Hi: *m.CIHi * axis.scale}
			}
			series = append(series, ts)
		}
		svg, err := trendPlotSVG(g.title+" per run", axis, labels, series)
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
			row = []string{setRowName(m), m.Metric, format.SetValue(m.Kind, m.Median), fmtCI(m),
				format.SetValue(m.Kind, m.Min), format.SetValue(m.Kind, m.Max), fmtCV(m), fmtRunValues(m)}
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
	metrics []model.SetMetric
}

func (g headlineGroup) seriesName(m model.SetMetric) string {
	switch g.by {
	case "op":
		return m.Op
	case "phase":
		return m.Phase
	case "step":
		return format.OpsLabel(m)
	default:
		return m.Metric
	}
}

// headlineGroups sorts the headline metrics into plots: p99 per phase
// (a line per op), throughput (a line per phase), unavailability (a line
// per fault step), safety (lost, stale).
func headlineGroups(ms []model.SetMetric) []headlineGroup {
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
		if !judge.Headline(m) {
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
