package render

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
)

// This file renders a capacity search (evalrun capacity): the stage
// table, the result in words, and the knee plot (p50 and p99 against the
// achieved rate, with the SLO's p99).

// capRate writes a stage's offered rate as it ran (to a tenth of an
// op/s): a rate that held is never rounded up to one that did not.
func capRate(r float64) string {
	return strconv.FormatFloat(math.Round(r*10)/10, 'f', -1, 64)
}

// CapacityStageLine says one stage in a line, as the terminal prints it.
func CapacityStageLine(s model.CapacityStage) string {
	verdict := "held"
	if !s.Held {
		verdict = "BROKE: " + s.Broke
	}
	bisect := ""
	if s.Bisect {
		bisect = " (bisect)"
	}
	return fmt.Sprintf("stage %d%s: offered %s ops/s, achieved %s, p50 %s, p99 %s, errors %s, late %s: %s",
		s.N, bisect, capRate(s.Offered), format.Rate(s.Achieved), format.Micros(s.P50Us), format.Micros(s.P99Us),
		format.Percent(s.ErrorShare*100), format.Percent(s.LateShare*100), verdict)
}

// CapacityResultLine says what the search found, never a rate no stage
// showed: the highest that held and the first that broke, or why the
// capacity is unknown or not reached.
func CapacityResultLine(c *model.Capacity) string {
	held, broke := "", ""
	if c.MaxHeldRate != nil {
		held = capRate(*c.MaxHeldRate) + " ops/s"
	}
	if c.FirstBrokenRate != nil {
		broke = capRate(*c.FirstBrokenRate) + " ops/s"
	}
	var s string
	switch {
	case c.Result == model.CapacityFound:
		s = fmt.Sprintf("capacity: %s held, %s broke", held, broke)
	case c.Result == model.CapacityBelowStart:
		s = fmt.Sprintf("capacity: unknown, below the start rate: the first stage (%s) already broke; start lower (--start-rate)", broke)
	case c.Result == model.CapacityNotReached:
		s = fmt.Sprintf("capacity: not reached: every stage held, up to %s (the max rate or the max number of stages); at least that", held)
	case held != "":
		s = fmt.Sprintf("capacity: unknown: the search stopped before a stage broke; %s held", held)
	default:
		s = "capacity: unknown: no stage was judged"
	}
	return s + " (SLO " + c.SLO.Text + ")"
}

// mdCapacity writes the capacity section: the result, the stage table,
// how a stage is judged and the notes.
func mdCapacity(b *bytes.Buffer, r *model.Report) {
	c := r.Capacity
	if c == nil {
		return
	}
	b.WriteString("## Capacity\n\n")
	fmt.Fprintf(b, "**%s**\n\n", mdText(CapacityResultLine(c)))
	if len(c.Stages) > 0 {
		mdRow(b, "stage", "offered ops/s", "achieved ops/s", "p50", "p99", "errors", "late", "held")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---|\n")
		for _, s := range c.Stages {
			name, held := fmt.Sprint(s.N), "yes"
			if s.Bisect {
				name += " (bisect)"
			}
			if !s.Held {
				held = "**no**: " + mdText(s.Broke)
			}
			mdRowRaw(b, name, capRate(s.Offered), format.Rate(s.Achieved), format.Micros(s.P50Us), format.Micros(s.P99Us),
				format.Percent(s.ErrorShare*100), format.Percent(s.LateShare*100), held)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "%s\n\n", mdText(capacityHow(c)))
	for _, n := range c.Notes {
		fmt.Fprintf(b, "- %s\n", mdText(n))
	}
	if len(c.Notes) > 0 {
		b.WriteString("\n")
	}
}

// capacityHow says how the stages ran and how one is judged.
func capacityHow(c *model.Capacity) string {
	bound := fmt.Sprintf("at most %d stages", c.MaxStages)
	if c.MaxRate > 0 {
		bound += ", at most " + format.Rate(c.MaxRate) + " ops/s"
	}
	return fmt.Sprintf("Stages from %s ops/s, times %g each (%s), then up to %d bisecting; each measured over %s after %s at its rate, not counted. "+
		"A stage holds when its p99 from the intended start is at most %s, its failed and missed operations at most %s of its operations, "+
		"and its successful ops/s at least %s of the offered rate. Late: sent more than the late threshold after the intended start.",
		capRate(c.StartRate), c.Factor, bound, c.Bisect, format.Millis(c.StageMs), format.Millis(c.SettleMs),
		format.Micros(c.SLO.P99Us), format.Percent(c.SLO.ErrorShare*100), format.Percent(c.SLO.MinAchieved*100))
}

// htmlCapacity is the capacity section of the page.
type htmlCapacity struct {
	Result string
	SVG    template.HTML
	Stages []htmlCapacityRow
	How    string
	Notes  []string
}

type htmlCapacityRow struct {
	N, Offered, Achieved, P50, P99, Errors, Late, Broke string
	Held                                                bool
}

// capacityHTML is the page's capacity section (pageHTML includes it).
const capacityHTML = `{{with .Capacity}}<h2>Capacity</h2>
<p><strong>{{.Result}}</strong></p>
{{if .SVG}}<div class="plot">{{.SVG}}</div>{{end}}
{{if .Stages}}<table>
<tr><th>stage</th><th class="n">offered ops/s</th><th class="n">achieved ops/s</th><th class="n">p50</th><th class="n">p99</th><th class="n">errors</th><th class="n">late</th><th>held</th></tr>
{{range .Stages}}<tr><td>{{.N}}</td><td class="n">{{.Offered}}</td><td class="n">{{.Achieved}}</td><td class="n">{{.P50}}</td><td class="n">{{.P99}}</td><td class="n">{{.Errors}}</td><td class="n">{{.Late}}</td><td{{if not .Held}} class="alert"{{end}}>{{if .Held}}yes{{else}}no: {{.Broke}}{{end}}</td></tr>
{{end}}</table>{{end}}
<p class="small muted">{{.How}}</p>
{{range .Notes}}<p class="small">{{.}}</p>
{{end}}{{end}}`

// newHTMLCapacity gathers the capacity section; nil for a run.
func newHTMLCapacity(c *model.Capacity) (*htmlCapacity, error) {
	if c == nil {
		return nil, nil
	}
	h := &htmlCapacity{Result: CapacityResultLine(c), How: capacityHow(c), Notes: c.Notes}
	for _, s := range c.Stages {
		n := fmt.Sprint(s.N)
		if s.Bisect {
			n += " (bisect)"
		}
		h.Stages = append(h.Stages, htmlCapacityRow{N: n, Offered: capRate(s.Offered), Achieved: format.Rate(s.Achieved),
			P50: format.Micros(s.P50Us), P99: format.Micros(s.P99Us), Errors: format.Percent(s.ErrorShare * 100),
			Late: format.Percent(s.LateShare * 100), Broke: s.Broke, Held: s.Held})
	}
	if len(c.Stages) == 0 {
		return h, nil
	}
	p, err := capacityPlot(c)
	if err != nil {
		return nil, err
	}
	h.SVG, err = svgHTML(p)
	return h, err
}

// capacityPlot draws the knee: p50 and p99 (log ms) against the achieved
// ops/s, a point per stage in the order of the offered rate (a ring on
// the stages that broke), and the SLO's p99 as a dashed line.
func capacityPlot(c *model.Capacity) (*plot.Plot, error) {
	p := newPlot("Latency against achieved throughput (the knee): a point per stage, ringed where it broke", 1)
	p.X.Label.Text = "achieved ops/s (successful)"
	p.X.Tick.Marker = linearTicks{}
	stages := append([]model.CapacityStage(nil), c.Stages...)
	sort.SliceStable(stages, func(i, j int) bool { return stages[i].Offered < stages[j].Offered })
	series := []timeXYs{{name: "p50", color: colP50, width: 1.4}, {name: "p99", color: colP99, width: 1.4}}
	var broken plotter.XYs
	xmax, lo, hi := 0.0, float64(c.SLO.P99Us)/1000, float64(c.SLO.P99Us)/1000
	for _, s := range stages {
		for k, us := range [2]int64{s.P50Us, s.P99Us} {
			y := math.Max(float64(us), 1) / 1000 // log axis: no zero
			series[k].xs, series[k].ys = append(series[k].xs, s.Achieved), append(series[k].ys, y)
			lo, hi = math.Min(lo, y), math.Max(hi, y)
			if !s.Held {
				broken = append(broken, plotter.XY{X: s.Achieved, Y: y})
			}
		}
		xmax = math.Max(xmax, s.Achieved)
	}
	p.X.Min, p.X.Max = 0, math.Max(xmax*1.1, 1)
	decLo, decHi := math.Floor(math.Log10(lo)), math.Log10(hi)
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logMsTicks{}
	p.Y.Min, p.Y.Max = math.Pow(10, decLo), math.Pow(10, math.Max(decHi+0.5, decLo+1))
	series = append(series, timeXYs{name: "SLO p99 " + format.Micros(c.SLO.P99Us), color: colFault, width: 0.9, dash: []vg.Length{5, 3},
		xs: []float64{0, p.X.Max}, ys: []float64{float64(c.SLO.P99Us) / 1000, float64(c.SLO.P99Us) / 1000}})
	if knee, ok := maxHeldStage(c); ok { // where the knee is, as far as the stages show
		series = append(series, timeXYs{name: "max held " + capRate(knee.Offered) + " ops/s", color: colPhase, width: 0.8, dash: []vg.Length{1.5, 2},
			xs: []float64{knee.Achieved, knee.Achieved}, ys: []float64{p.Y.Min, p.Y.Max}})
	}
	fp, err := finishPlot(p, "latency (log scale)", series, nil, nil)
	if err != nil {
		return nil, err
	}
	for k := range 2 {
		var dots plotter.XYs
		for i := range series[k].xs {
			dots = append(dots, plotter.XY{X: series[k].xs[i], Y: series[k].ys[i]})
		}
		if err := addGlyphs(fp, dots, draw.CircleGlyph{}, series[k].color, 2.5); err != nil {
			return nil, err
		}
	}
	return fp, addGlyphs(fp, broken, draw.RingGlyph{}, colFault, 6)
}

// maxHeldStage is the stage that ran at the max rate held.
func maxHeldStage(c *model.Capacity) (model.CapacityStage, bool) {
	for _, s := range c.Stages {
		if c.MaxHeldRate != nil && s.Held && s.Offered == *c.MaxHeldRate {
			return s, true
		}
	}
	return model.CapacityStage{}, false
}

// mdCapacityComparison writes the max rates of two capacity reports side
// by side (nothing for other comparisons).
func mdCapacityComparison(b *bytes.Buffer, c *judge.Comparison) {
	if c.Capacity == nil {
		return
	}
	b.WriteString("## Capacity\n\n")
	mdRow(b, "metric", "A", "B", "change", "verdict")
	b.WriteString("|---|---:|---:|---:|---|\n")
	for _, m := range c.Capacity {
		verdict := m.Verdict()
		switch {
		case m.Regression:
			verdict = "**REGRESSION** (limit " + mdText(m.Limit) + ")"
		case m.Checked:
			verdict = "no significant change (limit " + mdText(m.Limit) + ")"
		}
		mdRowRaw(b, mdText(m.Metric), capacityRate(m.A), capacityRate(m.B), mdText(m.ChangeText), verdict)
	}
	b.WriteString("\nOne capacity run per side: no statistics; see the README for the run-to-run spread.\n\n")
}

// textCapacityComparison writes the max rates side by side for a terminal.
func textCapacityComparison(b *strings.Builder, c *judge.Comparison) {
	for _, m := range c.Capacity {
		fmt.Fprintf(b, "  %s: A %s, B %s (%s): %s", m.Metric, capacityRate(m.A), capacityRate(m.B), m.ChangeText, m.Verdict())
		if m.Limit != "" && m.Checked {
			fmt.Fprintf(b, " (limit %s)", m.Limit)
		}
		b.WriteString("\n")
	}
}

// capacityRate is a rate of a capacity comparison; 0 is none.
func capacityRate(r float64) string {
	if r == 0 {
		return "unknown"
	}
	return capRate(r) + " ops/s"
}
