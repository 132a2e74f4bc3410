package reports

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// runNoise is the run-to-run spread of the synthetic sets (±4 %).
var runNoise = []float64{1.00, 1.03, 0.97, 1.02, 0.98, 1.01, 0.99, 1.04, 0.96}

// synthRuns returns n runs of report-a: run i has its p99 latencies and
// unavailability scaled by p99Scale times the i-th noise (shifted by
// offset, so that two sets draw different noise), and all other
// latencies by the noise alone. Starts are a minute apart from start.
func synthRuns(t *testing.T, n int, p99Scale float64, offset int, start time.Time) []*Report {
	t.Helper()
	base := mustRead(t, "report-a.json")
	var out []*Report
	for i := range n {
		r := clone(t, base)
		f := runNoise[(i+offset)%len(runNoise)]
		scale := func(st *OpStats) {
			st.P50Us = int64(float64(st.P50Us) * f)
			st.P90Us = int64(float64(st.P90Us) * f)
			st.P99Us = int64(float64(st.P99Us) * f * p99Scale)
			st.P999Us = int64(float64(st.P999Us) * f)
			st.MaxUs = int64(float64(st.MaxUs) * f)
			st.Throughput *= 2 - f
		}
		for pi := range r.Phases {
			for op, st := range r.Phases[pi].Ops {
				scale(&st)
				r.Phases[pi].Ops[op] = st
			}
			scale(&r.Phases[pi].Total)
		}
		for oi := range r.Operational {
			if u := r.Operational[oi].UnavailableMs; u != nil {
				v := int64(float64(*u) * f * p99Scale)
				r.Operational[oi].UnavailableMs = &v
			}
		}
		r.Run.ID = "run-" + string(rune('a'+i))
		r.Run.Start = start.Add(time.Duration(i) * time.Minute)
		r.Run.End = r.Run.Start.Add(90 * time.Second)
		out = append(out, r)
	}
	return out
}

var night0 = time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)

func TestCompareSets(t *testing.T) {
	for _, tc := range []struct {
		name         string
		na, nb       int
		scaleB       float64
		mutateB      func(rs []*Report)
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
			mutateB:    func(rs []*Report) { rs[1].Safety.Lost = 1 },
			regression: "safety lost: 0 -> 1", inconclusive: true},
		{name: "other scenario", na: 6, nb: 6, scaleB: 1, incomparable: true,
			mutateB: func(rs []*Report) {
				for _, r := range rs {
					r.Scenario.Name = "rebalance"
				}
			}},
		{name: "faster is no regression", na: 6, nb: 6, scaleB: 0.8, verdict: "OK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := SetOfReports("A", synthRuns(t, tc.na, 1, 0, night0)...)
			rb := synthRuns(t, tc.nb, tc.scaleB, 3, night0.Add(24*time.Hour))
			if tc.mutateB != nil {
				tc.mutateB(rb)
			}
			b := SetOfReports("B", rb...)
			c := CompareSets(a, b, nil, 0.05)
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
			c.eachMetric(func(_ string, m MetricComparison) { inconclusive = inconclusive || m.Inconclusive })
			if inconclusive != tc.inconclusive {
				t.Errorf("inconclusive metrics: %v, want %v", inconclusive, tc.inconclusive)
			}
			md := string(c.Markdown())
			if tc.regressed && !strings.Contains(md, "**REGRESSION**") {
				t.Errorf("Markdown lacks the regression:\n%s", md)
			}
			if _, err := c.JUnit(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCompareSetsSaysTheSize(t *testing.T) {
	a := SetOfReports("A", synthRuns(t, 6, 1, 0, night0)...)
	b := SetOfReports("B", synthRuns(t, 6, 1.15, 3, night0)...)
	c := CompareSets(a, b, nil, 0.05)
	var p99 *MetricComparison
	c.eachMetric(func(class string, m MetricComparison) {
		if class == "phase baseline.all" && m.Metric == "p99" {
			p99 = &m
		}
	})
	if p99 == nil || !p99.Regression {
		t.Fatalf("baseline/all p99 not flagged: %+v", p99)
	}
	if p99.Change < 12 || p99.Change > 18 {
		t.Errorf("change %.1f%%, want about +15%%", p99.Change)
	}
	ci := shiftCIText(*p99)
	if !strings.HasPrefix(ci, "95% CI [+") {
		t.Errorf("interval %q should be positive", ci)
	}
	if st := p99.Stat; st.P >= 0.05 || st.NA != 6 || st.NB != 6 {
		t.Errorf("stat %+v", st)
	}
}

func TestRunSetMarkdownGolden(t *testing.T) {
	rs := synthRuns(t, 3, 1, 0, night0)
	rs[2].Complete, rs[2].Incomplete = false, "interrupted by a signal (SIGINT/SIGTERM)"
	s := SetOfReports("set-1", rs...)
	s.Requested = 4
	s.Runs = append(s.Runs, RunEntry{Dir: RunDirName(4), Error: "start cluster: port in use"})
	s = refinish(s)
	if s.Complete || !strings.Contains(s.Incomplete, "2 run(s) failed or incomplete") {
		t.Errorf("set Complete %v %q", s.Complete, s.Incomplete)
	}
	golden(t, "runs.md", RunSetMarkdown(s))
	page, err := RunSetHTML(s)
	if err != nil {
		t.Fatal(err)
	}
	checkSelfContained(t, string(page))
}

// refinish recomputes a set's summary after a test changed its runs.
func refinish(s *RunSet) *RunSet {
	sb := newSetBuilder(s.ID, s.Requested)
	sb.set = s
	return sb.finish("")
}

// writeRuns writes each report into dir/run-i as a repeat does.
func writeRuns(t *testing.T, dir string, rs []*Report) []RunEntry {
	t.Helper()
	var entries []RunEntry
	for i, r := range rs {
		d := RunDirName(i + 1)
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := WriteJSON(filepath.Join(dir, d), r); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, RunEntry{Dir: d})
	}
	return entries
}

func TestRunSetOnDisk(t *testing.T) {
	dir := t.TempDir()
	entries := writeRuns(t, dir, synthRuns(t, 2, 1, 0, night0))
	entries = append(entries, RunEntry{Dir: RunDirName(3), Error: "run failed before its report"})
	s, err := BuildRunSet(dir, "set", 4, entries, "interrupted by a signal (SIGINT/SIGTERM)")
	if err != nil {
		t.Fatal(err)
	}
	if s.Complete || len(s.Runs) != 3 || !strings.Contains(s.Incomplete, "interrupted") || !strings.Contains(s.Incomplete, "3 of 4 runs ran") {
		t.Fatalf("set: complete %v, %d runs, %q", s.Complete, len(s.Runs), s.Incomplete)
	}
	for _, m := range s.Metrics {
		if len(m.Values) != 3 || m.Values[2] != nil {
			t.Fatalf("%s: values %v: the failed run must be counted with no value", metricLabel(m), m.Values)
		}
	}
	if err := WriteRunSet(dir, s); err != nil {
		t.Fatal(err)
	}
	back, err := ReadRunSet(filepath.Join(dir, FileRunsJSON))
	if err != nil {
		t.Fatal(err)
	}
	if back.Schema != RunsSchema || len(back.Metrics) != len(s.Metrics) || back.Runs[2].Error == "" {
		t.Errorf("read back %s, %d metrics, run 3 %+v", back.Schema, len(back.Metrics), back.Runs[2])
	}
	again, err := RebuildRunSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != "set" || again.Requested != 4 || len(again.Runs) != 3 || again.Runs[2].Error == "" || !strings.Contains(again.Incomplete, "interrupted") {
		t.Errorf("rebuilt set: id %q, %d of %d runs, run 3 %+v, %q", again.ID, len(again.Runs), again.Requested, again.Runs[2], again.Incomplete)
	}
	mixed := t.TempDir()
	rs := synthRuns(t, 2, 1, 0, night0)
	rs[1].Scenario.Name = "rebalance"
	if _, err := BuildRunSet(mixed, "mixed", 2, writeRuns(t, mixed, rs), ""); err == nil || !strings.Contains(err.Error(), "one scenario") {
		t.Errorf("a set of two scenarios: %v", err)
	}
	if _, err := RebuildRunSet(t.TempDir()); err == nil {
		t.Error("an empty directory rebuilt as a set")
	}
	r, set, err := ReadInput(dir)
	if err != nil || r != nil || set == nil {
		t.Errorf("ReadInput(set dir) = %v, %v, %v", r, set, err)
	}
	r, set, err = ReadInput(filepath.Join(dir, RunDirName(1)))
	if err != nil || r == nil || set != nil {
		t.Errorf("ReadInput(run dir) = %v, %v, %v", r, set, err)
	}
	if err := os.Remove(filepath.Join(dir, FileRunsJSON)); err != nil {
		t.Fatal(err)
	}
	r, set, err = ReadInput(dir)
	if err != nil || r != nil || set == nil || len(set.Runs) != 2 {
		t.Errorf("ReadInput(dir of runs) = %v, %v, %v", r, set, err)
	}
	if _, err := ReadRunSet(filepath.Join(dir, RunDirName(1), FileJSON)); err == nil || !strings.Contains(err.Error(), "run set schema") {
		t.Errorf("a report read as a run set: %v", err)
	}
}

// TestRunSetMemoryFlat summarises a set of large reports from disk and
// checks that what stays in memory afterwards is far below one report
// per run: BuildRunSet keeps metrics, never reports.
func TestRunSetMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 12 large reports")
	}
	dir := t.TempDir()
	big := mustRead(t, "report-a.json")
	// ~4 MB of windows per report, as a long run has.
	w := big.Windows
	for len(big.Windows) < 20000 {
		big.Windows = append(big.Windows, w...)
	}
	data, err := marshalReport(big)
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	var entries []RunEntry
	for i := 1; i <= n; i++ {
		d := filepath.Join(dir, RunDirName(i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, FileJSON), data, 0o644); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, RunEntry{Dir: RunDirName(i)})
	}
	size := int64(len(data))
	big, w, data = nil, nil, nil
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := BuildRunSet(dir, "set", n, entries, "")
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	kept := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if len(s.Runs) != n {
		t.Fatalf("%d runs", len(s.Runs))
	}
	// One decoded report takes more than its JSON; the set must keep
	// less than a single one.
	if kept > size {
		t.Errorf("the set of %d runs keeps %d bytes after summarising, more than one report's JSON (%d bytes)", n, kept, size)
	}
	t.Logf("report JSON %d bytes; the summary of %d runs keeps %d bytes", size, n, kept)
	runtime.KeepAlive(s)
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
		rs := synthRuns(t, nt.runs, nt.scale, nt.night, night0.Add(time.Duration(nt.night)*24*time.Hour))
		d := filepath.Join(root, nt.dir, "night-"+string(rune('0'+nt.night)))
		entries := writeRuns(t, d, rs)
		if nt.runs == 1 {
			continue // a plain report, no set
		}
		s, err := BuildRunSet(d, "night-"+string(rune('0'+nt.night)), nt.runs, entries, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteRunSet(d, s); err != nil {
			t.Fatal(err)
		}
	}
	nights, err := ReadNights([]string{filepath.Join(root, "a"), filepath.Join(root, "b")})
	if err != nil {
		t.Fatal(err)
	}
	if len(nights) != 5 {
		t.Fatalf("%d nights, want 5", len(nights))
	}
	for i, n := range nights {
		if want := night0.Add(time.Duration(i+1) * 24 * time.Hour); !n.Set.Start.Equal(want) {
			t.Errorf("night %d starts %v, want %v (%s)", i+1, n.Set.Start, want, n.Path)
		}
	}
	h := BuildHistory(nights, 3, nil, 0.05)
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
	if !sh.Changed[4][metricKey(SetMetric{Group: "phase", Phase: "baseline", Op: "all", Metric: "p99"})] {
		t.Errorf("night 5 not marked as changed: %v", sh.Changed[4])
	}
	for j := 1; j < 4; j++ {
		if len(sh.Changed[j]) > 0 {
			t.Errorf("night %d marked as changed: %v", j+1, sh.Changed[j])
		}
	}
	md := HistoryMarkdown(h)
	md = []byte(strings.ReplaceAll(string(md), root, "ROOT"))
	golden(t, "history.md", md)
	page, err := HistoryHTML(h)
	if err != nil {
		t.Fatal(err)
	}
	checkSelfContained(t, string(page))
	if !strings.Contains(string(page), "<svg") {
		t.Error("history page has no plot")
	}
	if _, err := h.JUnit(); err != nil {
		t.Fatal(err)
	}
}
