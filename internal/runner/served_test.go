package runner_test

import (
	"slices"
	"testing"
	"time"

	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/scenarios"
)

// TestPerNodeTablesOnMem: the mem client says which node served each
// operation, so every phase has a row per node with the operations the
// client spread over them (named as the cluster names them), their
// counts add up to the phase's operations sent, an isolated node's row
// carries the errors, and a healthy run has no slow-node finding.
func TestPerNodeTablesOnMem(t *testing.T) {
	t.Parallel()
	rep := runMem(t, parse(t, memScenario("per-node", "", "uniform", `  - phase: steady
    sleep: 2s
  - phase: partitioned
    partition: [[1], [2, 3]]
  - sleep: 2s
  - heal: true
`)))
	honest(t, rep.Safety)
	for _, name := range []string{"warmup", "steady", "partitioned"} {
		p := phaseOf(rep, name)
		if p == nil {
			t.Fatalf("no phase %s", name)
		}
		var nodes []int
		var count, errs int64
		for _, n := range p.Nodes {
			nodes = append(nodes, n.Node)
			count += n.Count
			errs += n.Errors
			if n.Node > 0 && (n.Name != "node"+string(rune('0'+n.Node)) || n.P99Us <= 0 || n.MaxUs < n.P99Us) {
				t.Errorf("phase %s: row %+v", name, n)
			}
		}
		if !slices.Equal(nodes, []int{1, 2, 3}) {
			t.Errorf("phase %s: rows for nodes %v, want 1, 2, 3", name, nodes)
		}
		if sent := p.Total.Count - p.Total.Missed; count != sent || errs != p.Total.Errors {
			t.Errorf("phase %s: rows count %d operations and %d errors, the phase %d and %d", name, count, errs, sent, p.Total.Errors)
		}
	}
	part := phaseOf(rep, "partitioned")
	// node 1, isolated, fails (nearly) everything; nodes 2 and 3 only
	// while they elect a leader
	n1 := part.Nodes[0]
	if n1.Errors*10 < n1.Count*9 || part.Nodes[1].Errors*2 > n1.Errors || part.Nodes[2].Errors*2 > n1.Errors {
		t.Errorf("partitioned: node 1 (isolated) %+v, nodes 2 and 3 %+v: want most errors on node 1", n1, part.Nodes[1:])
	}
	if f := judge.SlowNodes(rep); len(f) != 0 {
		t.Errorf("a healthy run has slow-node findings: %+v", f)
	}
}

// TestSlowNodeOnMem: one node degraded at a high rate is named slow, and
// only it; once repaired and its queue drained, no node is.
func TestSlowNodeOnMem(t *testing.T) {
	t.Parallel()
	plan, err := scenarios.Parse("test:"+t.Name(), []byte(memScenario("slow-node", "", "uniform", `  - phase: degraded
    degrade: {node: 2, cpu: 0.01} # mem: 100 ops/s of capacity
  - rate: 600 # node 2 gets a third: twice what it can serve
  - sleep: 3s
  - phase: draining # what node 2 queued still completes
    repair: 2
  - rate: 300
  - sleep: 1s
  - phase: repaired
    sleep: 2s
`)))
	if err != nil {
		t.Fatal(err)
	}
	rep := runMem(t, plan.Scaled(9*time.Second))
	var inDegraded bool
	for _, f := range judge.SlowNodes(rep) {
		if f.Node != 2 || (f.Phase != "degraded" && f.Phase != "draining") {
			t.Errorf("finding %+v: want node 2 while degraded or draining only", f)
		}
		inDegraded = inDegraded || f.Phase == "degraded"
	}
	if !inDegraded {
		t.Errorf("no slow-node finding in phase degraded; its nodes: %+v", phaseOf(rep, "degraded").Nodes)
	}
}
