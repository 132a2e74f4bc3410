package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/errext"
	"github.com/evalrun/evalrun/reports"
)

// A driver whose Gauges or Handoff panics (a driver bug): `evalrun run`
// exits 3 through the command's mapping, writes a report marked
// incomplete, and closes the cluster once nothing asks it anything.
func TestDriverPanicBesideTheTimelineExits3(t *testing.T) {
	for _, method := range []string{"Gauges", "Handoff"} {
		t.Run(method, func(t *testing.T) {
			d := &gaugePanicDriver{panicIn: method}
			reg, err := drivers.NewRegistry(d)
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			a := &app{stdout: &stdout, stderr: &stderr, registry: reg, version: "test", isTerminal: func() bool { return false }}
			dir := t.TempDir()
			scenario := writeFile(t, dir, "s.yaml", "name: panic\ncluster: {nodes: 1}\n"+
				"workload: {mix: {read: 1}, keys: 10, rate: 50, preload: false}\n"+
				"steps:\n  - sleep: 1s\n  - kill: 1\n  - start: 1\n  - sleep: 30s\n")
			out := filepath.Join(dir, "run")
			t0 := time.Now()
			code := a.execute([]string{"run", scenario, "--driver", d.Name(), "--out", out, "--quiet"})
			if code != int(errext.ExitInternal) {
				t.Errorf("exit %d, want %d\n%s", code, errext.ExitInternal, stderr.String())
			}
			if d := time.Since(t0); d > 20*time.Second {
				t.Errorf("the run went on for %v after the panic", d)
			}
			rep, err := reports.ReadJSON(filepath.Join(out, "report.json"))
			if err != nil {
				t.Fatalf("no report: %v\n%s", err, stderr.String())
			}
			if want := "panic in the"; rep.Complete || !strings.Contains(rep.Incomplete, want) {
				t.Errorf("report complete=%v incomplete=%q, want incomplete with %q", rep.Complete, rep.Incomplete, want)
			}
			if !d.closed.Load() || d.afterClose.Load() > 0 {
				t.Errorf("cluster closed %v, %d calls after Close", d.closed.Load(), d.afterClose.Load())
			}
		})
	}
}

// gaugePanicDriver's cluster panics in Gauges or Handoff (after start)
// and counts the calls that come after Close.
type gaugePanicDriver struct {
	panicIn    string
	closed     atomic.Bool
	afterClose atomic.Int64
}

func (d *gaugePanicDriver) Name() string        { return "gauge-panic" }
func (d *gaugePanicDriver) Description() string { return "a fake whose gauges or handoff panic" }
func (d *gaugePanicDriver) Providers() []string { return []string{drivers.ProviderEmbedded} }
func (d *gaugePanicDriver) Plan(string, int, map[string]string) (drivers.Topology, error) {
	return drivers.Topology{Nodes: 1, Capabilities: drivers.CapabilitiesOf((*gaugePanicCluster)(nil))}, nil
}
func (d *gaugePanicDriver) StartCluster(context.Context, drivers.ClusterSpec) (drivers.Cluster, error) {
	return &gaugePanicCluster{d: d}, nil
}

type gaugePanicCluster struct{ d *gaugePanicDriver }

func (c *gaugePanicCluster) called(method string) {
	if c.d.closed.Load() {
		c.d.afterClose.Add(1)
	}
	if c.d.panicIn == method {
		panic(method + ": index out of range in the fake driver")
	}
}
func (c *gaugePanicCluster) Info(context.Context) (drivers.ClusterInfo, error) {
	return drivers.ClusterInfo{DB: "fake"}, nil
}
func (c *gaugePanicCluster) NewClient(context.Context) (drivers.Client, error) {
	return nopClient{}, nil
}
func (c *gaugePanicCluster) Close(context.Context) error          { c.d.closed.Store(true); return nil }
func (c *gaugePanicCluster) KillNode(context.Context, int) error  { return nil }
func (c *gaugePanicCluster) StopNode(context.Context, int) error  { return nil }
func (c *gaugePanicCluster) StartNode(context.Context, int) error { return nil }
func (c *gaugePanicCluster) GaugeInterval() time.Duration         { return 100 * time.Millisecond }
func (c *gaugePanicCluster) Gauges(context.Context) ([]drivers.Gauge, error) {
	c.called("Gauges")
	return nil, nil
}
func (c *gaugePanicCluster) Handoff(context.Context) (drivers.Handoff, error) {
	c.called("Handoff")
	return drivers.Handoff{}, nil
}

type nopClient struct{}

func (nopClient) Put(context.Context, string, []byte) error { return nil }
func (nopClient) Get(context.Context, string) ([]byte, error) {
	return nil, drivers.ErrNotFound
}
func (nopClient) Delete(context.Context, string) error { return nil }
func (nopClient) Close() error                         { return nil }
