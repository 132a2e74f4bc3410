package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/internal/reporttest"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
)

func TestCompareSets(t *testing.T) {
	for _, tc := range []struct {
		name         string
		na, nb       int
		scaleB       float64
		mutateB      func(rs []*model.Report)
		regressed    bool
		incomparable bool
		verdict      string // in the verdict line
		regression   string // in a regression line
		inconclusive bool
	}{
		{name: "identical distributions", na: 6, nb: 6, scaleB: 1, verdict: "OK: no significant change"},
		{name: "15% p99 shift, 6 runs each", na: 6, nb: 6, scaleB: 1.15, regressed: true,
			verdict: "REGRESSION", regression: "baseline/all p99"},
		{name: "15% shift, too few runs", na: 2, nb: 2, scaleB: 1.15, inconclusive: true,
			verdict: "need ≥ 4 runs each for α=0.05"},
		{name: "one lost key in one run", na: 2, nb: 2, scaleB: 1, regressed: true,
			mutateB:    func(rs []*model.Report) { rs[1].Safety.Lost = 1 },
			regression: "safety lost: 0 -> 1", inconclusive: true},
		{name: "other scenario name: compared, with a note", na: 6, nb: 6, scaleB: 1, verdict: "OK: no significant change",
			mutateB: func(rs []*model.Report) {
				for _, r := range rs {
					r.Scenario.Name = "rebalance"
				}
			}},
		{name: "faster is no regression", na: 6, nb: 6, scaleB: 0.8, verdict: "OK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := judge.SetOfReports("A", reporttest.SynthRuns(t, tc.na, 1, 0, reporttest.Night0())...)
			rb := reporttest.SynthRuns(t, tc.nb, tc.scaleB, 3, reporttest.Night0().Add(24*time.Hour))
			if tc.mutateB != nil {
				tc.mutateB(rb)
			}
			b := judge.SetOfReports("B", rb...)
			c := judge.CompareSets(a, b, nil, 0.05)
			if c.Regressed() != tc.regressed {
				t.Errorf("Regressed() = %v, want %v: %v", c.Regressed(), tc.regressed, c.Regressions)
			}
			if (c.Incomparable != "") != tc.incomparable {
				t.Errorf("Incomparable = %q", c.Incomparable)
			}
			if !strings.Contains(c.VerdictLine(), tc.verdict) {
				t.Errorf("verdict %q does not say %q", c.VerdictLine(), tc.verdict)
			}
			if tc.regression != "" && !containsAny(c.Regressions, tc.regression) {
				t.Errorf("regressions %q lack %q", c.Regressions, tc.regression)
			}
			inconclusive := false
			c.EachMetric(func(_ string, m judge.MetricComparison) { inconclusive = inconclusive || m.Inconclusive })
			if inconclusive != tc.inconclusive {
				t.Errorf("inconclusive metrics: %v, want %v", inconclusive, tc.inconclusive)
			}
			md := string(ComparisonMarkdown(c))
			if tc.regressed && !strings.Contains(md, "**REGRESSION**") {
				t.Errorf("Markdown lacks the regression:\n%s", md)
			}
			if _, err := ComparisonJUnit(c); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRunSetMarkdownGolden(t *testing.T) {
	rs := reporttest.SynthRuns(t, 3, 1, 0, reporttest.Night0())
	rs[2].Complete, rs[2].Incomplete = false, "interrupted by a signal (SIGINT/SIGTERM)"
	// Three runs on disk and a fourth that failed before writing a report.
	dir := t.TempDir()
	entries := append(reporttest.WriteRuns(t, dir, rs), model.RunEntry{Dir: reports.RunDirName(4), Error: "start cluster: port in use"})
	s, err := judge.BuildRunSet(dir, "set-1", 4, entries, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Complete || !strings.Contains(s.Incomplete, "2 run(s) failed or incomplete") {
		t.Errorf("set Complete %v %q", s.Complete, s.Incomplete)
	}
	reporttest.Golden(t, "runs.md", RunSetMarkdown(s))
	page, err := RunSetHTML(s)
	if err != nil {
		t.Fatal(err)
	}
	checkSelfContained(t, string(page))
}

func TestRunSetOnDisk(t *testing.T) {
	dir := t.TempDir()
	entries := reporttest.WriteRuns(t, dir, reporttest.SynthRuns(t, 2, 1, 0, reporttest.Night0()))
	entries = append(entries, model.RunEntry{Dir: reports.RunDirName(3), Error: "run failed before its report"})
	s, err := judge.BuildRunSet(dir, "set", 4, entries, "interrupted by a signal (SIGINT/SIGTERM)")
	if err != nil {
		t.Fatal(err)
	}
	if s.Complete || len(s.Runs) != 3 || !strings.Contains(s.Incomplete, "interrupted") || !strings.Contains(s.Incomplete, "3 of 4 runs ran") {
		t.Fatalf("set: complete %v, %d runs, %q", s.Complete, len(s.Runs), s.Incomplete)
	}
	for _, m := range s.Metrics {
		if len(m.Values) != 3 || m.Values[2] != nil {
			t.Fatalf("%s: values %v: the failed run must be counted with no value", format.MetricLabel(m), m.Values)
		}
	}
	if err := WriteRunSet(dir, s); err != nil {
		t.Fatal(err)
	}
	back, err := reports.ReadRunSet(filepath.Join(dir, reports.FileRunsJSON))
	if err != nil {
		t.Fatal(err)
	}
	if back.Schema != model.RunsSchema || len(back.Metrics) != len(s.Metrics) || back.Runs[2].Error == "" {
		t.Errorf("read back %s, %d metrics, run 3 %+v", back.Schema, len(back.Metrics), back.Runs[2])
	}
	again, err := judge.RebuildRunSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != "set" || again.Requested != 4 || len(again.Runs) != 3 || again.Runs[2].Error == "" || !strings.Contains(again.Incomplete, "interrupted") {
		t.Errorf("rebuilt set: id %q, %d of %d runs, run 3 %+v, %q", again.ID, len(again.Runs), again.Requested, again.Runs[2], again.Incomplete)
	}
	mixed := t.TempDir()
	rs := reporttest.SynthRuns(t, 2, 1, 0, reporttest.Night0())
	rs[1].Scenario.Name = "rebalance"
	if _, err := judge.BuildRunSet(mixed, "mixed", 2, reporttest.WriteRuns(t, mixed, rs), ""); err == nil || !strings.Contains(err.Error(), "one scenario") {
		t.Errorf("a set of two scenarios: %v", err)
	}
	if _, err := judge.RebuildRunSet(t.TempDir()); err == nil {
		t.Error("an empty directory rebuilt as a set")
	}
	r, set, err := judge.ReadInput(dir)
	if err != nil || r != nil || set == nil {
		t.Errorf("ReadInput(set dir) = %v, %v, %v", r, set, err)
	}
	r, set, err = judge.ReadInput(filepath.Join(dir, reports.RunDirName(1)))
	if err != nil || r == nil || set != nil {
		t.Errorf("ReadInput(run dir) = %v, %v, %v", r, set, err)
	}
	if err := os.Remove(filepath.Join(dir, reports.FileRunsJSON)); err != nil {
		t.Fatal(err)
	}
	r, set, err = judge.ReadInput(dir)
	if err != nil || r != nil || set == nil || len(set.Runs) != 2 {
		t.Errorf("ReadInput(dir of runs) = %v, %v, %v", r, set, err)
	}
	if _, err := reports.ReadRunSet(filepath.Join(dir, reports.RunDirName(1), reports.FileJSON)); err == nil || !strings.Contains(err.Error(), "run set schema") {
		t.Errorf("a report read as a run set: %v", err)
	}
}

func TestHistory(t *testing.T) {
	root := t.TempDir()
	// Nights written out of order into two directories: the history
	// orders them by run start. Night 5 is 15 % slower at p99.
	for _, nt := range []struct {
		dir   string
		night int
		scale float64
		runs  int
	}{
		{"b", 3, 1, 6}, {"a", 1, 1, 6}, {"b", 5, 1.15, 6}, {"a", 2, 1, 6}, {"a", 4, 1, 1},
	} {
		rs := reporttest.SynthRuns(t, nt.runs, nt.scale, nt.night, reporttest.Night0().Add(time.Duration(nt.night)*24*time.Hour))
		d := filepath.Join(root, nt.dir, "night-"+string(rune('0'+nt.night)))
		entries := reporttest.WriteRuns(t, d, rs)
		if nt.runs == 1 {
			continue // a plain report, no set
		}
		s, err := judge.BuildRunSet(d, "night-"+string(rune('0'+nt.night)), nt.runs, entries, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteRunSet(d, s); err != nil {
			t.Fatal(err)
		}
	}
	nights, err := judge.ReadNights([]string{filepath.Join(root, "a"), filepath.Join(root, "b")})
	if err != nil {
		t.Fatal(err)
	}
	if len(nights) != 5 {
		t.Fatalf("%d nights, want 5", len(nights))
	}
	for i, n := range nights {
		if want := reporttest.Night0().Add(time.Duration(i+1) * 24 * time.Hour); !n.Set.Start.Equal(want) {
			t.Errorf("night %d starts %v, want %v (%s)", i+1, n.Set.Start, want, n.Path)
		}
	}
	h := judge.BuildHistory(nights, 3, nil, 0.05)
	if len(h.Scenarios) != 1 {
		t.Fatalf("%d scenarios", len(h.Scenarios))
	}
	sh := h.Scenarios[0]
	// The band is nights 2-4 (K=3): 6 + 6 + 1 runs.
	if sh.BandFrom != 1 || len(sh.Band.Runs) != 13 {
		t.Errorf("band from night %d with %d runs, want night 2 and 13 runs", sh.BandFrom+1, len(sh.Band.Runs))
	}
	if !h.Regressed() || !containsAny(sh.Verdict.Regressions, "p99") {
		t.Errorf("night 5 (+15%% p99) not flagged: %v", sh.Verdict.Regressions)
	}
	if !sh.Changed[4][judge.MetricKey(model.SetMetric{Group: "phase", Phase: "baseline", Op: "all", Metric: "p99"})] {
		t.Errorf("night 5 not marked as changed: %v", sh.Changed[4])
	}
	for j := 1; j < 4; j++ {
		if len(sh.Changed[j]) > 0 {
			t.Errorf("night %d marked as changed: %v", j+1, sh.Changed[j])
		}
	}
	md := HistoryMarkdown(h)
	md = []byte(strings.ReplaceAll(string(md), root, "ROOT"))
	reporttest.Golden(t, "history.md", md)
	page, err := HistoryHTML(h)
	if err != nil {
		t.Fatal(err)
	}
	checkSelfContained(t, string(page))
	checkNoFloatNoise(t, string(page))
	if !strings.Contains(string(page), "<svg") || !strings.Contains(string(page), "Lost and stale keys") {
		t.Error("history page has no plot of lost and stale keys")
	}
	if _, err := HistoryJUnit(h); err != nil {
		t.Fatal(err)
	}
}
