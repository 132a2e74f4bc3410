package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/model"
)

// TestCapacityBadInput: a bad --slo or search flag is one line, exit 2,
// before anything starts.
func TestCapacityBadInput(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no slo", []string{"capacity", "baseline", "--driver", "mem"}, "--slo is required"},
		{"unknown key", []string{"capacity", "baseline", "--driver", "mem", "--slo", "p95=20ms"}, `unknown key "p95"`},
		{"bad unit", []string{"capacity", "baseline", "--driver", "mem", "--slo", "p99=20"}, "want a duration with its unit"},
		{"errors without %", []string{"capacity", "baseline", "--driver", "mem", "--slo", "p99=20ms,errors=1"}, "want a percentage with its % sign"},
		{"factor 1", []string{"capacity", "baseline", "--driver", "mem", "--slo", "p99=20ms", "--factor", "1"}, "--factor must be in (1, 100]"},
		{"max rate below start", []string{"capacity", "baseline", "--driver", "mem", "--slo", "p99=20ms", "--max-rate", "10"}, "--max-rate must be"},
		{"unknown scenario", []string{"capacity", "no-such", "--driver", "mem", "--slo", "p99=20ms"}, "no-such"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(firstLine(errOut)), "\n") > 0 {
				t.Fatalf("exit %d, stderr %q; want 2 and one line with %q\nstdout: %s", code, errOut, tc.want, out)
			}
		})
	}
}

// TestCapacityOnMemCLI runs evalrun capacity on mem (op-latency 20ms, 2
// workers, max-concurrency 2: at most about 100 ops/s) with 1 s stages, then compares the
// report with itself and with a copy whose max rate is halved.
func TestCapacityOnMemCLI(t *testing.T) {
	dir := t.TempDir()
	scen := writeFile(t, dir, "cap.yaml", "name: cap\ncluster: {nodes: 3, options: {op-latency: 20ms}}\n"+
		"workload: {mix: {read: 1, write: 1}, keys: 100, value_size: 64, rate: 40, concurrency: 2, max-concurrency: 2, timeout: 2s, preload: true}\n"+
		"steps:\n  - phase: setup\n    sleep: 500ms\n")
	out := filepath.Join(dir, "a")
	code, stdout, stderr := runCLI(t, "capacity", scen, "--driver", "mem", "--slo", "p99=2s,errors=5%,achieved=80%", "--factor", "4",
		"--stage", "1s", "--settle", "300ms", "--max-stages", "3", "--bisect", "0", "--out", out, "-q")
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, want := range []string{"stage 1: offered 40 ops/s", "\ncapacity: ", "SLO p99=2s,errors=5%,achieved=80%"} {
		if !strings.Contains(stdout+stderr, want) {
			t.Errorf("output lacks %q:\nstdout: %s\nstderr: %s", want, stdout, stderr)
		}
	}
	rep, err := reports.ReadJSON(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Capacity
	if c == nil || c.FirstBrokenRate == nil || *c.FirstBrokenRate > 640 {
		t.Fatalf("capacity %+v: want a break by 640 ops/s (stages 40, 160, 640)", c)
	}
	for _, name := range []string{"report.md", "report.html"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || !strings.Contains(string(b), "Capacity") {
			t.Errorf("%s has no capacity section (%v)", name, err)
		}
	}
	if c.Result != model.CapacityFound {
		t.Skipf("the first stage broke on this machine (%s): nothing to compare", c.Result)
	}
	if code, stdout, _ := runCLI(t, "compare", filepath.Join(out, "report.json"), filepath.Join(out, "report.json")); code != 0 || !strings.Contains(stdout, "no significant change") {
		t.Errorf("compare with itself: exit %d\n%s", code, stdout)
	}
	half := *c.MaxHeldRate / 2
	c.MaxHeldRate = &half
	if err := os.MkdirAll(filepath.Join(dir, "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteJSON(filepath.Join(dir, "b"), rep); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, "compare", filepath.Join(out, "report.json"), filepath.Join(dir, "b", "report.json"))
	if code != 1 || !strings.Contains(stdout, "REGRESSION") || !strings.Contains(stdout, "no statistics") {
		t.Errorf("compare with half the max rate: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}
