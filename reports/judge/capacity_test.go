package judge

import (
	"strings"
	"testing"

	"github.com/evalrun/evalrun/reports/internal/reporttest"
	"github.com/evalrun/evalrun/reports/model"
)

// TestCompareCapacity: the max rates held side by side; a regression
// when B's is lower than A's beyond the limit, and only where the numbers
// decide it (a bound that does not is unchecked, and the comparison says
// so with exit 2).
func TestCompareCapacity(t *testing.T) {
	// reporttest.CapacityReport(capacity, maxRate): stages 100, 200, 400…
	// and one bisecting; held / broken as the capacity says
	tests := []struct {
		name                  string
		capA, maxA            float64
		capB, maxB            float64
		limits                string
		regressed             bool
		incomparable, inWords string
	}{
		{name: "same", capA: 600, capB: 600, inWords: "no significant change"},
		{name: "degraded", capA: 600, capB: 300, regressed: true, inWords: "565.7 -> 282.8 ops/s (-50.0%, limit -10%)"},
		{name: "within a loose limit", capA: 600, capB: 300, limits: "capacity=60%", inWords: "no significant change"},
		{name: "B better", capA: 300, capB: 600, inWords: "no significant change"},
		{name: "B's first stage broke below what A held", capA: 600, capB: 50, regressed: true},
		{name: "B's first stage broke within the limit of what A held", capA: 150, maxA: 100, capB: 50, incomparable: "B's first stage (100 ops/s) broke"},
		{name: "A unknown", capA: 50, capB: 600, incomparable: "A's is unknown (below-start)"},
		{name: "B a lower bound below A", capA: 600, capB: 1e9, maxB: 200, incomparable: "B's a lower bound"},
		{name: "A a lower bound, B found lower", capA: 1e9, maxA: 800, capB: 300, regressed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim, err := ParseLimits(tt.limits)
			if err != nil {
				t.Fatal(err)
			}
			a, b := reporttest.CapacityReport(t, tt.capA, tt.maxA), reporttest.CapacityReport(t, tt.capB, tt.maxB)
			c := Compare(a, b, lim)
			words := strings.Join(append(append([]string{c.VerdictLine(), c.Incomparable}, c.Regressions...), c.Notes...), "\n")
			if c.Regressed() != tt.regressed || !strings.Contains(c.Incomparable, tt.incomparable) || (tt.incomparable == "") != (c.Incomparable == "") ||
				!strings.Contains(words, tt.inWords) || !strings.Contains(words, "no statistics") {
				t.Fatalf("regressed %v (want %v), incomparable %q (want %q):\n%s", c.Regressed(), tt.regressed, c.Incomparable, tt.incomparable, words)
			}
			if len(c.Phases) != 0 || len(c.Capacity) != 2 {
				t.Fatalf("phases %d, capacity metrics %d: a capacity comparison is of the max rates", len(c.Phases), len(c.Capacity))
			}
		})
	}
}

// TestCompareCapacityOfTwoSetups: healthy against one node degraded (two
// scenarios, one cluster and workload) is what capacity runs are compared
// for, and so are two databases; another workload is not comparable.
func TestCompareCapacityOfTwoSetups(t *testing.T) {
	tests := []struct {
		name         string
		change       func(b *model.Report)
		incomparable string
	}{
		{name: "another scenario (the steps degrade a node)", change: func(b *model.Report) { b.Scenario.Name = "capacity-degraded" }},
		{name: "another database", change: func(b *model.Report) { b.Driver.Name = "etcd" }},
		{name: "another workload", change: func(b *model.Report) { b.Workload.ValueSize *= 2 }, incomparable: "different workloads"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := reporttest.CapacityReport(t, 600, 0), reporttest.CapacityReport(t, 300, 0)
			tt.change(b)
			c := Compare(a, b, nil)
			if tt.incomparable == "" && (c.Incomparable != "" || !c.Regressed()) {
				t.Fatalf("incomparable %q, regressed %v: want a regression of the max rate", c.Incomparable, c.Regressed())
			}
			if !strings.Contains(c.Incomparable, tt.incomparable) || (tt.incomparable == "") != (c.Incomparable == "") {
				t.Fatalf("incomparable %q, want %q", c.Incomparable, tt.incomparable)
			}
		})
	}
}

func TestCompareCapacityWithARun(t *testing.T) {
	a, run := reporttest.CapacityReport(t, 600, 0), reporttest.Read(t, "report-a.json")
	for _, c := range []*Comparison{Compare(a, run, nil), Compare(run, a, nil)} {
		if !strings.Contains(c.Incomparable, "is a capacity report (evalrun capacity) and") {
			t.Fatalf("incomparable %q", c.Incomparable)
		}
	}
	b := reporttest.CapacityReport(t, 600, 0)
	b.Capacity.SLO.Text = "p99=50ms,errors=1%,achieved=95%"
	if c := Compare(a, b, nil); !strings.Contains(strings.Join(c.Notes, "\n"), "different SLOs") {
		t.Fatalf("notes %q", c.Notes)
	}
}

// TestSaturationLeavesCapacityOut: a capacity search overloads on
// purpose; report-a's saturation line is not a capacity report's.
func TestSaturationLeavesCapacityOut(t *testing.T) {
	run, capc := reporttest.Read(t, "report-a.json"), reporttest.CapacityReport(t, 600, 0)
	if Saturation(run) == "" || Saturation(capc) != "" {
		t.Fatalf("run %q, capacity %q: want a line for the run only", Saturation(run), Saturation(capc))
	}
}
