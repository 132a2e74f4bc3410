package judge

import (
	"strings"
	"testing"

	"github.com/evalrun/evalrun/reports/internal/reporttest"
	"github.com/evalrun/evalrun/reports/model"
)

// What B improved beyond the limits is listed (the mirror of a
// regression): one report against one and set against set; a change
// within the limit, or one the test cannot call significant, is not.
func TestImprovements(t *testing.T) {
	scaled := func(f float64, lag float64) *model.Report {
		r := reporttest.Read(t, "report-a.json")
		for i := range r.Phases {
			p := &r.Phases[i]
			for op, st := range p.Ops {
				st.P99Us = int64(float64(st.P99Us) * f)
				p.Ops[op] = st
			}
			p.Total.P99Us = int64(float64(p.Total.P99Us) * f)
			p.Gauges = lagGauges(lag)
		}
		return r
	}
	tests := []struct {
		name     string
		a, b     *model.Report
		sets     bool
		want     string // in the improvements; "" for none
		wantLag  bool   // the peak replica lag among them
		wantNone bool
	}{
		{name: "p99 halved", a: scaled(1, 1), b: scaled(0.5, 1), want: "p99"},
		{name: "within the limit", a: scaled(1, 1), b: scaled(0.95, 1), wantNone: true},
		{name: "a worse B improves nothing", a: scaled(1, 1), b: scaled(2, 1), wantNone: true},
		{name: "lag down by seconds", a: scaled(1, 4), b: scaled(1, 0.5), wantLag: true},
		{name: "sets: p99 halved in every run", a: scaled(1, 1), b: scaled(0.5, 1), sets: true, want: "p99"},
		{name: "sets: lag down by seconds in every run", a: scaled(1, 4), b: scaled(1, 0.5), sets: true, wantLag: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c *Comparison
			if tt.sets {
				ra, rb := []*model.Report{tt.a, tt.a, tt.a, tt.a}, []*model.Report{tt.b, tt.b, tt.b, tt.b}
				c = CompareSets(SetOfReports("a", ra...), SetOfReports("b", rb...), DefaultLimits(), 0.05)
			} else {
				c = Compare(tt.a, tt.b, DefaultLimits())
			}
			got := strings.Join(c.Improvements(), "\n")
			switch {
			case tt.wantNone && got != "":
				t.Errorf("improvements %q, want none", got)
			case tt.want != "" && !strings.Contains(got, " "+tt.want+": "):
				t.Errorf("improvements %q lack %s", got, tt.want)
			case tt.wantLag && !strings.Contains(got, ReplicaLagRow+" peak"):
				t.Errorf("improvements %q lack the peak replica lag", got)
			}
		})
	}
}
