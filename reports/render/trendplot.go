package render

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/evalrun/evalrun/reports/model"
)

// This file draws the plots of the run-set and history pages: values per
// run or per night (X is an index with labels), each series a line through
// its medians with a whisker from min to max, a shaded band, and a ring
// where a value changed significantly. It reuses the report's fonts, grid,
// legend and SVG rendering (plots.go).

// trendSeries is one line of a trend plot; NaN values break it.
type trendSeries struct {
	name   string
	ys     []float64 // per X index
	lo, hi []float64 // whisker per X index (NaN: none); may be nil
	marked []bool    // a ring at this X index; may be nil
	band   *trendBand
}

// trendBand shades [Lo, Hi] from X index From to To.
type trendBand struct {
	From, To int
	Lo, Hi   float64
}

// trendColor is the colour of the i-th series of a trend plot.
func trendColor(i int) color.NRGBA {
	palette := [...]color.NRGBA{colP50, colP99, colRate, colMax, colErrors,
		{R: 0x17, G: 0xbe, B: 0xcf, A: 0xff}, {R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}, {R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}}
	return palette[i%len(palette)]
}

// indexTicks labels the X indices.
type indexTicks []string

func (t indexTicks) Ticks(lo, hi float64) []plot.Tick {
	every := max(1, len(t)/12)
	var ticks []plot.Tick
	for i := range t {
		tk := plot.Tick{Value: float64(i)}
		if i%every == 0 || i == len(t)-1 {
			tk.Label = t[i]
		}
		ticks = append(ticks, tk)
	}
	return ticks
}

// trendPlotSVG draws the series over the X labels as SVG; values are in
// the axis' unit already.
func trendPlotSVG(title string, axis trendAxis, xlabels []string, series []trendSeries) (template.HTML, error) {
	p, err := trendPlot(title, axis, xlabels, series)
	if err != nil {
		return "", err
	}
	return svgHTML(p)
}

func trendPlot(title string, axis trendAxis, xlabels []string, series []trendSeries) (*plot.Plot, error) {
	p := newTrendPlot(title, axis, xlabels)
	ymax := 0.0
	var legend []legendEntry
	for i, s := range series {
		col := trendColor(i)
		top, err := addTrendBand(p, s, col)
		if err != nil {
			return nil, err
		}
		ymax = math.Max(ymax, top)
		line := timeXYs{name: s.name, color: col, width: 1.4, skipLone: true}
		for x, y := range s.ys {
			line.xs = append(line.xs, float64(x))
			line.ys = append(line.ys, y)
			if !math.IsNaN(y) && !math.IsInf(y, 0) {
				ymax = math.Max(ymax, y)
			}
		}
		th, err := line.add(p)
		if err != nil {
			return nil, err
		}
		legend = append(legend, legendEntry{s.name, th})
		if top, err = addTrendPoints(p, s, col); err != nil {
			return nil, err
		}
		ymax = math.Max(ymax, top)
	}
	if ymax <= 0 {
		ymax = 1
	}
	p.Y.Max = ymax * 1.08
	p.Add(&marksFront{legend: legend, yLabel: axis.unit})
	return p, nil
}

// newTrendPlot is an empty trend plot: the page's fonts, the X labels,
// the axis' ticks and the grid.
func newTrendPlot(title string, axis trendAxis, xlabels []string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle = newPlot("", 1).Title.TextStyle
	p.Title.Padding = 17
	base := newPlot("", 1)
	p.X.Label, p.Y.Label = base.X.Label, base.Y.Label
	p.X.Tick.Label, p.Y.Tick.Label = base.X.Tick.Label, base.Y.Tick.Label
	p.X.Padding, p.Y.Padding = 0, 0
	p.X.Label.Text = ""
	p.X.Min, p.X.Max = -0.5, float64(len(xlabels))-0.5
	p.X.Tick.Marker = indexTicks(xlabels)
	p.Y.Tick.Marker = axis.ticks
	p.Y.Min = 0
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = colGrid, colGrid
	g.Vertical.Width, g.Horizontal.Width = 0.5, 0.5
	p.Add(g)
	return p
}

// addTrendBand shades the series' band, if it has one, and returns its
// top (0 without a band).
func addTrendBand(p *plot.Plot, s trendSeries, col color.NRGBA) (float64, error) {
	if s.band == nil || math.IsNaN(s.band.Lo) || math.IsNaN(s.band.Hi) {
		return 0, nil
	}
	b := *s.band
	fill := col
	fill.A = 0x1c
	poly, err := plotter.NewPolygon(plotter.XYs{
		{X: float64(b.From) - 0.4, Y: b.Lo}, {X: float64(b.To) + 0.4, Y: b.Lo},
		{X: float64(b.To) + 0.4, Y: b.Hi}, {X: float64(b.From) - 0.4, Y: b.Hi}})
	if err != nil {
		return 0, fmt.Errorf("plot %s: %w", s.name, err)
	}
	poly.Color, poly.Width = fill, 0
	p.Add(poly)
	return b.Hi, nil
}

// addTrendPoints marks every value with a dot, a significant change with
// a ring, and draws the min–max whiskers; it returns the highest finite
// whisker top.
func addTrendPoints(p *plot.Plot, s trendSeries, col color.NRGBA) (float64, error) {
	top := 0.0
	var dots, rings plotter.XYs
	for x, y := range s.ys {
		if math.IsNaN(y) || math.IsInf(y, 0) {
			continue
		}
		dots = append(dots, plotter.XY{X: float64(x), Y: y})
		if x < len(s.marked) && s.marked[x] {
			rings = append(rings, plotter.XY{X: float64(x), Y: y})
		}
		if x < len(s.lo) && x < len(s.hi) && !math.IsNaN(s.lo[x]) && !math.IsNaN(s.hi[x]) && s.hi[x] > s.lo[x] {
			w, err := plotter.NewLine(plotter.XYs{{X: float64(x), Y: s.lo[x]}, {X: float64(x), Y: s.hi[x]}})
			if err != nil {
				return 0, err
			}
			w.LineStyle = draw.LineStyle{Color: col, Width: 0.8}
			p.Add(w)
			if !math.IsInf(s.hi[x], 0) {
				top = math.Max(top, s.hi[x])
			}
		}
	}
	if err := addGlyphs(p, dots, draw.CircleGlyph{}, col, 2); err != nil {
		return 0, err
	}
	return top, addGlyphs(p, rings, draw.RingGlyph{}, colFault, 6)
}

func addGlyphs(p *plot.Plot, xys plotter.XYs, shape draw.GlyphDrawer, col color.Color, r vg.Length) error {
	if len(xys) == 0 {
		return nil
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return err
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: r, Shape: shape}
	p.Add(sc)
	return nil
}

func svgHTML(p *plot.Plot) (template.HTML, error) {
	s, err := renderSVG(p)
	if err != nil {
		return "", err
	}
	return template.HTML(s), nil // gonum/plot escapes its text
}

// trendAxis is how a metric kind is plotted: the factor from its values
// to the plot's unit, the unit, and the ticks (whole numbers for counts).
type trendAxis struct {
	scale float64
	unit  string
	ticks plot.Ticker
}

// axisOf is the axis of a metric kind's trend plot.
func axisOf(kind string) trendAxis {
	switch kind {
	case model.KindLatency:
		return trendAxis{0.001, "ms", linearTicks{}}
	case model.KindMs:
		return trendAxis{1, "ms", linearTicks{}}
	case model.KindRate:
		return trendAxis{1, "ops/s", linearTicks{}}
	case model.KindPercent:
		return trendAxis{1, "%", linearTicks{}}
	case model.KindBytes:
		return trendAxis{1, "bytes", countTicks{}}
	default:
		return trendAxis{1, "keys", countTicks{}}
	}
}

// simplePage is the page of a run set or a history: banners, key-value
// lines, then sections of plots and tables.
type simplePage struct {
	Title    string
	Sub      string
	Banners  []pageBanner
	Items    []item
	Sections []pageSection
	Note     string
}

type pageBanner struct {
	Bad  bool
	Text string
}

type pageSection struct {
	Title  string
	Text   string
	SVGs   []template.HTML
	Header []string
	Rows   []pageRow
}

type pageRow struct {
	Cells []string
	Alert bool
}

var simpleTmpl = template.Must(template.New("simple").Parse(pageHead + `<h1>{{.Title}}</h1>
{{if .Sub}}<p class="sub">{{.Sub}}</p>{{end}}
{{range .Banners}}<div class="banner {{if .Bad}}bad{{else}}warn{{end}}">{{.Text}}</div>
{{end}}{{if .Items}}<table class="kv summary">
{{range .Items}}<tr><th>{{.Label}}</th><td{{if .Alert}} class="alert"{{end}}>{{.Value}}</td></tr>
{{end}}</table>{{end}}
{{range .Sections}}<h2>{{.Title}}</h2>
{{if .Text}}<p class="small muted">{{.Text}}</p>{{end}}
{{range .SVGs}}<div class="plot">{{.}}</div>
{{end}}{{if .Header}}<table>
<tr>{{range $i, $h := .Header}}<th{{if $i}} class="n"{{end}}>{{$h}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{$a := .Alert}}{{range $i, $c := .Cells}}<td class="{{if $i}}n{{end}}{{if $a}} alert{{end}}">{{$c}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{end}}<p class="small muted">{{.Note}}</p>
</body>
</html>
`))

func (p *simplePage) render() ([]byte, error) {
	var buf bytes.Buffer
	if err := simpleTmpl.Execute(&buf, p); err != nil {
		return nil, fmt.Errorf("html: %w", err)
	}
	return buf.Bytes(), nil
}
