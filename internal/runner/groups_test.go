package runner_test

import (
	"context"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/drivers/mem"
	"github.com/evalrun/evalrun/internal/runner"
)

// groupedMem is the mem driver whose clusters say their nodes form
// groups (drivers.NodeGrouper), as a sharded MariaDB's do.
type groupedMem struct {
	drivers.Driver
	groups map[int]string
}

func (d groupedMem) StartCluster(ctx context.Context, spec drivers.ClusterSpec) (drivers.Cluster, error) {
	c, err := d.Driver.StartCluster(ctx, spec)
	if err != nil {
		return nil, err
	}
	return groupedCluster{Cluster: c, groups: d.groups}, nil
}

type groupedCluster struct {
	drivers.Cluster
	groups map[int]string
}

func (c groupedCluster) NodeGroups() map[int]string { return c.groups }

// TestGroupStatsOnMem: a cluster that groups its nodes gets, per phase, a
// row per group merging its nodes' operations (counts add up to the
// nodes'), and every node row counts its operations by type.
func TestGroupStatsOnMem(t *testing.T) {
	t.Parallel()
	plan := parse(t, memScenario("groups", "", "uniform", "  - phase: steady\n    sleep: 2s\n"))
	plan.Workload.Rate, plan.Workload.Keys = 300, 1000
	d := groupedMem{Driver: mem.New(), groups: map[int]string{1: "g1", 2: "g2", 3: "g2"}}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	rep, err := runner.Run(ctx, runner.Options{Plan: plan, Driver: d, Provider: drivers.ProviderEmbedded,
		RunID: "test-mem-groups", Version: "test", Logf: t.Logf})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	p := phaseOf(rep, "steady")
	if p == nil || len(p.Nodes) == 0 {
		t.Fatalf("phase steady without per-node rows: %+v", p)
	}
	byNode := map[int]int64{}
	for _, n := range p.Nodes {
		var ops int64
		for _, c := range n.Ops {
			ops += c
		}
		if ops != n.Count {
			t.Errorf("node %d: ops %v add up to %d, count %d", n.Node, n.Ops, ops, n.Count)
		}
		byNode[n.Node] = n.Count
	}
	if len(p.Groups) != 2 || p.Groups[0].Group != "g1" || p.Groups[1].Group != "g2" {
		t.Fatalf("groups %+v, want g1 and g2", p.Groups)
	}
	for _, g := range p.Groups {
		var want int64
		for _, n := range g.Nodes {
			want += byNode[n]
		}
		if g.Count != want || g.Count == 0 || g.P99Us <= 0 || g.Throughput <= 0 || g.WriteP99Us <= 0 {
			t.Errorf("group %+v: want the count of its nodes (%d), a p99, a throughput and a write p99", g, want)
		}
	}
	for _, g := range p.Groups {
		for _, n := range g.Nodes {
			if d.groups[n] != g.Group {
				t.Errorf("group %s lists node %d of group %q", g.Group, n, d.groups[n])
			}
		}
	}
}
