package runner

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/scenarios"
)

// panicDriver is a fake whose client panics once, on the first Put after
// panicAt client calls, whose step "kill" panics when killPanics, and
// whose Gauges, TakeNotices or Handoff panic when asked: a driver bug, as
// the runner must survive it.
type panicDriver struct {
	panicAt    int64
	killPanics bool
	panicIn    string // "Gauges", "TakeNotices" or "Handoff"
	closed     atomic.Bool
	calls      atomic.Int64 // client and cluster calls
	afterClose atomic.Int64 // cluster calls after Close
	panicked   atomic.Bool
	swept      atomic.Bool // the ClusterSpec said Docker was swept
}

func (d *panicDriver) Name() string        { return "panicky" }
func (d *panicDriver) Description() string { return "a fake that panics" }
func (d *panicDriver) Providers() []string { return []string{drivers.ProviderEmbedded} }
func (d *panicDriver) Plan(string, int, map[string]string) (drivers.Topology, error) {
	return drivers.Topology{Nodes: 3, Capabilities: drivers.CapabilitiesOf((*panicCluster)(nil))}, nil
}
func (d *panicDriver) StartCluster(_ context.Context, spec drivers.ClusterSpec) (drivers.Cluster, error) {
	d.swept.Store(spec.Swept)
	return &panicCluster{d: d}, nil
}

type panicCluster struct{ d *panicDriver }

func (c *panicCluster) Info(context.Context) (drivers.ClusterInfo, error) {
	return drivers.ClusterInfo{DB: "fake", DBVersion: "1"}, nil
}
func (c *panicCluster) NewClient(context.Context) (drivers.Client, error) {
	return &panicClient{d: c.d, data: map[string][]byte{}}, nil
}
func (c *panicCluster) Close(context.Context) error { c.d.closed.Store(true); return nil }
func (c *panicCluster) KillNode(context.Context, int) error {
	if c.d.killPanics {
		panic("kill: nil map in the fake driver")
	}
	return nil
}
func (c *panicCluster) StopNode(context.Context, int) error  { return nil }
func (c *panicCluster) StartNode(context.Context, int) error { return nil }

// call counts a call of the cluster, and panics when the test asks it of
// method.
func (c *panicCluster) call(method string) {
	c.d.calls.Add(1)
	if c.d.closed.Load() {
		c.d.afterClose.Add(1)
	}
	if c.d.panicIn == method {
		panic(method + ": nil pointer in the fake driver")
	}
}

func (c *panicCluster) GaugeInterval() time.Duration { return 100 * time.Millisecond }
func (c *panicCluster) Gauges(context.Context) ([]drivers.Gauge, error) {
	c.call("Gauges")
	return []drivers.Gauge{{Name: "lag_s", Value: 0}}, nil
}
func (c *panicCluster) TakeNotices() []drivers.Notice { c.call("TakeNotices"); return nil }
func (c *panicCluster) Handoff(context.Context) (drivers.Handoff, error) {
	c.call("Handoff")
	return drivers.Handoff{}, nil // never done: the tracker polls until the load stops
}

type panicClient struct {
	d    *panicDriver
	mu   sync.Mutex
	data map[string][]byte
}

func (c *panicClient) Put(_ context.Context, k string, v []byte) error {
	if n := c.d.calls.Add(1); c.d.panicAt > 0 && n >= c.d.panicAt && c.d.panicked.CompareAndSwap(false, true) {
		panic("put: index out of range in the fake driver")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.data[k] = append([]byte(nil), v...)
	return nil
}
func (c *panicClient) Get(_ context.Context, k string) ([]byte, error) {
	c.d.calls.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.data[k]; ok {
		return v, nil
	}
	return nil, drivers.ErrNotFound
}
func (c *panicClient) Delete(context.Context, string) error { return nil }
func (c *panicClient) Close() error                         { return nil }

// A panic in a driver, in a load operation, in a step or beside the
// timeline (the gauge poller, the notices it takes, a handoff tracker),
// ends the run with an incomplete report that says so, the cluster torn
// down once nothing asks it anything, and no worker or poller left running
// (issue 11: it crashed the process, or left the load going; issue 19: a
// panic beside the timeline crashed the process).
func TestDriverPanicEndsTheRunCleanly(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    *panicDriver
		want string
	}{
		{"in a load operation", &panicDriver{panicAt: 200}, "panic in a load operation"},
		{"in a step", &panicDriver{killPanics: true}, "internal error: kill: nil map"},
		{"in Gauges", &panicDriver{panicIn: "Gauges"}, "internal error: panic in the gauge poller (a driver bug): Gauges: nil pointer"},
		{"in TakeNotices", &panicDriver{panicIn: "TakeNotices"}, "panic in the gauge poller (a driver bug): TakeNotices: nil pointer"},
		{"in Handoff", &panicDriver{panicIn: "Handoff"}, "internal error: panic in the handoff tracker (a driver bug): Handoff: nil pointer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := scenarios.Parse("panic.yaml", []byte(`name: panic-test
cluster: {nodes: 1}
workload: {mix: {read: 1, write: 1}, keys: 50, rate: 200, concurrency: 4}
steps:
  - sleep: 2s
  - kill: 1
  - start: 1
  - sleep: 30s
`))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			t0 := time.Now()
			rep, err := Run(ctx, Options{Plan: plan, Driver: tc.d, Provider: drivers.ProviderEmbedded, RunID: "test-panic", Logf: t.Logf})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if rep == nil || rep.Complete || !strings.Contains(rep.Incomplete, tc.want) {
				t.Fatalf("report: %+v", rep)
			}
			if d := time.Since(t0); d > 15*time.Second {
				t.Errorf("the run went on for %v after the panic (the scenario's 30 s sleep)", d)
			}
			if !tc.d.closed.Load() {
				t.Error("the cluster was not torn down")
			}
			if n := tc.d.afterClose.Load(); n > 0 {
				t.Errorf("%d cluster calls after Close: a poller or tracker outlived the run", n)
			}
			n := tc.d.calls.Load()
			time.Sleep(300 * time.Millisecond) // three gauge intervals
			if m := tc.d.calls.Load(); m != n {
				t.Errorf("%d client or cluster calls after Run returned: workers, pollers or trackers still running", m-n)
			}
		})
	}
}

// A run whose caller swept Docker tells the driver, so a run sweeps once
// (issue 11: the command and then every driver start swept again).
func TestSweptReachesTheDriver(t *testing.T) {
	plan, err := scenarios.Parse("swept.yaml", []byte("name: swept\ncluster: {nodes: 1}\nworkload: {mix: {read: 1}, keys: 10, rate: 20, concurrency: 1}\nsteps:\n  - sleep: 100ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, swept := range []bool{true, false} {
		d := &panicDriver{}
		if _, err := Run(t.Context(), Options{Plan: plan, Driver: d, Provider: drivers.ProviderEmbedded, RunID: "test-swept", Swept: swept}); err != nil {
			t.Fatal(err)
		}
		if d.swept.Load() != swept {
			t.Errorf("Options.Swept %t reached the driver as %t", swept, d.swept.Load())
		}
	}
}
