package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/internal/errext"
	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/reports/render"
)

// writeSet writes n copies of report-a as the runs of a set into dir,
// run i with every p99 raised by base+i percent; withSummary adds the
// runs.json a repeat writes (without it the directory is a plain
// directory of run directories).
func writeSet(t *testing.T, dir string, n int, base int64, start time.Time, withSummary bool, mutate func(*model.Report)) {
	t.Helper()
	a := filepath.Join("..", "..", "reports", "internal", "reporttest", "testdata", "report-a.json")
	var entries []model.RunEntry
	for i := range n {
		d := reports.RunDirName(i + 1)
		dst := filepath.Join(dir, d, reports.FileJSON)
		slower(t, a, dst, base+int64(i))
		r, err := reports.ReadJSON(dst)
		if err != nil {
			t.Fatal(err)
		}
		r.Run.Start = start.Add(time.Duration(i) * time.Minute)
		if mutate != nil {
			mutate(r)
		}
		if err := reports.WriteJSON(filepath.Dir(dst), r); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, model.RunEntry{Dir: d})
	}
	if !withSummary {
		return
	}
	s, err := judge.BuildRunSet(dir, filepath.Base(dir), n, entries, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := render.WriteRunSet(dir, s); err != nil {
		t.Fatal(err)
	}
}

func TestCompareSetsExitCodes(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	set := func(name string, n int, base int64, summary bool, mutate func(*model.Report)) string {
		p := filepath.Join(dir, name)
		writeSet(t, p, n, base, day, summary, mutate)
		return p
	}
	a := set("a", 6, 0, true, nil)
	same := set("same", 6, 0, false, nil)
	slow := set("slow", 6, 20, true, nil)
	a2 := set("a2", 2, 0, true, nil)
	slow2 := set("slow2", 2, 20, true, nil)
	lost := set("lost", 2, 0, true, func(r *model.Report) { r.Safety.Lost = 3 })
	other := set("other", 6, 0, true, func(r *model.Report) {
		r.Scenario.Name = "rebalance"
		for i := range r.Phases {
			r.Phases[i].Name = "other-" + r.Phases[i].Name
		}
	})
	junit := filepath.Join(dir, "junit.xml")
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"same distribution", []string{"compare", a, same}, 0, "OK: no significant change"},
		{"runs.json against a directory", []string{"compare", filepath.Join(a, "runs.json"), same}, 0, "6 runs"},
		{"20% slower p99", []string{"compare", a, slow, "--junit", junit}, 1, "REGRESSION"},
		{"20% slower within a 30% limit", []string{"compare", a, slow, "--max-regression", "p99=30%"}, 0, "OK"},
		{"too few runs", []string{"compare", a2, slow2}, 0, "need ≥ 4 runs each for α=0.05"},
		{"too few runs at alpha 0.01", []string{"compare", a2, slow2, "--alpha", "0.01"}, 0, "need ≥ 5 runs each for α=0.01"},
		{"lost keys in a run", []string{"compare", a2, lost}, 1, "safety lost: 0 -> 3"},
		{"report against a set", []string{"compare", filepath.Join(a, "run-1", "report.json"), slow}, 0, "INCONCLUSIVE"},
		{"another scenario", []string{"compare", a, other}, 2, ""},
		{"bad alpha", []string{"compare", a, same, "--alpha", "1.5"}, 2, ""},
		{"markdown", []string{"compare", a, slow, "--markdown"}, 1, "| p (n) |"},
		{"empty directory", []string{"compare", a, t.TempDir()}, 2, ""},
		{"a directory of sets", []string{"compare", a, dir}, 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tc.code, out, errOut)
			}
			if !strings.Contains(out, tc.out) {
				t.Errorf("output lacks %q:\n%s", tc.out, out)
			}
		})
	}
	x, err := os.ReadFile(junit)
	if err != nil || !bytes.Contains(x, []byte("<failure")) || !bytes.Contains(x, []byte("p=")) {
		t.Errorf("junit of sets: %v\n%s", err, x)
	}
	// report SETDIR summarises a set again; a directory of no runs is bad input.
	if code, out, errOut := runCLI(t, "report", same); code != 0 || !strings.Contains(out, "6 runs: complete") {
		t.Errorf("report of a set directory: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := reports.ReadRunSet(filepath.Join(same, reports.FileRunsJSON)); err != nil {
		t.Errorf("report SETDIR wrote no runs.json: %v", err)
	}
	if code, _, _ := runCLI(t, "report", t.TempDir()); code != int(errext.ExitBadInput) {
		t.Errorf("report of an empty directory: exit %d, want 2", code)
	}
}

func TestHistoryCommand(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	nights := filepath.Join(dir, "nights")
	for i, base := range []int64{0, 1, 0, 20} { // the last night is 20% slower
		writeSet(t, filepath.Join(nights, "night-"+string(rune('1'+i))), 6, base, day.Add(time.Duration(i)*24*time.Hour), true, nil)
	}
	out := filepath.Join(dir, "out")
	junit := filepath.Join(dir, "history.xml")
	code, stdout, errOut := runCLI(t, "history", nights, "--out", out, "--last", "3", "--junit", junit)
	if code != int(errext.ExitRegression) {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, errOut)
	}
	if !strings.Contains(stdout, "4 night(s): REGRESSION") {
		t.Errorf("stdout: %s", stdout)
	}
	for _, f := range []string{"history.html", "history.md"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty", f)
		}
	}
	if x, err := os.ReadFile(junit); err != nil || !bytes.Contains(x, []byte("<testsuites>")) {
		t.Errorf("junit: %v", err)
	}
	// Without the slow night: no regression.
	if err := os.RemoveAll(filepath.Join(nights, "night-4")); err != nil {
		t.Fatal(err)
	}
	if code, stdout, errOut := runCLI(t, "history", nights, "--out", out); code != 0 {
		t.Errorf("exit %d\n%s\n%s", code, stdout, errOut)
	}
	if code, _, _ := runCLI(t, "history", t.TempDir(), "--out", out); code != int(errext.ExitBadInput) {
		t.Errorf("history of an empty directory: exit %d, want 2", code)
	}
}

// A real repeat on the embedded etcd: two runs, each a report directory,
// and the set's summary; the set compares and makes a history.
func TestRepeatWritesASet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an embedded etcd cluster twice")
	}
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "run", "baseline", "--repeat", "2", "--duration", "6s", "--rate", "200", "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, f := range []string{"run-1/report.json", "run-2/report.json", "run-2/report.html", "runs.json", "runs.md", "runs.html"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty", f)
		}
	}
	s, err := reports.ReadRunSet(filepath.Join(out, "runs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Complete || len(s.Runs) != 2 || s.Scenario != "baseline" || s.Schema != model.RunsSchema {
		t.Fatalf("set: complete %v, %d runs, scenario %q, schema %q", s.Complete, len(s.Runs), s.Scenario, s.Schema)
	}
	if s.Runs[0].ID == s.Runs[1].ID {
		t.Error("the runs share an id")
	}
	for _, m := range s.Metrics {
		if m.Group == "phase" && m.Phase == "steady" && m.Op == "all" && m.Metric == "p99" && m.N != 2 {
			t.Errorf("steady p99 has %d values", m.N)
		}
	}
	code, stdout, _ = runCLI(t, "compare", out, out)
	if code != 0 || !strings.Contains(stdout, "INCONCLUSIVE") {
		t.Errorf("compare of the set with itself: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCLI(t, "history", out, "--out", t.TempDir())
	if code != 0 || !strings.Contains(stdout, "first night") {
		t.Errorf("history of one set: exit %d\n%s", code, stdout)
	}
}

// SIGINT during a repeat: the set stops, exit 130, and its summary is
// written, marked incomplete, counting the interrupted run.
func TestRepeatInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs an embedded etcd cluster")
	}
	dir := t.TempDir()
	bin := buildEvalrun(t, dir)
	out := filepath.Join(dir, "set")
	cmd := exec.Command(bin, "run", "baseline", "--repeat", "3", "--duration", "60s", "--rate", "200", "--out", out, "--quiet")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err := interruptWhenLoading(t, cmd, filepath.Join(out, "run-1", ".latency.hlog.partial"), &stderr)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != int(errext.ExitInterrupted) {
		t.Errorf("exit: %v, want code %d\n%s", err, errext.ExitInterrupted, stderr.String())
	}
	s, err := reports.ReadRunSet(filepath.Join(out, "runs.json"))
	if err != nil {
		t.Fatalf("no set summary after SIGINT: %v\n%s", err, stderr.String())
	}
	if s.Complete || len(s.Runs) != 1 || s.Runs[0].Complete || !strings.Contains(s.Incomplete, "interrupted") {
		t.Errorf("set: complete %v, %d runs, %q", s.Complete, len(s.Runs), s.Incomplete)
	}
	if _, err := os.Stat(filepath.Join(out, "run-2")); err == nil {
		t.Error("a second run started after SIGINT")
	}
}
