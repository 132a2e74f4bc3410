package render

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"time"

	"gonum.org/v1/plot"

	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
)

// HTML renders r as one self-contained page: inline CSS and SVG, no
// script, nothing fetched. Every value from the report is escaped by
// html/template; the SVG comes from gonum/plot, which escapes its text.
func HTML(r *model.Report) ([]byte, error) {
	if r == nil {
		return nil, fmt.Errorf("html: nil report")
	}
	v, err := newHTMLView(r)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("html: %w", err)
	}
	return buf.Bytes(), nil
}

type htmlView struct {
	Title       string
	Scenario    string
	Target      string
	Status      string
	Complete    bool
	DataLoss    bool
	LossLine    string
	Saturation  string
	SlowNodes   []string // the slow-node findings
	Nodes       []nodeRow
	NodesNote   string
	NodeOps     []string // the per-node table's op count columns
	Groups      []groupRow
	GroupsNote  string
	Reads       []readRow // reads by class (read, read-fresh) and their stale reads
	ReadsNote   string
	Description string
	Summary     []item
	LatencySVG  template.HTML
	RateSVG     template.HTML
	GaugeSVGs   []template.HTML // one per unit; none when the cluster reported no gauges
	// GaugeCaption explains the gauges the run has.
	GaugeCaption string
	Gauges       []gaugeRow // each gauge summarised per phase
	NoWindows    bool
	Phases       []htmlPhaseRow
	Operational  []htmlOpsRow
	HasHandoff   bool // some step carries handoff numbers: show the column
	HasFailover  bool // some step is a failover: show the column
	HasFreeze    bool // some backup froze a node (a snapshot): show the column
	Safety       []item
	LostKeys     string
	StaleKeys    string
	QuorumKeys   string
	Checks       []model.Verification
	Evidence     [][7]string
	Events       []htmlEventRow
	Details      []item
	Config       []item
	Note         string
	Capacity     *htmlCapacity // evalrun capacity; nil for a run
	// Consistency is the history check; nil when the run recorded none.
	Consistency *consistencyView
	// NotLinearizable names a promised consistency violated (a safety
	// failure), "" otherwise.
	NotLinearizable string
}

type htmlPhaseRow struct {
	Phase, Window, Op   string
	Total, First        bool
	Span                int
	Count, Errors, Rate string
	Missed, Late        string
	ErrorClasses        string
	NotFound            string
	Lat                 [5]string
	Service             string
	HasErrors           bool
}

type htmlOpsRow struct {
	Step, Node, At, Kind, Baseline, Detail, Handoff, Failover, Freeze string
	Cells                                                             [6]string
	NotRecovered                                                      bool
}

type htmlEventRow struct {
	Step, Node, Phase, Start, End, Outcome, Detail string
	Line                                           int
	OK                                             bool
}

// newHTMLView gathers what the page shows, section by section.
func newHTMLView(r *model.Report) (*htmlView, error) {
	verdict, fails := judge.ReportSafetyVerdict(r)
	_, loss := judge.SafetyVerdict(r.Safety, r.Phases)
	v := &htmlView{
		Title:       "evalrun: " + title(r),
		Scenario:    scenarioName(r),
		Target:      target(r),
		Status:      format.Status(r),
		Complete:    r.Complete,
		DataLoss:    loss,
		Description: format.OneLine(r.Scenario.Description),
		Summary:     summaryItems(r),
		NoWindows:   len(r.Windows) == 0,
		Note:        latencyNote,
		Saturation:  judge.Saturation(r),
		Consistency: newConsistencyView(r.Consistency),
	}
	v.NotLinearizable = judge.ConsistencyFailureLine(r.Consistency)
	if loss {
		v.LossLine = fmt.Sprintf("%s lost and %s stale keys after acknowledged writes.",
			format.Count(r.Safety.Lost), format.Count(r.Safety.Stale))
	}
	if err := v.addPlots(r); err != nil {
		return nil, err
	}
	var err error
	if v.Capacity, err = newHTMLCapacity(r.Capacity); err != nil {
		return nil, err
	}
	v.Phases = htmlPhaseRows(phaseRows(r))
	v.Gauges = gaugeRows(r.Phases)
	v.addNodes(r)
	v.addGroups(r)
	v.HasHandoff, v.HasFailover, v.HasFreeze = anyHandoff(r.Operational), anyFailover(r.Operational), anyFreeze(r.Operational)
	v.Operational = htmlOpsRows(r.Operational)
	v.addSafety(r.Safety, verdict, fails)
	v.Events = htmlEventRows(r.Events)
	v.Details = detailItems(r)
	for _, k := range format.SortedKeys(r.Driver.Config) {
		v.Config = append(v.Config, item{Label: k, Value: r.Driver.Config[k]})
	}
	return v, nil
}

// addPlots draws the time-series plots (latency, throughput, and the
// gauges one plot per unit) with their time axes aligned.
func (v *htmlView) addPlots(r *model.Report) error {
	if len(r.Windows) == 0 {
		return nil
	}
	endMs := runEndMs(r)
	if endMs <= 0 {
		endMs = 1000
	}
	shades, lines := timelineMarks(r, endMs)
	lp, err := latencyPlot(r, shades, lines, endMs)
	if err != nil {
		return err
	}
	tp, err := throughputPlot(r, shades, lines, endMs)
	if err != nil {
		return err
	}
	gps, err := gaugePlots(r, shades, lines, endMs)
	if err != nil {
		return err
	}
	alignLeft(append([]*plot.Plot{lp, tp}, gps...)...)
	// the SVGs are generated here; vgsvg escapes their text
	if v.LatencySVG, err = svgHTML(lp); err != nil {
		return err
	}
	if v.RateSVG, err = svgHTML(tp); err != nil {
		return err
	}
	for _, gp := range gps {
		svg, err := svgHTML(gp)
		if err != nil {
			return err
		}
		v.GaugeSVGs = append(v.GaugeSVGs, svg)
	}
	if len(gps) > 0 {
		v.GaugeCaption = gaugeCaption(r.Windows)
	}
	return nil
}

// htmlPhaseRows formats the per-phase table, each phase's first row
// spanning its rows.
func htmlPhaseRows(rows []opRow) []htmlPhaseRow {
	var out []htmlPhaseRow
	for i, row := range rows {
		s := row.Stats
		h := htmlPhaseRow{
			Phase: row.Phase, Window: row.Window, Op: row.Op, Total: row.Total,
			First:  i == 0 || rows[i-1].Phase != row.Phase,
			Count:  format.Count(s.Count),
			Missed: format.Count(s.Missed),
			Late:   format.Count(s.Late),
			Errors: format.Errors(s.Errors, s.Count), HasErrors: s.Errors > 0,
			ErrorClasses: format.ErrorClasses(s.ErrorsByClass),
			Rate:         format.Rate(s.Throughput),
			Lat:          latencyCells(s),
		}
		if s.NotFound > 0 {
			h.NotFound = format.Count(s.NotFound)
		}
		if s.Count > 0 && (s.ServiceP50Us > 0 || s.ServiceP99Us > 0) {
			h.Service = fmt.Sprintf("%s / %s / %s", format.Micros(s.ServiceP50Us), format.Micros(s.ServiceP99Us), format.Micros(s.ServiceMaxUs))
		}
		if h.First {
			for j := i; j < len(rows) && rows[j].Phase == row.Phase; j++ {
				h.Span++
			}
		}
		out = append(out, h)
	}
	return out
}

// htmlOpsRows formats the operational table, one row per step.
func htmlOpsRows(ops []model.Operational) []htmlOpsRow {
	var out []htmlOpsRow
	for _, o := range ops {
		row := htmlOpsRow{
			Step: opsStep(o), Node: format.Node(o.Node), At: format.Offset(o.AtMs), Kind: o.Kind,
			Cells: opsCells(o), Detail: format.OneLine(o.Detail), Baseline: "—", Handoff: handoffCell(o), Failover: failoverCell(o),
			Freeze: freezeCell(o),
		}
		if o.BaselineP99Us > 0 {
			row.Baseline = format.Micros(o.BaselineP99Us)
		}
		row.NotRecovered = o.RecoveryToBaselineMs != nil && *o.RecoveryToBaselineMs < 0
		out = append(out, row)
	}
	return out
}

// addSafety fills the data-safety section: the verdict, the counts, the
// keys and the evidence about them, the read-backs.
func (v *htmlView) addSafety(s model.Safety, verdict string, loss bool) {
	checked := "yes"
	if !s.Checked {
		checked = "no — the run ended before the final read-back"
	}
	v.Safety = []item{
		{Label: "Verdict", Value: verdict, Alert: loss || !s.Checked},
		{Label: "Acknowledged writes", Value: format.Count(s.AcknowledgedWrites)},
		{Label: "Acknowledged keys", Value: format.Count(s.Acknowledged)},
		{Label: "Verified", Value: format.Count(s.Verified)},
		{Label: "Lost", Value: format.Count(s.Lost), Alert: s.Lost > 0},
		{Label: "Stale", Value: format.Count(s.Stale), Alert: s.Stale > 0},
		{Label: "Quorum not-found (found by the strict read only)", Value: format.Count(s.QuorumNotFound), Alert: s.QuorumNotFound > 0},
		{Label: "Unconfirmed (the strict read failed)", Value: format.Count(s.Unconfirmed), Alert: s.Unconfirmed > 0},
		{Label: "Unreadable at read-back", Value: format.Count(s.Unreadable)},
		{Label: "Not-found reads of acknowledged keys", Value: format.Count(s.NotFoundReads), Alert: s.NotFoundReads > 0},
		{Label: "Final read-back done", Value: checked, Alert: !s.Checked},
	}
	if s.Siblings > 0 {
		v.Safety = append(v.Safety, item{Label: "Reads with siblings", Value: format.Count(s.Siblings)})
	}
	if s.ReadStale > 0 {
		v.Safety = append(v.Safety, item{Label: "Stale on the read path (the strict read found the acknowledged value)",
			Value: format.Count(s.ReadStale) + " — " + strings.Join(s.ReadStaleKeys, ", "), Alert: true})
	}
	v.LostKeys = strings.Join(s.LostKeys, ", ")
	v.StaleKeys = strings.Join(s.StaleKeys, ", ")
	v.QuorumKeys = strings.Join(s.QuorumNotFoundKeys, ", ")
	for _, e := range s.Evidence {
		v.Evidence = append(v.Evidence, evidenceRows(e)...)
	}
	v.Checks = s.Verifications
}

// htmlEventRows formats the timeline's steps as they ran.
func htmlEventRows(events []model.Event) []htmlEventRow {
	var out []htmlEventRow
	for _, e := range events {
		out = append(out, htmlEventRow{
			Step: e.Step, Node: format.Node(e.Node), Phase: e.Phase, Start: format.Offset(e.StartMs), End: eventEnd(e),
			Outcome: string(e.Outcome), Detail: format.OneLine(e.Detail), Line: e.Line, OK: eventOK(e),
		})
	}
	return out
}

// detailItems are the run's details: ids, times, versions, the target.
func detailItems(r *model.Report) []item {
	details := []item{
		{Label: "Run id", Value: r.Run.ID},
		{Label: "Started / ended", Value: fmtTime(r.Run.Start) + " / " + fmtTime(r.Run.End)},
		{Label: "evalrun", Value: fmt.Sprintf("%s (%s), host %s, %d CPUs", r.Run.Version, r.Run.GoVersion, r.Run.Host, r.Run.CPUs)},
		{Label: "Scenario source", Value: r.Scenario.Source},
		{Label: "Scenario SHA-256", Value: r.Scenario.SHA256},
		{Label: "Driver", Value: fmt.Sprintf("%s on %s, %s %s, %d nodes", r.Driver.Name, r.Driver.Provider, r.Driver.DB, r.Driver.DBVersion, r.Driver.Nodes)},
	}
	if r.Driver.Image != "" {
		img := r.Driver.Image
		if r.Driver.ImageID != "" {
			img += " (" + r.Driver.ImageID + ")"
		}
		details = append(details, item{Label: "Image", Value: img})
	}
	if r.Load.PreloadOps > 0 {
		details = append(details, item{Label: "Preload", Value: fmt.Sprintf("%s writes in %s", format.Count(r.Load.PreloadOps), format.Millis(r.Load.PreloadMs))})
	}
	return details
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}

var tmplFuncs = template.FuncMap{
	"offset": format.Offset,
	"ms":     format.Millis,
	"count":  format.Count,
}

// pageCSS is the style of every evalrun page (report, run set, history).
const pageCSS = `:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --bad: #a31d1d; --badbg: #fdecec; --warnbg: #fff4e0; --okbg: #eaf6ec; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1160px; padding: 24px 28px 48px; color: var(--fg);
  font: 15px/1.45 "Liberation Sans", Arial, Helvetica, sans-serif; background: #fff; }
h1 { font-size: 1.45em; margin: 0 0 4px; }
h2 { font-size: 1.15em; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.sub { color: var(--muted); margin: 0 0 14px; }
.banner { padding: 10px 14px; border-radius: 4px; margin: 10px 0; font-weight: bold; }
.banner.bad { background: var(--badbg); color: var(--bad); border: 1px solid #f0b7b7; }
.banner.warn { background: var(--warnbg); color: #7a4a00; border: 1px solid #f1d29b; }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: .85em; font-weight: bold; vertical-align: middle; }
.status.ok { background: var(--okbg); color: #1d6b2c; }
.status.incomplete { background: var(--warnbg); color: #7a4a00; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: .92em; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #f4f6f9; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: 600; background: #fafbfc; }
tr.phase-first td { border-top: 2px solid #b9c0cc; }
tr.total td.ph { font-weight: normal; background: #fff; }
td.alert, span.alert { color: var(--bad); font-weight: 600; }
table.kv th { width: 16em; background: none; }
.plot { margin: 10px 0 4px; }
.plot svg { display: block; width: 100%; height: auto; }
.plot svg text { font-family: "Liberation Sans", Arial, Helvetica, sans-serif !important; }
.muted { color: var(--muted); }
.small { font-size: .85em; }
code { font-family: "Liberation Mono", Consolas, Menlo, monospace; font-size: .92em; }
`

var pageTmpl = template.Must(template.New("page").Funcs(tmplFuncs).Parse(pageHTML))

// pageHead opens every evalrun page: a template with a .Title.
const pageHead = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
` + pageCSS + `</style>
</head>
<body>
`

const pageHTML = pageHead + `<h1>{{.Scenario}} on {{.Target}}
{{- if .Complete}} <span class="status ok">complete</span>{{else}} <span class="status incomplete">INCOMPLETE</span>{{end}}</h1>
{{if .Description}}<p class="sub">{{.Description}}</p>{{end}}
{{if not .Complete}}<div class="banner warn">{{.Status}} — the numbers below cover only what ran.</div>{{end}}
{{if .DataLoss}}<div class="banner bad">DATA LOSS: {{.LossLine}}</div>{{end}}
{{if .NotLinearizable}}<div class="banner bad">NOT LINEARIZABLE (a safety failure): {{.NotLinearizable}}.</div>
{{end}}{{if .Saturation}}<div class="banner warn">Load generator saturated: {{.Saturation}}.</div>{{end}}
{{range .SlowNodes}}<div class="banner warn">Slow node: {{.}}.</div>
{{end}}
<table class="kv summary">
{{range .Summary}}<tr><th>{{.Label}}</th><td{{if .Alert}} class="alert"{{end}}>{{.Value}}</td></tr>
{{end}}</table>
<p class="small muted">{{.Note}}</p>
` + capacityHTML + `
<h2>Latency over time</h2>
{{if .NoWindows}}<p>No per-second windows were recorded.</p>{{else}}<div class="plot">{{.LatencySVG}}</div>{{end}}

<h2>Throughput and errors over time</h2>
{{if .NoWindows}}<p>No per-second windows were recorded.</p>{{else}}<div class="plot">{{.RateSVG}}</div>{{end}}
{{if .GaugeSVGs}}<h2>Cluster gauges over time</h2>
<p class="small muted">{{.GaugeCaption}}</p>
{{range .GaugeSVGs}}<div class="plot">{{.}}</div>
{{end}}{{end}}{{if .Gauges}}<h2>Cluster gauges per phase</h2>
<table>
<tr><th>gauge</th><th>phase</th><th class="n">samples</th><th class="n">min</th><th class="n">p99</th><th class="n">max</th><th class="n">last</th></tr>
{{range .Gauges}}<tr><td>{{.Gauge}}</td><td>{{.Phase}}</td><td class="n">{{.Samples}}</td><td class="n">{{.Min}}</td><td class="n">{{.P99}}</td><td class="n">{{.Max}}</td><td class="n">{{.Last}}</td></tr>
{{end}}</table>
{{end}}
<h2>Phases</h2>
{{if .Phases}}<table>
<tr><th>phase</th><th>op</th><th class="n">count</th><th class="n">errors</th><th class="n">late</th><th class="n">missed</th><th class="n">p50</th><th class="n">p90</th><th class="n">p99</th><th class="n">p99.9</th><th class="n">max</th><th class="n">ops/s</th><th>errors by class</th><th class="n">not found</th><th class="n">service p50 / p99 / max</th></tr>
{{range .Phases}}<tr class="{{if .Total}}total{{end}}{{if .First}} phase-first{{end}}">{{if .First}}<td class="ph" rowspan="{{.Span}}"><strong>{{.Phase}}</strong><br><span class="small muted">{{.Window}}</span></td>{{end}}<td>{{.Op}}</td><td class="n">{{.Count}}</td><td class="n{{if .HasErrors}} alert{{end}}">{{.Errors}}</td><td class="n">{{.Late}}</td><td class="n">{{.Missed}}</td>{{range .Lat}}<td class="n">{{.}}</td>{{end}}<td class="n">{{.Rate}}</td><td class="small">{{.ErrorClasses}}</td><td class="n">{{.NotFound}}</td><td class="n">{{.Service}}</td></tr>
{{end}}</table>{{else}}<p>No phases recorded.</p>{{end}}
{{if .Nodes}}
<h2>Per node</h2>
<p class="small muted">{{.NodesNote}}</p>
{{if not .SlowNodes}}<p>No slow node.</p>{{end}}<table>
<tr><th>phase</th><th>node</th><th>name</th><th class="n">count</th><th class="n">errors</th><th class="n">p50</th><th class="n">p99</th><th class="n">max</th><th class="n">service p99</th>{{range $.NodeOps}}<th class="n">{{.}}</th>{{end}}</tr>
{{range .Nodes}}<tr{{if .First}} class="phase-first"{{end}}>{{if .First}}<td class="ph" rowspan="{{.Span}}"><strong>{{.Phase}}</strong></td>{{end}}<td{{if .Slow}} class="alert"{{end}}>{{.Node}}{{if .Slow}} (slow){{end}}</td><td>{{.Name}}</td><td class="n">{{.Count}}</td><td class="n{{if .HasErrors}} alert{{end}}">{{.Errors}}</td><td class="n">{{index .Lat 0}}</td><td class="n">{{index .Lat 1}}</td><td class="n">{{index .Lat 2}}</td><td class="n{{if .Slow}} alert{{end}}">{{.ServiceP99}}</td>{{range .Ops}}<td class="n">{{.}}</td>{{end}}</tr>
{{end}}</table>
{{end}}{{if .Groups}}
<h2>Per group</h2>
<p class="small muted">{{.GroupsNote}}</p><table>
<tr><th>phase</th><th>group</th><th>nodes</th><th class="n">count</th><th class="n">errors</th><th class="n">ops/s</th><th class="n">p50</th><th class="n">p99</th><th class="n">max</th><th class="n">write p99</th></tr>
{{range .Groups}}<tr{{if .First}} class="phase-first"{{end}}>{{if .First}}<td class="ph" rowspan="{{.Span}}"><strong>{{.Phase}}</strong></td>{{end}}<td{{if .Hot}} class="alert"{{end}}>{{.Group}}{{if .Hot}} (hot){{end}}</td><td>{{.Nodes}}</td><td class="n">{{.Count}}</td><td class="n{{if .HasErrors}} alert{{end}}">{{.Errors}}</td><td class="n">{{.Rate}}</td><td class="n">{{index .Lat 0}}</td><td class="n{{if .Hot}} alert{{end}}">{{index .Lat 1}}</td><td class="n">{{index .Lat 2}}</td><td class="n">{{.WriteP99}}</td></tr>
{{end}}</table>
{{end}}{{if .Reads}}
<h2>Reads by class</h2>
<p class="small muted">{{.ReadsNote}}</p><table>
<tr><th>phase</th><th>class</th><th class="n">count</th><th class="n">stale reads</th><th class="n">max staleness</th></tr>
{{range .Reads}}<tr{{if .First}} class="phase-first"{{end}}>{{if .First}}<td class="ph" rowspan="{{.Span}}"><strong>{{.Phase}}</strong></td>{{end}}<td>{{.Op}}</td><td class="n">{{.Count}}</td><td class="n{{if .HasStale}} alert{{end}}">{{.Stale}}</td><td class="n">{{.MaxStale}}</td></tr>
{{end}}</table>
{{end}}
<h2>Operational</h2>
{{if .Operational}}<table>
<tr><th>step</th><th>node</th><th>kind</th><th class="n">at</th><th class="n">time to first error</th><th class="n">unavailable</th><th class="n">recovery to baseline p99</th><th class="n">baseline p99</th><th class="n">duration</th><th class="n">bytes</th><th class="n">peak p99</th>{{if .HasFreeze}}<th class="n">freeze</th>{{end}}{{if .HasFailover}}<th class="n">failover (to first acked write)</th>{{end}}{{if .HasHandoff}}<th class="n">handoff</th>{{end}}<th>detail</th></tr>
{{range .Operational}}<tr><td>{{.Step}}</td><td>{{.Node}}</td><td>{{.Kind}}</td><td class="n">{{.At}}</td><td class="n">{{index .Cells 0}}</td><td class="n">{{index .Cells 1}}</td><td class="n{{if .NotRecovered}} alert{{end}}">{{index .Cells 2}}</td><td class="n">{{.Baseline}}</td><td class="n">{{index .Cells 3}}</td><td class="n">{{index .Cells 4}}</td><td class="n">{{index .Cells 5}}</td>{{if $.HasFreeze}}<td class="n">{{.Freeze}}</td>{{end}}{{if $.HasFailover}}<td class="n">{{.Failover}}</td>{{end}}{{if $.HasHandoff}}<td class="n">{{.Handoff}}</td>{{end}}<td class="small">{{.Detail}}</td></tr>
{{end}}</table>{{else}}<p>No fault, membership, backup or restore steps.</p>{{end}}

<h2>Safety</h2>
<table class="kv">
{{range .Safety}}<tr><th>{{.Label}}</th><td{{if .Alert}} class="alert"{{end}}>{{.Value}}</td></tr>
{{end}}</table>
{{if .LostKeys}}<p><span class="alert">Lost keys (first few):</span> <code>{{.LostKeys}}</code></p>{{end}}
{{if .StaleKeys}}<p><span class="alert">Stale keys (first few):</span> <code>{{.StaleKeys}}</code></p>{{end}}
{{if .QuorumKeys}}<p><span class="alert">Quorum not-found keys (first few):</span> <code>{{.QuorumKeys}}</code></p>{{end}}
{{if .Checks}}<table>
<tr><th>read-back</th><th>target</th><th class="n">at</th><th class="n">took</th><th class="n">checked</th><th class="n">verified</th><th class="n">lost</th><th class="n">stale</th><th class="n">quorum not-found</th><th class="n">unconfirmed</th><th class="n">unreadable</th></tr>
{{range .Checks}}<tr><td>{{.Step}}</td><td>{{.Target}}</td><td class="n">{{offset .AtMs}}</td><td class="n">{{ms .DurationMs}}</td><td class="n">{{count .Checked}}</td><td class="n">{{count .Verified}}</td><td class="n{{if .Lost}} alert{{end}}">{{count .Lost}}</td><td class="n{{if .Stale}} alert{{end}}">{{count .Stale}}</td><td class="n">{{count .QuorumNotFound}}</td><td class="n">{{count .Unconfirmed}}</td><td class="n">{{count .Unreadable}}</td></tr>
{{end}}</table>{{end}}
{{if .Evidence}}<h3>Keys not verified: how each was judged, what each replica held</h3>
<table>
<tr><th>key</th><th>verdict</th><th>judged by</th><th>partition</th><th>node</th><th>primary</th><th>replica held</th></tr>
{{range .Evidence}}<tr>{{range .}}<td class="small">{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}
` + consistencyHTML + `
<h2>Events</h2>
{{if .Events}}<table>
<tr><th>step</th><th>node</th><th>phase</th><th class="n">start</th><th class="n">end</th><th>outcome</th><th>detail</th><th class="n">line</th></tr>
{{range .Events}}<tr><td>{{.Step}}</td><td>{{.Node}}</td><td>{{.Phase}}</td><td class="n">{{.Start}}</td><td class="n">{{.End}}</td><td{{if not .OK}} class="alert"{{end}}>{{.Outcome}}</td><td class="small">{{.Detail}}</td><td class="n">{{if .Line}}{{.Line}}{{end}}</td></tr>
{{end}}</table>{{else}}<p>No timeline events.</p>{{end}}

<h2>Run details</h2>
<table class="kv">
{{range .Details}}<tr><th>{{.Label}}</th><td>{{.Value}}</td></tr>
{{end}}{{range .Config}}<tr><th>config <code>{{.Label}}</code></th><td><code>{{.Value}}</code></td></tr>
{{end}}</table>

<h2>How to read this page</h2>
<ul>
<li>Each point of the two plots is one second of the run, all operation types together; the X axis is seconds since the workload started.</li>
<li>The latency plot has a logarithmic scale so that the median (p50), the tail (p99) and the slowest operation (max) fit together; a second with no completed operation leaves a gap.</li>
<li>{{.Note}}</li>
<li>Red shading marks a fault in effect (kill, stop, pause or partition) from its step to the step that undid it (start, resume, heal) or to the end of the run;
dashed blue lines mark the other steps (membership changes, backups, restores, read-backs) and dotted grey lines the phase boundaries.</li>
<li>Throughput counts successful operations only: a dip below the dashed target line is load the database did not absorb, a peak above it is the backlog being served.</li>
<li>The operational table says, for each fault, how soon the first error came, the longest stretch with errors and no success (unavailable), and how long p99 took to come back to its baseline (the p99 before the fault); for membership, backup and restore steps, how long they took and their peak p99 (the highest p99 of the one-second windows the step overlapped: what it cost the load).</li>
<li>Safety compares every acknowledged write with what the read-backs returned: a lost key is an acknowledged write that is gone, a stale key returned an older value than the last acknowledged one.</li>
{{if .Consistency}}<li>Consistency checks every operation on a sample of keys for linearizability (each key a register; a write whose outcome is unknown may take effect at any time after its invocation, or never): a key found not linearizable is a safety failure when the database promised linearizability in the run's mode, and observed, as documented, otherwise; a key whose check ran out of its budget is unknown, never linearizable.</li>
{{end}}</ul>
</body>
</html>
`
