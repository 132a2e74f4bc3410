package runner

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/scenarios"
)

func TestGaugesIntoWindows(t *testing.T) {
	ws := []reports.Window{{StartMs: 0}, {StartMs: 1000}, {StartMs: 2000}, {StartMs: 4000}}
	log := &gaugeLog{samples: []gaugeSample{
		{at: 200 * time.Millisecond, gauge: drivers.Gauge{Name: "a", Value: 1}},
		{at: 900 * time.Millisecond, gauge: drivers.Gauge{Name: "a", Value: 2}}, // the last of a second wins
		{at: 900 * time.Millisecond, gauge: drivers.Gauge{Name: "b", Value: 7}},
		{at: 3500 * time.Millisecond, gauge: drivers.Gauge{Name: "a", Value: 9}}, // window 2 was rolled late: it spans 2000..4000
		{at: 4100 * time.Millisecond, gauge: drivers.Gauge{Name: "a", Value: 0}}, // zero is a value
		{at: 5200 * time.Millisecond, gauge: drivers.Gauge{Name: "a", Value: 5}}, // after the last window: dropped, not moved
	}}
	log.intoWindows(ws, 1000)
	for _, tc := range []struct {
		w    int
		want map[string]float64
	}{
		{0, map[string]float64{"a": 2, "b": 7}},
		{1, nil},
		{2, map[string]float64{"a": 9}},
		{3, map[string]float64{"a": 0}},
	} {
		got := ws[tc.w].Gauges
		if len(got) != len(tc.want) {
			t.Errorf("window %d: %v, want %v", tc.w, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("window %d: %s = %v, want %v", tc.w, k, g, v)
			}
		}
	}
}

// gaugeDriver is the panic test's fake with a gauge that counts its polls.
type gaugeDriver struct{ panicDriver }

func (d *gaugeDriver) StartCluster(_ context.Context, spec drivers.ClusterSpec) (drivers.Cluster, error) {
	return &gaugeCluster{panicCluster: panicCluster{d: &d.panicDriver}}, nil
}

type gaugeCluster struct {
	panicCluster
	polls atomic.Int64
}

func (c *gaugeCluster) GaugeInterval() time.Duration { return 200 * time.Millisecond }
func (c *gaugeCluster) Gauges(context.Context) ([]drivers.Gauge, error) {
	return []drivers.Gauge{{Name: "polls", Value: float64(c.polls.Add(1))}}, nil
}

// A cluster's gauges reach the report's windows while the load runs.
func TestGaugesReachTheReport(t *testing.T) {
	plan, err := scenarios.Parse("gauges.yaml", []byte("name: gauges\ncluster: {nodes: 1}\nworkload: {mix: {read: 1}, keys: 10, rate: 50, concurrency: 2}\nsteps:\n  - sleep: 3s\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	rep, err := Run(ctx, Options{Plan: plan, Driver: &gaugeDriver{}, Provider: drivers.ProviderEmbedded, RunID: "test-gauges", Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	with, last := 0, 0.0
	for _, w := range rep.Windows {
		if v, ok := w.Gauges["polls"]; ok {
			with++
			if v <= last {
				t.Errorf("window %d ms: polls %v after %v", w.StartMs, v, last)
			}
			last = v
		}
	}
	if with < 2 || last < 8 {
		t.Errorf("%d windows carry the gauge, the last value %v (5 polls a second for 3 s)", with, last)
	}
}
