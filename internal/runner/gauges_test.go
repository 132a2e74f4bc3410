package runner

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/scenarios"
)

func TestGaugesIntoWindows(t *testing.T) {
	ws := []model.Window{{StartMs: 0}, {StartMs: 1000}, {StartMs: 2000}, {StartMs: 4000}}
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

// TakeNotices reports one notice, after the third poll.
func (c *gaugeCluster) TakeNotices() []drivers.Notice {
	if c.polls.Load() != 3 {
		return nil
	}
	return []drivers.Notice{{Node: 1, What: "replication stopped", Text: "node1: Last_SQL_Errno 1062: Duplicate entry"}}
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
	var notices []model.Event
	for _, e := range rep.Events {
		if e.Step == "notice" {
			notices = append(notices, e)
		}
	}
	if len(notices) != 1 || notices[0].Node != 1 || notices[0].Outcome != "observed: replication stopped" ||
		notices[0].Detail != "node1: Last_SQL_Errno 1062: Duplicate entry" || notices[0].StartMs < 300 || notices[0].StartMs > 1500 {
		t.Errorf("notices %+v, want the one taken after the third poll (about 400 ms)", notices)
	}
	if rep.Events[0].Step != "sleep" || rep.Events[1].Step != "notice" {
		t.Errorf("events %+v: want the sleep step, then the notice taken while it ran", rep.Events)
	}
}

// rate and ramp steps change the open-loop schedule; the windows carry the
// target (issue 12's load shapes).
func TestRateAndRampSteps(t *testing.T) {
	plan, err := scenarios.Parse("rate.yaml", []byte(`name: rate
cluster: {nodes: 1}
workload: {mix: {read: 1, write: 1}, keys: 50, rate: 100, concurrency: 8}
steps:
  - sleep: 2s
  - rate: 300
  - sleep: 2s
  - ramp: {to: 100, over: 2s}
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Options{Plan: plan, Driver: &panicDriver{}, Provider: drivers.ProviderEmbedded, RunID: "test-rate", Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	// 2 s at 100, 2 s at 300, 2 s ramping down from 300 to 100: 1,200 due
	if got := rep.Load.Intended; got < 1140 || got > 1260 {
		t.Errorf("%d operations intended, want about 1200", got)
	}
	var targets []float64
	for _, w := range rep.Windows {
		targets = append(targets, w.TargetRate)
	}
	if len(targets) < 6 || targets[0] < 90 || targets[0] > 110 || targets[3] < 270 || targets[3] > 330 || targets[len(targets)-1] > 200 {
		t.Errorf("window targets %v: want about 100, 100, 300, 300, then down towards 100", targets)
	}
	for _, e := range rep.Events {
		if e.Step == "rate" && e.Detail != "target 100 -> 300 ops/s" || e.Step == "ramp" && !strings.HasPrefix(e.Detail, "target 300 -> 100 ops/s over 2s") {
			t.Errorf("event %s: %q", e.Step, e.Detail)
		}
	}
}

func TestGaugesIntoPhases(t *testing.T) {
	phases := []model.Phase{{Name: "baseline", StartMs: 0, EndMs: 1000}, {Name: "spike", StartMs: 1000, EndMs: 3000}, {Name: "quiet", StartMs: 3000, EndMs: 4000}}
	log := &gaugeLog{}
	for i := range 100 { // spike: lag 0.01 .. 1.00 s, then back
		log.samples = append(log.samples, gaugeSample{at: 1000*time.Millisecond + time.Duration(i)*20*time.Millisecond, gauge: drivers.Gauge{Name: "lag_s.node2", Value: float64(i+1) / 100}})
	}
	log.samples = append(log.samples,
		gaugeSample{at: 500 * time.Millisecond, gauge: drivers.Gauge{Name: "lag_s.node2", Value: 0.002}},
		gaugeSample{at: 2999 * time.Millisecond, gauge: drivers.Gauge{Name: "lag_s.node2", Value: 0.5}}, // the last in time, not the largest
		gaugeSample{at: 3000 * time.Millisecond, gauge: drivers.Gauge{Name: "other", Value: 3}},         // the start belongs to the later phase
	)
	log.intoPhases(phases)
	for _, tc := range []struct {
		phase, gauge string
		want         model.GaugeStats
	}{
		{"baseline", "lag_s.node2", model.GaugeStats{Samples: 1, Min: 0.002, Max: 0.002, P99: 0.002, Last: 0.002}},
		{"spike", "lag_s.node2", model.GaugeStats{Samples: 101, Min: 0.01, Max: 1, P99: 0.99, Last: 0.5}},
		{"quiet", "other", model.GaugeStats{Samples: 1, Min: 3, Max: 3, P99: 3, Last: 3}},
	} {
		var got model.GaugeStats
		for _, p := range phases {
			if p.Name == tc.phase {
				got = p.Gauges[tc.gauge]
			}
		}
		if got != tc.want {
			t.Errorf("%s %s: %+v, want %+v", tc.phase, tc.gauge, got, tc.want)
		}
	}
	if _, ok := phases[2].Gauges["lag_s.node2"]; ok {
		t.Error("a phase with no sample of a gauge summarises it")
	}
}
