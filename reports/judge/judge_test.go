package judge

import (
	"strings"
	"testing"

	"github.com/evalrun/evalrun/reports/internal/reporttest"
	"github.com/evalrun/evalrun/reports/model"
)

func TestParseLimits(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Limits
		err  string // part of the error, "" when valid
	}{
		{"", Limits{"p99": 10, "throughput": 5, "lost": 0}, ""},
		{"  ", Limits{"p99": 10, "throughput": 5, "lost": 0}, ""},
		{"p99=10%,throughput=5%", Limits{"p99": 10, "throughput": 5, "lost": 0}, ""},
		{"p99=20%", Limits{"p99": 20, "throughput": 5, "lost": 0}, ""},
		{"p50=5%, p90=7.5%,p999=50%,max=100%,errors=1%,lost=2", Limits{"p50": 5, "p90": 7.5, "p99": 10, "p999": 50, "max": 100, "throughput": 5, "errors": 1, "lost": 2}, ""},
		{"P99=15", Limits{"p99": 15, "throughput": 5, "lost": 0}, ""},
		{"p99=off,throughput=off,lost=off", Limits{}, ""},
		{"p99=0%", Limits{"p99": 0, "throughput": 5, "lost": 0}, ""},
		{"p98=10%", nil, `unknown metric "p98"`},
		{"p99", nil, `"p99": want metric=value`},
		{"p99=", nil, `"p99=": want metric=value`},
		{"=10%", nil, `"=10%"`},
		{"p99=ten%", nil, `"ten" is not a number`},
		{"p99=10%,,lost=0", nil, "empty entry"},
		{"p99=-5%", nil, "negative"},
		{"lost=1%", nil, "not a percentage"},
		{"lost=0.5", nil, "whole number"},
		{"p99=10%,p99=20%", nil, "given twice"},
		{"throughput=NaN", nil, "not a number"},
	} {
		got, err := ParseLimits(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseLimits(%q) = %v, %v; want error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseLimits(%q): %v", tc.in, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("ParseLimits(%q) = %v, want %v", tc.in, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("ParseLimits(%q) = %v, want %v", tc.in, got, tc.want)
				break
			}
		}
		// String gives back something ParseLimits reads to the same limits.
		if len(got) > 0 {
			again, err := ParseLimits(got.String())
			if err != nil || again.String() != got.String() {
				t.Errorf("ParseLimits(%q).String() = %q does not round-trip: %v %v", tc.in, got.String(), again, err)
			}
		}
	}
}

func TestCompareDefaultLimits(t *testing.T) {
	a := reporttest.Read(t, "report-a.json")
	c := Compare(a, a, nil)
	if c.Limits.String() != "p99=10%,throughput=5%,lost=0" {
		t.Errorf("default limits %q", c.Limits.String())
	}
	if c.Regressed() {
		t.Errorf("a report regresses against itself: %q", c.Regressions)
	}
	if len(c.Phases) != 4 || c.Phases[0].Name != "warmup" || c.Phases[3].Name != "recovery" {
		t.Errorf("phases not in A's order: %+v", c.Phases)
	}
	ops := c.Phases[1].Ops
	if len(ops) != 4 || ops[0].Op != "read" || ops[1].Op != "write" || ops[2].Op != "delete" || ops[3].Op != "all" {
		t.Errorf("ops order: %+v", ops)
	}
	// An empty (non-nil) Limits checks nothing.
	b := reporttest.Clone(t, a)
	b.Safety.Lost = 100
	if c := Compare(a, b, Limits{}); c.Regressed() {
		t.Errorf("empty limits found %q", c.Regressions)
	}
	if c := Compare(a, b, nil); !c.Regressed() {
		t.Error("default limits miss lost keys")
	}
}

func TestSafetyVerdictStaleReads(t *testing.T) {
	phases := []model.Phase{
		{Name: "baseline"},
		{Name: "spike", Total: model.OpStats{StaleReads: 42, MaxStalenessUs: 2_300_000}},
	}
	v, loss := SafetyVerdict(model.Safety{Acknowledged: 5, Verified: 5, Checked: true, StaleReads: 42}, phases)
	if loss {
		t.Error("stale reads during the run are not data loss")
	}
	if !strings.HasPrefix(v, "STALE READS — ") {
		t.Errorf("stale reads are not OK: %q", v)
	}
	if want := "; 42 stale reads (an older value than one acknowledged before the read) (by phase: spike 42; the most stale by at least 2.3s)"; !strings.Contains(v, want) {
		t.Errorf("verdict %q lacks %q", v, want)
	}
	if v, _ := SafetyVerdict(model.Safety{Checked: true}, phases); strings.Contains(v, "stale reads") {
		t.Errorf("no stale reads, but the verdict says: %q", v)
	}
}

// Comparing what cannot be compared says why (issue 13: a nightly job
// comparing the wrong files passed with "OK" forever).
func TestIncomparable(t *testing.T) {
	a := reporttest.Read(t, "report-a.json")
	for _, tc := range []struct {
		name   string
		change func(b *model.Report)
		want   string
	}{
		{"the same scenario", func(*model.Report) {}, ""},
		// Issue 23 item 4: two files differing in their name and a cluster
		// option compare (the note says the scenarios differ).
		{"another scenario name", func(b *model.Report) { b.Scenario.Name = "rebalance" }, ""},
		{"no shared phase", func(b *model.Report) {
			for i := range b.Phases {
				b.Phases[i].Name += "-x"
			}
		}, "the reports share no phase"},
		{"no shared operation", func(b *model.Report) {
			for i := range b.Phases {
				ops := map[string]model.OpStats{}
				for k, v := range b.Phases[i].Ops {
					ops[k+"-x"] = v
				}
				b.Phases[i].Ops = ops
			}
		}, "the reports share no operation type in any phase"},
	} {
		b := reporttest.Read(t, "report-a.json")
		tc.change(b)
		c := Compare(a, b, nil)
		if got := c.Incomparable; got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		if v := c.VerdictLine(); (tc.want != "") != strings.HasPrefix(v, "NOTHING TO COMPARE") {
			t.Errorf("%s: verdict line %q does not match the exit code's reason %q", tc.name, v, tc.want)
		}
		if b.Scenario.Name != a.Scenario.Name && !strings.Contains(strings.Join(c.Notes, "\n"), "different scenarios") {
			t.Errorf("%s: no note that the scenarios differ: %q", tc.name, c.Notes)
		}
	}
	off := Limits{}
	if got := Compare(a, a, off).Incomparable; got != "no metric was checked against a limit" {
		t.Errorf("no limits: %q", got)
	}
}

// Runs on other machines compare, with the difference said (issue 13).
func TestCompareNotesTheEnvironment(t *testing.T) {
	a := reporttest.Read(t, "report-a.json")
	b := reporttest.Read(t, "report-a.json")
	a.Run.CPUModel, b.Run.CPUModel = "AMD EPYC 7B13", "Intel Xeon 8375C"
	a.Run.Kernel, b.Run.Kernel = "6.1.0-18", "6.1.0-18"
	b.Run.CPUs = a.Run.CPUs * 2
	c := Compare(a, b, nil)
	notes := strings.Join(c.Notes, "\n")
	for _, want := range []string{"different CPU: A AMD EPYC 7B13, B Intel Xeon 8375C", "different core counts"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if strings.Contains(notes, "kernels") || c.Incomparable != "" {
		t.Errorf("same kernel noted, or the machines made it incomparable: %q\n%s", c.Incomparable, notes)
	}
}

// A machine much busier on one side is noted; a small difference is not.
func TestCompareNotesTheLoad(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name   string
		la, lb *float64
		noted  bool
	}{
		{"both idle", f(0.3), f(0.9), false},
		{"busy against idle", f(0.5), f(11.2), true},
		{"busy both", f(9), f(11), false},
		{"one side not recorded", nil, f(11), false},
	} {
		a, b := reporttest.Read(t, "report-a.json"), reporttest.Read(t, "report-a.json")
		a.Run.CPUs, b.Run.CPUs = 2, 2
		a.Run.LoadAvg, b.Run.LoadAvg = tc.la, tc.lb
		notes := strings.Join(Compare(a, b, nil).Notes, "\n")
		if got := strings.Contains(notes, "different machine load"); got != tc.noted {
			t.Errorf("%s: noted %v, want %v:\n%s", tc.name, got, tc.noted, notes)
		}
		if tc.noted && !strings.Contains(notes, "A 0.50, B 11.20") {
			t.Errorf("%s: the note lacks the two loads:\n%s", tc.name, notes)
		}
	}
}
