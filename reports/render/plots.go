package render

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/evalrun/evalrun/reports/model"
)

// This file draws the two time-series plots of the HTML page as inline
// SVG. vgsvg does not embed fonts by default: text elements only name the
// "Liberation Sans" family, which the page's CSS backs with metric-compatible
// fallbacks (Arial, Helvetica), so nothing is fetched and the text lines up.

// Plot size in points (1pt = 1.33 CSS px; the page scales the SVG to its width).
const (
	plotWidth  vg.Length = 780
	plotHeight vg.Length = 300
)

var (
	sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

	colP50    = color.NRGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff} // blue
	colP99    = color.NRGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff} // orange
	colMax    = color.NRGBA{R: 0x7b, G: 0x3f, B: 0x9e, A: 0xff} // purple
	colRate   = color.NRGBA{R: 0x2c, G: 0x8c, B: 0x3c, A: 0xff} // green
	colErrors = color.NRGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff} // red
	colShade  = color.NRGBA{R: 0xe4, G: 0x57, B: 0x4f, A: 0x2e} // translucent red
	colFault  = color.NRGBA{R: 0xa3, G: 0x1d, B: 0x1d, A: 0xff} // fault labels
	colEvent  = color.NRGBA{R: 0x33, G: 0x4e, B: 0x7a, A: 0xff} // other events
	colPhase  = color.NRGBA{R: 0x6b, G: 0x6b, B: 0x6b, A: 0xff} // phase boundaries
	colGrid   = color.NRGBA{R: 0xe3, G: 0xe3, B: 0xe3, A: 0xff}
)

// marked: an event that gets a line: one that changes the cluster (it has
// a kind) or checks the data.
func marked(e model.Event) bool { return e.Kind != "" || e.Step == "verify" }

// shade is a stretch of time during which a fault was in effect.
type shade struct {
	Label      string
	FromMs     int64
	ToMs       int64
	Terminated bool // false when the fault lasted to the end of the run
}

// vline is a thin vertical mark: an event or a phase boundary.
type vline struct {
	Label string
	AtMs  int64
	Phase bool
}

func eventOK(e model.Event) bool { return e.Outcome.OK() }

func eventLabel(e model.Event) string {
	s := e.Step
	if e.Node > 0 {
		s += fmt.Sprintf(" n%d", e.Node)
	}
	if !eventOK(e) {
		s += " (" + e.Outcome.Word() + ")"
	}
	return s
}

// runEndMs is the end of the plotted time range.
func runEndMs(r *model.Report) int64 {
	end := r.Run.DurationMs
	if k := len(r.Windows); k > 0 {
		end = max(end, r.Windows[k-1].StartMs+windowLen(r.Windows))
	}
	for _, e := range r.Events {
		end = max(end, e.StartMs, e.EndMs)
	}
	for _, p := range r.Phases {
		end = max(end, p.EndMs)
	}
	return end
}

// windowLen is the length of the windows: the median step between two
// consecutive window starts (windows may be missing), else one second.
func windowLen(ws []model.Window) int64 {
	var ds []int64
	for i := 1; i < len(ws); i++ {
		if d := ws[i].StartMs - ws[i-1].StartMs; d > 0 {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return 1000
	}
	slices.Sort(ds)
	return ds[len(ds)/2] // the median: windows roll every second give or take a few ms
}

// gapBefore reports whether windows are missing between ws[i-1] and ws[i].
func gapBefore(ws []model.Window, i int, n int64) bool {
	// a window is missing when the next starts about two lengths later; a
	// window rolled a few ms late is not a gap (each window would else be
	// drawn as a dash of its own)
	return i > 0 && ws[i].StartMs-ws[i-1].StartMs > n*3/2
}

// timelineMarks derives the fault shades and the event and phase lines.
// A successful fault (kill, stop, pause, partition) is shaded from its
// start to the start of the next successful event that ends it (its Ends
// names the fault: start, resume, heal; on the same node when both name
// one), or to endMs.
func timelineMarks(r *model.Report, endMs int64) (shades []shade, lines []vline) {
	used := make([]bool, len(r.Events))
	for i, e := range r.Events {
		if e.Kind != "fault" || !eventOK(e) {
			continue
		}
		s := shade{Label: eventLabel(e), FromMs: e.StartMs, ToMs: endMs}
		for j := i + 1; j < len(r.Events); j++ {
			u := r.Events[j]
			if used[j] || !slices.Contains(u.Ends, e.Step) || !eventOK(u) {
				continue
			}
			if e.Node > 0 && u.Node > 0 && e.Node != u.Node {
				continue
			}
			used[j] = true
			s.ToMs, s.Terminated = u.StartMs, true
			break
		}
		used[i] = true
		shades = append(shades, s)
	}
	for i, e := range r.Events {
		if used[i] || !marked(e) {
			continue
		}
		lines = append(lines, vline{Label: eventLabel(e), AtMs: e.StartMs})
	}
	for _, p := range r.Phases {
		lines = append(lines, vline{Label: p.Name, AtMs: p.StartMs, Phase: true})
	}
	return shades, lines
}

// renderSVG draws p and returns the <svg> element, without the XML prolog.
func renderSVG(p *plot.Plot) (string, error) {
	c := vgsvg.New(plotWidth, plotHeight)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("render svg: %w", err)
	}
	s := buf.String()
	i := strings.Index(s, "<svg")
	if i < 0 {
		return "", fmt.Errorf("render svg: no <svg> element in output")
	}
	return strings.TrimSpace(s[i:]), nil
}

// alignLeft widens the Y axis label padding of the plots whose data area
// starts further left, so that all data areas start at the same X and the
// time axes line up on the page.
func alignLeft(ps ...*plot.Plot) {
	dc := draw.New(vgsvg.New(plotWidth, plotHeight))
	lefts := make([]vg.Length, len(ps))
	var most vg.Length
	for i, p := range ps {
		lefts[i] = p.DataCanvas(dc).Min.X
		most = max(most, lefts[i])
	}
	for i, p := range ps {
		p.Y.Label.Padding += most - lefts[i]
	}
}

// newPlot returns a plot with the page's fonts and the common X axis.
// finishPlot draws its Y axis label.
func newPlot(title string, endS float64) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sansFont, 12)
	p.Title.Padding = 17 // room for the legend row
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sansFont, 11)
		a.Tick.Label.Font = font.From(sansFont, 10)
		a.Padding = 0
	}
	p.Legend.TextStyle.Font = font.From(sansFont, 10)
	p.X.Label.Text = "seconds since the workload started"
	// gonum places the glyph box of a centred Y label at the data midpoint
	// (0.5*(min+max)), which on a log axis is near the top and squeezes the
	// data area. So the axis keeps a one-space placeholder that reserves
	// the label's column, and marksFront draws the real label.
	p.Y.Label.Text = " "
	p.X.Min, p.X.Max = 0, endS
	p.X.Tick.Marker = secondsTicks{}
	return p
}

// timeXYs holds one series; NaN values break the line.
type timeXYs struct {
	name  string
	color color.Color
	width vg.Length
	dash  []vg.Length
	xs    []float64
	ys    []float64
	// skipLone leaves a lone value undrawn (a trend plot marks every
	// value with a dot) instead of a short dash.
	skipLone bool
}

// add draws the series as lines (one per unbroken run of values) and
// returns the first one, for the legend.
func (s timeXYs) add(p *plot.Plot) (plot.Thumbnailer, error) {
	style := draw.LineStyle{Color: s.color, Width: s.width, Dashes: s.dash}
	var seg plotter.XYs
	flush := func() error {
		if len(seg) == 1 && s.skipLone {
			seg = nil
		}
		if len(seg) == 1 { // a lone value: draw a short dash
			x, y := seg[0].X, seg[0].Y
			seg = plotter.XYs{{X: math.Max(0, x-0.35), Y: y}, {X: x + 0.35, Y: y}}
		}
		if len(seg) == 0 {
			return nil
		}
		l, err := plotter.NewLine(seg)
		if err != nil {
			return fmt.Errorf("plot %s: %w", s.name, err)
		}
		l.LineStyle = style
		p.Add(l)
		seg = nil
		return nil
	}
	for i, y := range s.ys {
		if math.IsNaN(y) {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		seg = append(seg, plotter.XY{X: s.xs[i], Y: y})
	}
	if err := flush(); err != nil {
		return nil, err
	}
	thumb, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 1}})
	if err != nil {
		return nil, err
	}
	thumb.LineStyle = style
	return thumb, nil
}

// latencyPlot draws p50, p99 and max per window in ms on a log axis.
func latencyPlot(r *model.Report, shades []shade, lines []vline, endMs int64) (*plot.Plot, error) {
	p := newPlot("Latency per one-second window (all operations, from the intended start)", float64(endMs)/1000)
	series := []timeXYs{
		{name: "p50", color: colP50, width: 1.4},
		{name: "p99", color: colP99, width: 1.4},
		{name: "max", color: colMax, width: 0.9, dash: []vg.Length{3, 2}},
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	n := windowLen(r.Windows)
	for i, w := range r.Windows {
		if gapBefore(r.Windows, i, n) {
			for k := range series {
				series[k].xs, series[k].ys = append(series[k].xs, 0), append(series[k].ys, math.NaN())
			}
		}
		x := float64(w.StartMs+n/2) / 1000
		vals := [3]int64{w.P50Us, w.P99Us, w.MaxUs}
		for k := range series {
			y := math.NaN()
			if w.Count > 0 && vals[k] > 0 { // log axis: no zero, no empty window
				y = float64(vals[k]) / 1000
				lo, hi = math.Min(lo, y), math.Max(hi, y)
			}
			series[k].xs = append(series[k].xs, x)
			series[k].ys = append(series[k].ys, y)
		}
	}
	if math.IsInf(lo, 1) { // no data: show a sensible empty range
		lo, hi = 0.1, 1000
	}
	decLo := math.Floor(math.Log10(lo))
	decHi := math.Log10(hi)
	if decHi-decLo < 1 {
		decHi = decLo + 1
	}
	// Headroom above the data for the labels: a quarter of the span, at
	// least half a decade.
	head := math.Max(0.5, 0.25*(decHi-decLo))
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logMsTicks{}
	p.Y.Min, p.Y.Max = math.Pow(10, decLo), math.Pow(10, decHi+head)

	return finishPlot(p, "latency (log scale)", series, shades, lines)
}

// throughputPlot draws the successful ops/s and the errors/s per window.
func throughputPlot(r *model.Report, shades []shade, lines []vline, endMs int64) (*plot.Plot, error) {
	p := newPlot("Throughput and errors per one-second window", float64(endMs)/1000)
	series := []timeXYs{
		{name: "successful ops/s", color: colRate, width: 1.4},
		{name: "errors/s", color: colErrors, width: 1.4},
	}
	target := timeXYs{name: "target", color: colPhase, width: 0.8, dash: []vg.Length{5, 3}}
	for _, w := range r.Windows { // per second when rate or ramp steps changed it
		if w.TargetRate > 0 {
			target.xs = append(target.xs, float64(w.StartMs+windowLen(r.Windows)/2)/1000)
			target.ys = append(target.ys, w.TargetRate)
		}
	}
	if len(target.xs) == 0 && r.Workload.TargetRate > 0 {
		target.xs = []float64{0, float64(endMs) / 1000}
		target.ys = []float64{r.Workload.TargetRate, r.Workload.TargetRate}
	}
	targetHi := 0.0
	for _, y := range target.ys {
		targetHi = math.Max(targetHi, y)
	}
	if len(target.xs) > 0 {
		series = append(series, target)
	}
	hi := 0.0
	n := windowLen(r.Windows)
	for i, w := range r.Windows {
		if gapBefore(r.Windows, i, n) { // missing windows: break the lines
			for k := 0; k < 2; k++ {
				series[k].xs, series[k].ys = append(series[k].xs, 0), append(series[k].ys, math.NaN())
			}
		}
		x := float64(w.StartMs+n/2) / 1000
		errs := float64(w.Errors) * 1000 / float64(n)
		series[0].xs, series[0].ys = append(series[0].xs, x), append(series[0].ys, w.Rate)
		series[1].xs, series[1].ys = append(series[1].xs, x), append(series[1].ys, errs)
		hi = math.Max(hi, math.Max(w.Rate, errs))
	}
	hi = math.Max(hi, math.Max(r.Workload.TargetRate, targetHi))
	if hi <= 0 {
		hi = 1
	}
	p.Y.Min, p.Y.Max = 0, hi*1.3 // headroom for the labels
	p.Y.Tick.Marker = linearTicks{}
	return finishPlot(p, "operations per second", series, shades, lines)
}

// finishPlot adds, in drawing order: shades, grid, lines, data, labels and legend.
func finishPlot(p *plot.Plot, ylabel string, series []timeXYs, shades []shade, lines []vline) (*plot.Plot, error) {
	p.Add(&marksBack{shades: shades, lines: lines})
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = colGrid, colGrid
	g.Vertical.Width, g.Horizontal.Width = 0.5, 0.5
	p.Add(g)
	var legend []legendEntry
	for _, s := range series {
		th, err := s.add(p)
		if err != nil {
			return nil, err
		}
		legend = append(legend, legendEntry{s.name, th})
	}
	if len(shades) > 0 {
		legend = append(legend, legendEntry{"fault in effect", shadeThumb{}})
	}
	p.Add(&marksFront{shades: shades, lines: lines, legend: legend, yLabel: ylabel})
	return p, nil
}

func annotStyle(c color.Color, size vg.Length) text.Style {
	return text.Style{
		Color:   c,
		Font:    font.From(sansFont, size),
		XAlign:  draw.XLeft,
		YAlign:  draw.YTop,
		Handler: plot.DefaultTextHandler,
	}
}

// marksBack draws the fault shades and the vertical lines under the data.
type marksBack struct {
	shades []shade
	lines  []vline
}

func (m *marksBack) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	clampX := func(ms int64) vg.Length {
		return min(max(trX(float64(ms)/1000), c.Min.X), c.Max.X)
	}
	for _, s := range m.shades {
		x0, x1 := clampX(s.FromMs), clampX(s.ToMs)
		if x1-x0 < 1 {
			x1 = x0 + 1
		}
		c.FillPolygon(colShade, []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}})
		edge := draw.LineStyle{Color: colFault, Width: 0.6}
		c.StrokeLine2(edge, x0, c.Min.Y, x0, c.Max.Y)
	}
	for _, l := range m.lines {
		if l.Phase && l.AtMs <= 0 {
			continue // the left axis already marks the start
		}
		sty := draw.LineStyle{Color: colEvent, Width: 0.8, Dashes: []vg.Length{4, 2}}
		if l.Phase {
			sty = draw.LineStyle{Color: colPhase, Width: 0.8, Dashes: []vg.Length{1.5, 2}}
		}
		x := clampX(l.AtMs)
		c.StrokeLine2(sty, x, c.Min.Y, x, c.Max.Y)
	}
}

// legendEntry is one item of the legend row.
type legendEntry struct {
	name  string
	thumb plot.Thumbnailer
}

// shadeThumb is the legend swatch of a fault shade.
type shadeThumb struct{}

func (shadeThumb) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(colShade, []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}})
}

// marksFront draws the labels over the data and the legend row above the
// data area (in the band left by the title padding).
type marksFront struct {
	shades []shade
	lines  []vline
	legend []legendEntry
	yLabel string
}

type label struct {
	text  string
	x     vg.Length
	style text.Style
	row0  int // first row it may use
}

func (m *marksFront) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	var labels []label
	for _, l := range m.lines {
		if l.Phase {
			labels = append(labels, label{text: l.Label, x: trX(float64(l.AtMs) / 1000), style: annotStyle(colPhase, 9), row0: 0})
		} else {
			labels = append(labels, label{text: l.Label, x: trX(float64(l.AtMs) / 1000), style: annotStyle(colEvent, 9), row0: 1})
		}
	}
	for _, s := range m.shades {
		t := s.Label
		if !s.Terminated {
			t += " (to the end)"
		}
		labels = append(labels, label{text: t, x: trX(float64(s.FromMs) / 1000), style: annotStyle(colFault, 9), row0: 1})
	}
	sort.SliceStable(labels, func(i, j int) bool {
		if labels[i].x != labels[j].x {
			return labels[i].x < labels[j].x
		}
		return labels[i].row0 < labels[j].row0
	})
	// Greedy rows from the top: a label takes the first row, from its
	// own first row down, where it does not touch the previous label.
	const rowH, pad = vg.Length(11), vg.Length(3)
	var rowEnd []vg.Length
	for _, l := range labels {
		x := min(max(l.x+pad, c.Min.X+pad), c.Max.X-pad)
		w := l.style.Width(l.text)
		if x+w > c.Max.X-pad { // keep it inside the plot: flip to the left of its line
			x = max(c.Min.X+pad, l.x-pad-w)
		}
		row := l.row0
		for ; row < len(rowEnd); row++ {
			if rowEnd[row] < x-pad {
				break
			}
		}
		for len(rowEnd) <= row {
			rowEnd = append(rowEnd, 0)
		}
		rowEnd[row] = x + w
		c.FillText(l.style, vg.Point{X: x, Y: c.Max.Y - pad - vg.Length(row)*rowH}, l.text)
	}

	// The Y axis label, where gonum would draw it: against the left edge
	// of the whole canvas, centred on the data area.
	if m.yLabel != "" {
		sty := p.Y.Label.TextStyle
		sty.Rotation += math.Pi / 2
		x := sty.Height(m.yLabel) - sty.FontExtents().Descent
		c.FillText(sty, vg.Point{X: x, Y: (c.Min.Y + c.Max.Y) / 2}, m.yLabel)
	}

	// Legend: one centred row above the data area.
	const thumbW, thumbH, gap = vg.Length(18), vg.Length(8), vg.Length(14)
	sty := annotStyle(color.Black, 10)
	sty.YAlign = draw.YCenter
	total := vg.Length(0)
	for i, e := range m.legend {
		if i > 0 {
			total += gap
		}
		total += thumbW + 4 + sty.Width(e.name)
	}
	x := (c.Min.X+c.Max.X)/2 - total/2
	y := c.Max.Y + 9
	for _, e := range m.legend {
		tc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: x, Y: y - thumbH/2}, Max: vg.Point{X: x + thumbW, Y: y + thumbH/2}}}
		e.thumb.Thumbnail(&tc)
		x += thumbW + 4
		c.FillText(sty, vg.Point{X: x, Y: y}, e.name)
		x += sty.Width(e.name) + gap
	}
}
