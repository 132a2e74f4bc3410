package render

import (
	"bytes"
	"encoding/xml"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/internal/reporttest"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
)

// floatNoise is a number a float computation left its last bits on.
var floatNoise = regexp.MustCompile(`[0-9]\.[0-9]*(0{6,}[1-9]|9{6,})`)

// checkNoFloatNoise reports a label of page's plots like 0.6000000000000001.
func checkNoFloatNoise(t *testing.T, page string) {
	t.Helper()
	for _, m := range regexp.MustCompile(`<text[^>]*>([^<]*)</text>`).FindAllStringSubmatch(page, -1) {
		if floatNoise.MatchString(m[1]) {
			t.Errorf("plot label %q shows float noise", m[1])
		}
	}
}

func TestMarkdownGolden(t *testing.T) {
	r := reporttest.Read(t, "report-a.json")
	got, err := Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "report-a.md", got)
	again, _ := Markdown(r)
	if !bytes.Equal(got, again) {
		t.Fatal("Markdown is not deterministic")
	}
}

func TestHTMLGolden(t *testing.T) {
	r := reporttest.Read(t, "report-a.json")
	got, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "report-a.html", got)
	again, _ := HTML(r)
	if !bytes.Equal(got, again) {
		t.Fatal("HTML is not deterministic")
	}
}

var (
	urlRe     = regexp.MustCompile(`(?i)https?://`)
	xmlnsRe   = regexp.MustCompile(`\sxmlns(:[a-z]+)?="https?://[^"]*"`)
	urlFuncRe = regexp.MustCompile(`(?i)url\(\s*['"]?([^'")\s]*)`)
)

func TestHTMLSelfContained(t *testing.T) {
	for _, name := range []string{"report-a.json", "report-b.json"} {
		page, err := HTML(reporttest.Read(t, name))
		if err != nil {
			t.Fatal(err)
		}
		checkSelfContained(t, string(page))
		if n := strings.Count(string(page), "<svg"); n != 2 {
			t.Errorf("%s: %d <svg> elements, want 2", name, n)
		}
	}
	// The checker itself must catch what it is for.
	for _, bad := range []string{
		`<svg></svg><script src="x.js"></script>`,
		`<svg></svg><link rel="stylesheet" href="a.css">`,
		`<svg></svg><style>@font-face{src:url(https://fonts.example/a.ttf)}</style>`,
		`<svg></svg><p>see http://example.com</p>`,
	} {
		if !failsCheck(bad) {
			t.Errorf("checkSelfContained accepts %q", bad)
		}
	}
}

func failsCheck(page string) bool {
	var failed bool
	rt := &recorder{failed: &failed}
	checkSelfContained(rt, page)
	return failed
}

// recorder is the part of testing.T that checkSelfContained needs.
type recorder struct{ failed *bool }

func (r *recorder) Helper()               {}
func (r *recorder) Error(...any)          { *r.failed = true }
func (r *recorder) Errorf(string, ...any) { *r.failed = true }

type errorer interface {
	Helper()
	Error(...any)
	Errorf(string, ...any)
}

// checkSelfContained reports anything in page that could fetch from
// elsewhere: a URL outside an xmlns attribute value, a script, a link, an
// image, an import or an external url().
func checkSelfContained(t errorer, page string) {
	t.Helper()
	if !strings.Contains(page, "<svg") {
		t.Error("no inline <svg>")
	}
	// Every URL must be the value of an xmlns attribute.
	rest := xmlnsRe.ReplaceAllString(page, "")
	if loc := urlRe.FindStringIndex(rest); loc != nil {
		lo, hi := max(0, loc[0]-60), min(len(rest), loc[1]+60)
		t.Errorf("URL outside an xmlns attribute: %q", rest[lo:hi])
	}
	lower := strings.ToLower(page)
	for _, bad := range []string{"<script", "<link", "<iframe", "<img", "<object", "<embed", "@import", "xlink:href", " href=", " src="} {
		if strings.Contains(lower, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// url( is allowed only for data: and fragment references.
	for _, m := range urlFuncRe.FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], "data:") && !strings.HasPrefix(m[1], "#") {
			t.Errorf("external url(%s)", m[1])
		}
	}
	if strings.Contains(page, "<?xml") {
		t.Error("XML prolog left inside the page")
	}
}

func TestCompareGolden(t *testing.T) {
	a, b := reporttest.Read(t, "report-a.json"), reporttest.Read(t, "report-b.json")
	c := judge.Compare(a, b, nil)
	reporttest.Golden(t, "compare-a-b.md", ComparisonMarkdown(c))
	if !c.Regressed() {
		t.Error("report-b should regress against report-a with the default limits")
	}
	if txt := ComparisonText(c); !strings.Contains(txt, "REGRESSION") {
		t.Errorf("Text has no REGRESSION line:\n%s", txt)
	}
}

func TestCompare(t *testing.T) {
	base := reporttest.Read(t, "report-a.json")
	i64 := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name       string
		limits     string
		editA      func(a *model.Report) // optional
		edit       func(b *model.Report)
		regressed  bool
		regression string // part of a regression line
		note       string // part of a note
		header     string // part of the Markdown
	}{
		{name: "identical", edit: func(*model.Report) {}},
		{name: "p99 +20% over a 10% limit", limits: "p99=10%", regressed: true, regression: "baseline/read p99",
			edit: func(b *model.Report) {
				reporttest.PhaseOp(b, "baseline", "read", func(s *model.OpStats) { s.P99Us = s.P99Us * 120 / 100 })
			}},
		{name: "p99 +8% within a 10% limit", limits: "p99=10%",
			edit: func(b *model.Report) {
				reporttest.PhaseOp(b, "baseline", "read", func(s *model.OpStats) { s.P99Us = s.P99Us * 108 / 100 })
			}},
		{name: "p99 +20% with p99 off", limits: "p99=off",
			edit: func(b *model.Report) {
				reporttest.PhaseOp(b, "baseline", "read", func(s *model.OpStats) { s.P99Us = s.P99Us * 120 / 100 })
			}},
		{name: "p99 faster is fine", limits: "p99=10%",
			edit: func(b *model.Report) {
				reporttest.PhaseOp(b, "baseline", "read", func(s *model.OpStats) { s.P99Us /= 2 })
			}},
		{name: "throughput -10% over a 5% limit", limits: "throughput=5%", regressed: true, regression: "fault/all throughput",
			edit: func(b *model.Report) {
				reporttest.PhaseOp(b, "fault", "all", func(s *model.OpStats) { s.Throughput *= 0.9 })
			}},
		{name: "throughput +10% is fine", limits: "throughput=5%",
			edit: func(b *model.Report) {
				reporttest.PhaseOp(b, "fault", "all", func(s *model.OpStats) { s.Throughput *= 1.1 })
			}},
		{name: "error rate +2 points over 1", limits: "errors=1%", regressed: true, regression: "recovery/write error rate",
			edit: func(b *model.Report) {
				reporttest.PhaseOp(b, "recovery", "write", func(s *model.OpStats) { s.Errors += s.Count * 2 / 100 })
			}},
		{name: "error rate +2 points unchecked by default",
			edit: func(b *model.Report) {
				reporttest.PhaseOp(b, "recovery", "write", func(s *model.OpStats) { s.Errors += s.Count * 2 / 100 })
			}},
		{name: "lost increase", regressed: true, regression: "safety lost: 0 -> 3",
			edit: func(b *model.Report) { b.Safety.Lost = 3; b.Safety.Verified -= 3 }},
		{name: "stale increase", regressed: true, regression: "safety stale",
			edit: func(b *model.Report) { b.Safety.Stale = 1 }},
		{name: "lost within lost=5", limits: "lost=5",
			edit: func(b *model.Report) { b.Safety.Lost = 3 }},
		{name: "phase only in B", note: `phase "chaos" is only in B`,
			edit: func(b *model.Report) {
				p := b.Phases[len(b.Phases)-1]
				p.Name = "chaos"
				p.Total.P99Us *= 10
				b.Phases = append(b.Phases, p)
			}},
		{name: "phase only in A", note: `phase "warmup" is only in A`,
			edit: func(b *model.Report) { b.Phases = b.Phases[1:] }},
		{name: "op only in B", note: `op "scan" is only in B`,
			edit: func(b *model.Report) {
				b.Phases[1].Ops["scan"] = model.OpStats{Count: 10, P99Us: 1e6}
			}},
		{name: "different scenario is a note", note: "different scenarios",
			edit: func(b *model.Report) { b.Scenario.Name = "partition" }},
		{name: "different database is said in the header", header: "Comparing different databases or drivers on the same scenario",
			edit: func(b *model.Report) {
				b.Driver.Name, b.Driver.DB, b.Driver.DBVersion = "cockroach", "cockroachdb", "v24.3.1"
			}},
		{name: "unavailable +1s and +54%", regressed: true, regression: "operational kill n2 unavailable",
			edit: func(b *model.Report) { b.Operational[0].UnavailableMs = i64(2850) }},
		{name: "unavailable +30% but only +300ms is noise",
			editA: func(a *model.Report) { a.Operational[0].UnavailableMs = i64(1000) },
			edit: func(b *model.Report) {
				b.Operational[0].UnavailableMs = i64(1300)
				b.Operational[0].RecoveryToBaselineMs = i64(5500)
			}},
		{name: "not recovered", regressed: true, regression: "recovery to baseline p99",
			edit: func(b *model.Report) { b.Operational[0].RecoveryToBaselineMs = i64(-1) }},
		{name: "operational only in B", note: "operational backup #2",
			edit: func(b *model.Report) {
				b.Operational = append(b.Operational, model.Operational{Step: "backup", AtMs: 80000, Kind: "backup", DurationMs: i64(100)})
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := reporttest.Clone(t, base)
			if tc.editA != nil {
				tc.editA(a)
			}
			b := reporttest.Clone(t, base)
			tc.edit(b)
			var lim judge.Limits
			if tc.limits != "" {
				var err error
				if lim, err = judge.ParseLimits(tc.limits); err != nil {
					t.Fatal(err)
				}
			}
			c := judge.Compare(a, b, lim)
			if c.Regressed() != tc.regressed {
				t.Fatalf("Regressed() = %v, want %v; regressions %q", c.Regressed(), tc.regressed, c.Regressions)
			}
			if tc.regressed && tc.regression != "" && !containsAny(c.Regressions, tc.regression) {
				t.Errorf("no regression with %q in %q", tc.regression, c.Regressions)
			}
			if !tc.regressed && len(c.Regressions) > 0 {
				t.Errorf("unexpected regressions %q", c.Regressions)
			}
			if tc.note != "" && !containsAny(c.Notes, tc.note) {
				t.Errorf("no note with %q in %q", tc.note, c.Notes)
			}
			md := string(ComparisonMarkdown(c))
			if tc.name == "identical" && (len(c.Notes) > 0 || strings.Contains(md, "Comparing different")) {
				t.Errorf("identical reports have notes %q", c.Notes)
			}
			if tc.header != "" && !strings.Contains(md, tc.header) {
				t.Errorf("Markdown lacks %q", tc.header)
			}
			if strings.Contains(md, "**REGRESSION**") != tc.regressed {
				t.Errorf("Markdown REGRESSION marker present = %v, want %v", !tc.regressed, tc.regressed)
			}
			if txt := ComparisonText(c); strings.Contains(txt, "REGRESSION") != tc.regressed {
				t.Errorf("Text REGRESSION present = %v, want %v:\n%s", !tc.regressed, tc.regressed, txt)
			}
		})
	}
}

func containsAny(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestWriteAll(t *testing.T) {
	r := reporttest.Read(t, "report-a.json")
	r.Files = model.Files{}
	dir := t.TempDir()
	if err := WriteAll(dir, r); err != nil {
		t.Fatal(err)
	}
	want := model.Files{JSON: "report.json", Markdown: "report.md", HTML: "report.html"}
	if r.Files != want {
		t.Errorf("Files = %+v, want %+v", r.Files, want)
	}
	for _, f := range []string{r.Files.JSON, r.Files.Markdown, r.Files.HTML} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	back, err := reports.ReadJSON(filepath.Join(dir, reports.FileJSON))
	if err != nil || back.Files != want {
		t.Errorf("report.json Files = %+v, %v", back.Files, err)
	}
	// With a latency log present, it is named.
	if err := os.WriteFile(filepath.Join(dir, reports.FileHdrLog), []byte("#hdr\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteAll(dir, r); err != nil {
		t.Fatal(err)
	}
	if r.Files.HdrLog != "latency.hlog" {
		t.Errorf("HdrLog = %q", r.Files.HdrLog)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("%d files in the run directory, want 4", len(entries))
	}
}

// edgeReport is an awkward report: incomplete, data loss, a fault never
// undone, a failed step, empty windows, names that need escaping.
func edgeReport() *model.Report {
	i64 := func(v int64) *int64 { return &v }
	r := &model.Report{Schema: model.Schema, Complete: false, Incomplete: "interrupted by <signal> | SIGINT\nat 41s"}
	r.Run = model.RunInfo{ID: "edge", DurationMs: 41000}
	r.Driver = model.DriverInfo{Name: "fake", Provider: "local", DB: "fakedb", DBVersion: "0.0.1", Nodes: 5}
	r.Scenario = model.ScenarioInfo{Name: `chaos <script>alert("x")</script>`, Source: "/tmp/x.scn"}
	r.Workload = model.WorkloadInfo{Mix: map[string]int{"write": 1, "scan": 1}, TargetRate: 200, Concurrency: 4, TimeoutMs: 500}
	r.Events = []model.Event{
		{Step: "pause", Kind: "fault", Node: 1, StartMs: 2000, EndMs: 2010, Outcome: "ok"},
		{Step: "kill", Kind: "fault", Node: 3, StartMs: 2500, EndMs: 2600, Outcome: "error: container not found"},
		{Step: "add-node", Kind: "membership", StartMs: 3000, EndMs: 9000, Outcome: "ok", Detail: "n6"},
		{Step: "remove-node", Kind: "membership", Node: 4, StartMs: 3200, EndMs: 5000, Outcome: "not supported by this driver"},
		{Step: "resume", Kind: "recovery", Ends: []string{"pause"}, Node: 2, StartMs: 6000, EndMs: 6010, Outcome: "ok"},
		{Step: "resume", Kind: "recovery", Ends: []string{"pause"}, Node: 1, StartMs: 8000, EndMs: 8010, Outcome: "ok"},
		{Step: "partition", Kind: "fault", StartMs: 15000, EndMs: 15050, Outcome: "ok", Detail: "{1,2} {3,4,5}"},
		{Step: "backup", Kind: "backup", StartMs: 16000, EndMs: 18000, Outcome: "ok"},
		{Step: "restore", Kind: "restore", StartMs: 19000, EndMs: 25000, Outcome: "ok"},
	}
	r.Phases = []model.Phase{
		{Name: "a<b>", StartMs: 0, EndMs: 15000, Ops: map[string]model.OpStats{
			"write": {Count: 2000, Errors: 3, P50Us: 900, P90Us: 1500, P99Us: 8000, P999Us: 30000, MaxUs: 90000, Throughput: 133},
			"scan":  {Count: 0},
		}, Total: model.OpStats{Count: 2000, Errors: 3, P50Us: 900, P99Us: 8000, MaxUs: 90000, Throughput: 133}},
		{Name: "split | brain", StartMs: 15000, EndMs: 41000, Total: model.OpStats{Count: 10, Errors: 10, P50Us: 500000, P99Us: 500000, MaxUs: 500000, NotFoundAcked: 7}},
	}
	for i := 0; i < 41; i++ {
		w := model.Window{StartMs: int64(i) * 1000, Count: 200, P50Us: 900, P99Us: 8000, MaxUs: 20000, Rate: 200}
		switch {
		case i == 5:
			w.P50Us = 0 // a zero value on the log axis
		case i >= 15 && i < 20:
			w = model.Window{StartMs: int64(i) * 1000} // nothing completed
		case i >= 20:
			w.Count, w.Errors, w.Rate, w.P50Us, w.P99Us, w.MaxUs = 1, 1, 0, 500000, 500000, 500000
		}
		if i == 12 {
			continue // a missing window
		}
		r.Windows = append(r.Windows, w)
	}
	r.Safety = model.Safety{Acknowledged: 100, Verified: 95, Lost: 4, Stale: 1, LostKeys: []string{"k1", "k<2>"}, StaleKeys: []string{"k|9"}}
	r.Operational = []model.Operational{
		{Step: "partition", AtMs: 15000, Kind: "fault", TimeToFirstErrorMs: i64(-1), UnavailableMs: i64(26000), RecoveryToBaselineMs: i64(-1)},
		{Step: "backup", Method: "snapshot", AtMs: 18000, Kind: "backup", DurationMs: i64(900), Bytes: i64(4096), PeakP99Us: 250000, FreezeMs: i64(325)},
		{Step: "restore", AtMs: 19000, Kind: "restore", DurationMs: i64(6000)},
		{Step: "start", Node: 2, AtMs: 20000, Kind: "recovery", HandoffMs: i64(199000), HandoffPartitions: i64(10)},
		{Step: "add-node", Node: 4, AtMs: 30000, Kind: "membership", HandoffPartitions: i64(21)},
		{Step: "promote", Node: 3, AtMs: 33000, Kind: "failover", TimeToFirstErrorMs: i64(0), UnavailableMs: i64(400), RecoveryToBaselineMs: i64(2000), FailoverMs: i64(1234)},
		{Step: "switchover", Node: 1, AtMs: 36000, Kind: "failover", TimeToFirstErrorMs: i64(0), UnavailableMs: i64(0), RecoveryToBaselineMs: i64(0), FailoverMs: i64(-1)},
	}
	r.Safety.Siblings = 3
	r.Safety.NotFoundReads = 7
	return r
}

func TestRenderEdgeCases(t *testing.T) {
	r := edgeReport()
	md, err := Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	m := string(md)
	for _, want := range []string{"INCOMPLETE: interrupted by &lt;signal> \\| SIGINT at 41s", "**DATA LOSS**", "not recovered", "no errors", "| split \\| brain |",
		"| handoff |", "(10 partitions)", "not done (21 partitions)", "3 reads with siblings",
		"| failover (to first acked write) |", "| 1.23s |", "| no write |", "| peak p99 | freeze |", "| 325ms |", "7 not-found reads of acknowledged keys during the run (by phase: split \\| brain 7)"} {
		if !strings.Contains(m, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, m)
		}
	}
	if strings.Contains(m, "<script") || strings.Contains(m, "<b>") {
		t.Errorf("Markdown lets HTML through:\n%s", m)
	}
	page, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv("EVALRUN_EDGE_HTML"); p != "" {
		_ = os.WriteFile(p, page, 0o644)
	}
	h := string(page)
	checkSelfContained(t, h)
	for _, bad := range []string{"<script", "<b>", "<signal>", "k<2>"} {
		if strings.Contains(h, bad) {
			t.Errorf("HTML contains unescaped %q", bad)
		}
	}
	for _, want := range []string{"DATA LOSS", "INCOMPLETE", "not recovered", "a&lt;b&gt;", "partition (to the end)", "kill n3 (error)",
		"failover (to first acked write)", "no write", `<th class="n">freeze</th>`, `<td class="n">325ms</td>`} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

func TestTimelineMarks(t *testing.T) {
	r := edgeReport()
	shades, lines := timelineMarks(r, 41000)
	want := []shade{
		{Label: "pause n1", FromMs: 2000, ToMs: 8000, Terminated: true}, // resume n2 does not undo it
		{Label: "partition", FromMs: 15000, ToMs: 41000},
	}
	if len(shades) != len(want) {
		t.Fatalf("shades %+v, want %+v", shades, want)
	}
	for i := range want {
		if shades[i] != want[i] {
			t.Errorf("shade %d = %+v, want %+v", i, shades[i], want[i])
		}
	}
	var got []string
	for _, l := range lines {
		got = append(got, l.Label)
	}
	wantLines := "kill n3 (error),add-node,remove-node n4 (not supported by this driver),resume n2,backup,restore,a<b>,split | brain"
	if strings.Join(got, ",") != wantLines {
		t.Errorf("lines %q, want %q", strings.Join(got, ","), wantLines)
	}
}

func TestGaugePlot(t *testing.T) {
	r := edgeReport()
	page, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(page), "Cluster gauges") {
		t.Error("a report without gauges shows a gauge plot")
	}
	// samples every 5 s, as Riak's handoff gauge is taken
	for i := range r.Windows {
		if r.Windows[i].StartMs%5000 == 0 {
			r.Windows[i].Gauges = map[string]float64{"handoff_partitions": float64(40 - r.Windows[i].StartMs/1000)}
		}
	}
	if got := gaugeNames(r.Windows); strings.Join(got, ",") != "handoff_partitions" {
		t.Errorf("gauge names %v", got)
	}
	ps, err := gaugePlots(r, nil, nil, 41000)
	if err != nil || len(ps) != 1 {
		t.Fatalf("gauge plots: %d, %v; want one", len(ps), err)
	}
	if ps[0].Y.Max < 40 {
		t.Errorf("y axis up to %v, below the largest value 40", ps[0].Y.Max)
	}
	page, err = HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	h := string(page)
	checkSelfContained(t, h)
	for _, want := range []string{"Cluster gauges over time", "handoff_partitions: partitions waiting for handoff"} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

// A primary with a replica reports lag in seconds (two gauges), a 0/1
// flag and nothing of Riak's: a plot per unit, and a caption of its own
// gauges only.
func TestGaugePlotsPerUnit(t *testing.T) {
	r := edgeReport()
	for i := range r.Windows {
		s := float64(r.Windows[i].StartMs / 1000)
		r.Windows[i].Gauges = map[string]float64{
			"lag_s.node2":                 s / 10,
			"seconds_behind_master.node2": math.Floor(s / 10),
			"replicating.node2":           1,
		}
	}
	groups := gaugeGroups(r.Windows)
	var got []string
	for _, g := range groups {
		got = append(got, g.unit.title+": "+strings.Join(g.names, ","))
	}
	want := []string{
		"Replication lag (seconds): lag_s.node2,seconds_behind_master.node2",
		"Replication running (1 = yes, 0 = no): replicating.node2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("gauge plots:\n got %q\nwant %q", got, want)
	}
	ps, err := gaugePlots(r, nil, nil, 41000)
	if err != nil || len(ps) != 2 {
		t.Fatalf("gauge plots: %d, %v; want 2", len(ps), err)
	}
	for _, tk := range ps[1].Y.Tick.Marker.Ticks(ps[1].Y.Min, ps[1].Y.Max) {
		if tk.Value != math.Trunc(tk.Value) {
			t.Errorf("the 0/1 flag's axis has a tick at %v", tk.Value)
		}
	}
	page, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	h := string(page)
	checkSelfContained(t, h)
	checkNoFloatNoise(t, h)
	if n := strings.Count(h, "<svg"); n != 4 {
		t.Errorf("%d plots, want 4 (latency, throughput, lag, replicating)", n)
	}
	for _, want := range []string{"Replication lag (seconds)", "Replication running", "lag_s.&lt;node&gt;: the age of the newest heartbeat",
		"seconds_behind_master.&lt;node&gt;:", "replicating.&lt;node&gt;: 1 while"} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(h, "handoff_partitions") || strings.Contains(h, "partitions waiting") {
		t.Error("the caption explains Riak's handoff_partitions on a run that has no such gauge")
	}
	// A gauge evalrun does not know gets a plot of its own.
	r.Windows[0].Gauges["queue_depth.node1"] = 3
	groups = gaugeGroups(r.Windows)
	if len(groups) != 3 || !slices.ContainsFunc(groups, func(g gaugeGroup) bool {
		return g.unit.title == "queue_depth" && slices.Equal(g.names, []string{"queue_depth.node1"})
	}) {
		t.Errorf("unknown gauge: groups %+v", groups)
	}
}

// Windows roll a few ms early or late; only a missing window breaks the
// plotted lines (issue 13: every window was drawn as a dash of its own).
func TestWindowGaps(t *testing.T) {
	var ws []model.Window
	for _, at := range []int64{0, 1002, 1995, 3004, 4000, 6003, 7001} { // the window at ~5000 is missing
		ws = append(ws, model.Window{StartMs: at})
	}
	n := windowLen(ws)
	if n < 995 || n > 1005 {
		t.Errorf("window length %d ms", n)
	}
	var gaps []int64
	for i := range ws {
		if gapBefore(ws, i, n) {
			gaps = append(gaps, ws[i].StartMs)
		}
	}
	if len(gaps) != 1 || gaps[0] != 6003 {
		t.Errorf("gaps before %v, want only before 6003", gaps)
	}
}

// The JUnit report has a test case per checked metric and a failure per
// regression (issue 13: CI systems display JUnit natively).
func TestCompareJUnit(t *testing.T) {
	a, b := reporttest.Read(t, "report-a.json"), reporttest.Read(t, "report-b.json")
	c := judge.Compare(a, b, nil)
	out, err := ComparisonJUnit(c)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	}
	if err := xml.Unmarshal(out, &s); err != nil {
		t.Fatalf("not XML: %v\n%s", err, out)
	}
	failed := 0
	for _, tc := range s.Cases {
		if tc.Failure != nil {
			failed++
			if !strings.Contains(tc.Failure.Message, "limit") {
				t.Errorf("failure without the numbers: %q", tc.Failure.Message)
			}
		}
	}
	if s.Tests != c.Checks() || len(s.Cases) != s.Tests || s.Failures != len(c.Regressions) || failed != s.Failures {
		t.Errorf("tests %d (cases %d), checks %d; failures %d (%d marked), regressions %d", s.Tests, len(s.Cases), c.Checks(), s.Failures, failed, len(c.Regressions))
	}
	if s.Failures == 0 {
		t.Error("report-b regressed against report-a, but JUnit has no failure")
	}
}

func TestMarkdownGaugesPerPhase(t *testing.T) {
	r := edgeReport()
	md, err := Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(md), "Cluster gauges") {
		t.Error("a report without gauges has a gauge table")
	}
	if len(r.Phases) == 0 {
		t.Fatal("edge report has no phase")
	}
	r.Phases[0].Gauges = map[string]model.GaugeStats{
		"lag_s.node2": {Samples: 40, Min: 0.01, P99: 4.9876, Max: 5.2, Last: 0.3},
		"lag_s.node3": {Samples: 40, Min: 0, P99: 1, Max: 1.25, Last: 0},
	}
	md, err = Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	want := "| lag_s.node2 | " + mdText(r.Phases[0].Name) + " | 40 | 0.01 | 4.988 | 5.2 | 0.3 |\n| lag_s.node3 |"
	if !strings.Contains(string(md), "## Cluster gauges per phase") || !strings.Contains(string(md), want) {
		t.Errorf("Markdown lacks the gauge rows %q:\n%s", want, md)
	}
	page, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	checkSelfContained(t, string(page))
	if !strings.Contains(string(page), `<tr><td>lag_s.node2</td><td>a&lt;b&gt;</td><td class="n">40</td><td class="n">0.01</td><td class="n">4.988</td>`) {
		t.Error("HTML lacks the gauge table's row for lag_s.node2")
	}
}
