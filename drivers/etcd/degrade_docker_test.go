package etcd

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/docker"
	"github.com/evalrun/evalrun/internal/drivertest"
	"github.com/evalrun/evalrun/internal/errext"
	"github.com/evalrun/evalrun/internal/testdocker"
)

// cpuQuota is the CFS quota of member index's container as the daemon
// has it (µs per 100 ms period; 0 or -1: none).
func cpuQuota(t *testing.T, e *docker.Engine, c *dockerCluster, index int) int64 {
	t.Helper()
	m, err := c.Node(index)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ci, err := e.Client().InspectContainerWithContext(m.DN.ContainerID(), ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ci.HostConfig.CPUQuota
}

// cluster.resources reach the containers (a per-node override too) and
// the report's node list; degrade changes a member's quota while it runs
// and repair gives it back its own.
func TestDockerResourcesDegradeRepair(t *testing.T) {
	e := dockerEngine(t)
	runID := testdocker.RunID(t, "etcd")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	t.Cleanup(func() { testdocker.AssertNoLeftovers(t, e, runID) })
	cl, err := New().StartCluster(ctx, drivers.ClusterSpec{Provider: drivers.ProviderDocker, Nodes: 3, WorkDir: t.TempDir(), RunID: runID, Logf: t.Logf,
		Resources: drivers.Resources{CPUs: 0.5, MemoryBytes: 256 << 20}, PerNode: map[int]drivers.Resources{2: {CPUs: 1, MemoryBytes: 256 << 20}}})
	if err != nil {
		t.Fatalf("StartCluster: %v", err)
	}
	c := cl.(*dockerCluster)
	t.Cleanup(func() { drivertest.CloseCluster(t, c) })

	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range info.Nodes {
		want := 0.5
		if n.Index == 2 {
			want = 1
		}
		if n.CPUs != want || n.MemoryBytes != 256<<20 {
			t.Errorf("report: %s has cpus %v memory %d, want %v and 256 MiB", n.Name, n.CPUs, n.MemoryBytes, want)
		}
	}
	steps := []struct {
		name  string
		do    func() error
		node  int
		quota int64
	}{
		{"as created", func() error { return nil }, 1, 50_000},
		{"its own override", func() error { return nil }, 2, 100_000},
		{"degraded to 0.05 cores", func() error { return c.Degrade(ctx, 1, drivers.Degradation{CPUs: 0.05}) }, 1, 5_000},
		{"a peer untouched", func() error { return nil }, 3, 50_000},
		{"repaired: its own 0.5 back", func() error { return c.Repair(ctx, 1) }, 1, 50_000},
		{"node2 degraded to 0.1 cores", func() error { return c.Degrade(ctx, 2, drivers.Degradation{CPUs: 0.1}) }, 2, 10_000},
		{"repaired: its own 1 back", func() error { return c.Repair(ctx, 2) }, 2, 100_000},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := cpuQuota(t, e, c, st.node); got != st.quota {
			t.Errorf("%s: node%d quota %d µs per 100 ms, want %d", st.name, st.node, got, st.quota)
		}
	}
	// the cluster still serves after all that
	drivertest.PutEventually(t, drivertest.NewClient(t, c), "after-repair", []byte("v"), 30*time.Second)
}

// At run start a delay is checked against the Docker host's kernel: where
// it has no netem (this machine kind's), the check is one line of bad
// input; elsewhere it passes. cpu, bandwidth and loss need no check.
func TestDockerCheckDegradeDelay(t *testing.T) {
	e := dockerEngine(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	has, err := e.HasNetem(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := (Driver{}).CheckDegrade(ctx, drivers.ProviderDocker, drivers.Degradation{CPUs: 0.1, LossPercent: 3, BandwidthBitsPerSec: 1e6}); err != nil {
		t.Errorf("cpu, loss and bandwidth: %v", err)
	}
	err = (Driver{}).CheckDegrade(ctx, drivers.ProviderDocker, drivers.Degradation{Delay: 50 * time.Millisecond})
	t.Logf("netem: %v; check: %v", has, err)
	switch {
	case has && err != nil:
		t.Errorf("the kernel has netem, yet: %v", err)
	case !has && (!errext.IsBadInput(err) || !strings.Contains(err.Error(), "this kernel has no netem") || strings.Contains(err.Error(), "\n")):
		t.Errorf("no netem: got %v, want one line of bad input", err)
	}
}
