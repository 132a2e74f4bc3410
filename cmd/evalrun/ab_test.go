package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/internal/errext"
	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/model"
)

// abScenario writes a one-phase scenario on mem whose operations take
// latency each.
func abScenario(t *testing.T, dir, latency, steady string) string {
	t.Helper()
	return writeFile(t, dir, "ab.yaml", "name: ab\ncluster: {nodes: 1, options: {op-latency: "+latency+"}}\n"+
		"workload: {mix: {read: 1, write: 1}, keys: 20, value_size: 64, rate: 50, concurrency: 4, timeout: 5s}\n"+
		"steps:\n  - phase: steady\n    sleep: "+steady+"\n")
}

// Bad input stops before any run: exit 2, one line (and its hint).
func TestABBadInput(t *testing.T) {
	scen := abScenario(t, t.TempDir(), "5ms", "1s")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"one pair", []string{"--repeat", "1", "--vs-option", "op-latency=50ms"}, "--repeat 1 is too few"},
		{"too few for the test", []string{"--repeat", "3", "--vs-option", "op-latency=50ms"}, "at least 4 runs of each side"},
		{"too few at alpha 0.01", []string{"--repeat", "4", "--alpha", "0.01", "--vs-option", "op-latency=50ms"}, "at least 5 runs"},
		{"B as the scenario", []string{"--vs-option", "op-latency=5ms"}, "A runs op-latency=5ms already"},
		{"same option on both sides", []string{"--option", "op-latency=9ms", "--vs-option", "op-latency=9ms"}, "A runs op-latency=9ms already"},
		{"option twice for B", []string{"--vs-option", "op-latency=9ms", "--vs-option", "op-latency=7ms"}, "given twice"},
		{"not NAME=VALUE", []string{"--vs-option", "op-latency"}, "want NAME=VALUE"},
		{"bad value for B", []string{"--vs-option", "op-latency=fast"}, "side B (--vs-option op-latency=fast)"},
		{"same driver", []string{"--vs-driver", "mem"}, "--vs-driver mem: A runs mem already"},
		{"unknown driver for B", []string{"--vs-driver", "nosuch"}, "side B"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			code, stdout, stderr := runCLI(t, append([]string{"ab", scen, "--driver", "mem", "--out", out, "-q"}, tc.args...)...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != int(errext.ExitBadInput) || !strings.Contains(lines[0], tc.want) || len(lines) > 2 || (len(lines) == 2 && !strings.HasPrefix(lines[1], "  hint:")) {
				t.Fatalf("exit %d, stderr %q; want 2 and one line with %q (and a hint)\nstdout: %s", code, stderr, tc.want, stdout)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("bad input created the output directory")
			}
		})
	}
}

// An A/B on mem where B's operations take 40× A's: both sets, their
// comparison (REGRESSION, exit 1, as compare of the two directories
// prints it), runs interleaved A B A B and labelled by side. The same
// configuration on both sides (A/A): no significant change, exit 0.
func TestABOnMem(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 16 short runs on the in-memory driver")
	}
	for _, tc := range []struct {
		name, latency string
		vs            []string
		code          int
		want          string
	}{
		{"B forty times slower", "5ms", []string{"--vs-option", "op-latency=200ms"}, 1, "REGRESSION steady/all p99"},
		{"B equals A", "100ms", nil, 0, "OK: no significant change"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			scen := abScenario(t, dir, tc.latency, "1s")
			out := filepath.Join(dir, "out")
			junit := filepath.Join(dir, "junit.xml")
			args := append([]string{"ab", scen, "--driver", "mem", "--repeat", "4", "--out", out, "--junit", junit, "-q"}, tc.vs...)
			code, stdout, stderr := runCLI(t, args...)
			if code != tc.code || !strings.Contains(stdout, tc.want) {
				t.Fatalf("exit %d, want %d and %q\nstdout: %s\nstderr: %s", code, tc.code, tc.want, stdout, stderr)
			}
			for _, f := range []string{"a/runs.json", "a/runs.html", "b/runs.json", "b/runs.md", "b/run-4/report.json", "compare.md", "ab.txt", "../junit.xml"} {
				if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
					t.Errorf("%s missing or empty", f)
				}
			}
			// The comparison is compare's, to the byte, with its exit code.
			written, err := os.ReadFile(filepath.Join(out, "compare.txt"))
			if err != nil {
				t.Fatal(err)
			}
			ccode, cout, _ := runCLI(t, "compare", filepath.Join(out, "a"), filepath.Join(out, "b"))
			if ccode != code || cout != string(written) || !strings.Contains(stdout, cout) {
				t.Errorf("compare of the two sets: exit %d (ab %d)\n%s\nab wrote:\n%s", ccode, code, cout, written)
			}
			checkInterleaved(t, out, 4)
		})
	}
}

// checkInterleaved checks that run i of A started before run i of B, and
// that before run i+1 of A, and that every run and set says its side.
func checkInterleaved(t *testing.T, out string, n int) {
	t.Helper()
	var prev *model.Report
	for i := 1; i <= n; i++ {
		for _, side := range []string{"a", "b"} {
			r, err := reports.ReadJSON(filepath.Join(out, side, reports.RunDirName(i), reports.FileJSON))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(r.Run.ID, "-"+side) {
				t.Errorf("run %d of side %s has id %q: no side", i, side, r.Run.ID)
			}
			if prev != nil && !r.Run.Start.After(prev.Run.End) {
				t.Errorf("%s/run-%d started %s, before %s ended %s: not interleaved", side, i, r.Run.Start, prev.Run.ID, prev.Run.End)
			}
			prev = r
		}
	}
	for _, side := range []string{"a", "b"} {
		s, err := reports.ReadRunSet(filepath.Join(out, side, reports.FileRunsJSON))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(s.ID, "-"+side) || !s.Complete || len(s.Runs) != n {
			t.Errorf("set %s: id %q, complete %v, %d runs", side, s.ID, s.Complete, len(s.Runs))
		}
	}
}

// SIGINT during B's first run: exit 130; A's set has its complete run,
// B's the interrupted one, both marked incomplete; nothing runs after.
func TestABInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the in-memory driver for 20 s")
	}
	dir := t.TempDir()
	bin := buildEvalrun(t, dir)
	scen := abScenario(t, dir, "5ms", "20s")
	out := filepath.Join(dir, "out")
	cmd := exec.Command(bin, "ab", scen, "--driver", "mem", "--repeat", "4", "--vs-option", "op-latency=6ms", "--out", out, "-q")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err := interruptWhenLoading(t, cmd, filepath.Join(out, "b", "run-1", ".latency.hlog.partial"), &stderr)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != int(errext.ExitInterrupted) {
		t.Errorf("exit: %v, want code %d\n%s", err, errext.ExitInterrupted, stderr.String())
	}
	for side, complete := range map[string]bool{"a": true, "b": false} {
		s, err := reports.ReadRunSet(filepath.Join(out, side, reports.FileRunsJSON))
		if err != nil {
			t.Fatalf("no summary of side %s after SIGINT: %v\n%s", side, err, stderr.String())
		}
		if s.Complete || len(s.Runs) != 1 || s.Runs[0].Complete != complete || !strings.Contains(s.Incomplete, "interrupted") {
			t.Errorf("set %s: complete %v, %d runs, %q", side, s.Complete, len(s.Runs), s.Incomplete)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "a", "run-2")); err == nil {
		t.Error("a run started after SIGINT")
	}
	if !strings.Contains(stdout.String(), "B is incomplete") {
		t.Errorf("the comparison of what ran does not say B is incomplete:\n%s", stdout.String())
	}
}
