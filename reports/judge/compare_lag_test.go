package judge

import (
	"strings"
	"testing"

	"github.com/evalrun/evalrun/reports/internal/reporttest"
	"github.com/evalrun/evalrun/reports/model"
)

// lagGauges is one lag gauge per peak (seconds), plus a gauge that is
// not a lag.
func lagGauges(peaks ...float64) map[string]model.GaugeStats {
	g := map[string]model.GaugeStats{"handoff_partitions": {Samples: 5, Max: 99}}
	for i, p := range peaks {
		g["lag_s.node"+string(rune('2'+i))] = model.GaugeStats{Samples: 5, Max: p}
	}
	return g
}

// Each phase's peak replica lag (the highest lag_s.* gauge) is compared,
// lower is better, within the p99 limit and the operational durations'
// absolute floor; whichever replicas each side had.
func TestComparePeakReplicaLag(t *testing.T) {
	tests := []struct {
		name       string
		a, b       map[string]model.GaugeStats
		limits     Limits
		row        bool // a replica-lag row
		regression bool
		change     string
		note       string
	}{
		{name: "three primaries lag less", a: lagGauges(4.2, 3.9), b: lagGauges(0.9, 1.1, 0.7, 1.2, 0.8, 1.0), row: true, change: "-71.4%"},
		{name: "B lags more beyond the limit", a: lagGauges(1.0), b: lagGauges(2.5, 0.1), row: true, regression: true, change: "+150.0%"},
		{name: "a rise under the absolute floor is noise", a: lagGauges(0.01), b: lagGauges(0.03), row: true, change: "+200.0%"},
		{name: "within the limit", a: lagGauges(10), b: lagGauges(10.5), row: true, change: "+5.0%"},
		{name: "no limit: shown, not checked", a: lagGauges(1), b: lagGauges(9), limits: Limits{"throughput": 5}, row: true, change: "+800.0%"},
		{name: "only A measured lag", a: lagGauges(1), b: nil, note: "only A measured replica lag"},
		{name: "neither measured lag", a: map[string]model.GaugeStats{"handoff_partitions": {Samples: 1, Max: 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := reporttest.Read(t, "report-a.json")
			b := reporttest.Read(t, "report-a.json")
			for i := range a.Phases {
				a.Phases[i].Gauges, b.Phases[i].Gauges = tt.a, tt.b
			}
			lim := tt.limits
			if lim == nil {
				lim = DefaultLimits()
			}
			c := Compare(a, b, lim)
			if c.Incomparable != "" {
				t.Fatalf("incomparable: %s", c.Incomparable)
			}
			for _, p := range c.Phases {
				var lag *OpComparison
				for i := range p.Ops {
					if p.Ops[i].Op == ReplicaLagRow {
						lag = &p.Ops[i]
					}
				}
				if (lag != nil) != tt.row {
					t.Fatalf("phase %s: replica lag row %v, want %v", p.Name, lag != nil, tt.row)
				}
				if lag == nil {
					continue
				}
				m := lag.Metrics[0]
				if m.Regression != tt.regression || m.ChangeText != tt.change || m.Checked != (tt.limits == nil) {
					t.Errorf("phase %s: %+v, want regression %v, change %s", p.Name, m, tt.regression, tt.change)
				}
			}
			if got := containsText(c.Regressions, "/replica lag peak"); got != tt.regression {
				t.Errorf("regressions %q: a lag regression %v, want %v", c.Regressions, got, tt.regression)
			}
			if tt.note != "" && !containsText(c.Notes, tt.note) {
				t.Errorf("notes %q lack %q", c.Notes, tt.note)
			}
		})
	}
}

func containsText(list []string, s string) bool {
	for _, l := range list {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// Issue 23 item 4 and issue 22 item 4: one primary against three (other
// scenario names, other node counts and groups, the same phases and
// operations) is a full comparison whose verdict follows the metrics,
// with the note that the scenarios differ.
func TestCompareOneGroupAgainstThree(t *testing.T) {
	a := reporttest.Read(t, "report-a.json")
	b := reporttest.Read(t, "report-a.json")
	a.Scenario.Name, b.Scenario.Name = "split-1", "split-3"
	b.Driver.Nodes = 9
	for i := range a.Phases {
		a.Phases[i].Groups = []model.GroupStats{{Group: "shard1", Nodes: []int{1, 2, 3}, Count: 10, P99Us: 9000}}
		b.Phases[i].Groups = []model.GroupStats{{Group: "shard1", Count: 3}, {Group: "shard2", Count: 3}, {Group: "shard3", Count: 4}}
		a.Phases[i].Gauges, b.Phases[i].Gauges = lagGauges(3), lagGauges(0.5, 0.4)
	}
	c := Compare(a, b, nil)
	if c.Incomparable != "" || c.Regressed() || !strings.HasPrefix(c.VerdictLine(), "OK") {
		t.Fatalf("incomparable %q, regressions %q, verdict %q: want a full comparison, OK", c.Incomparable, c.Regressions, c.VerdictLine())
	}
	if !containsText(c.Notes, `different scenarios: A ran "split-1", B ran "split-3"`) {
		t.Errorf("notes %q lack the different scenarios", c.Notes)
	}
	for i := range b.Phases {
		b.Phases[i].Gauges = lagGauges(9)
	}
	if c := Compare(a, b, nil); c.Incomparable != "" || !c.Regressed() || !strings.HasPrefix(c.VerdictLine(), "REGRESSION") {
		t.Errorf("B lagging 3x more: incomparable %q, verdict %q", c.Incomparable, c.VerdictLine())
	}
}
