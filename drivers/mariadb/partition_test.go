package mariadb

import (
	"testing"
	"time"

	"github.com/evalrun/evalrun/internal/drivertest"
)

// A replica cut off from the primary keeps answering reads through the
// harness's own network (internal/docker gives each node one that
// partitions never touch): with read-from replicas, no read it serves fails
// before, during or after the partition, and its lag gauge is read
// throughout. Before the harness network was per node, moving the replica
// between networks broke the harness's connections to it.
func TestScenarioReplicaPartitionKeepsServing(t *testing.T) {
	runID := needDocker(t)
	t.Parallel()
	rep, _ := drivertest.RunScenario(t, New(), runID, `name: replica-partition
cluster:
  nodes: 3
  options: {read-from: replicas}
workload: {mix: {read: 80, write: 20}, keys: 300, value_size: 64, rate: 200, concurrency: 8}
steps:
  - phase: baseline
    sleep: 3s
  - phase: partitioned
    partition: [[1, 2], [3]]
  - sleep: 6s
  - phase: healed
    heal:
  - sleep: 4s
`, 4*time.Minute)
	for _, ph := range rep.Phases {
		for _, ns := range ph.Nodes {
			t.Logf("phase %s: node %d served %d operations, %d errors", ph.Name, ns.Node, ns.Count, ns.Errors)
			if ns.Node == 3 && ns.Errors > 0 {
				t.Errorf("phase %s: node3 (the partitioned replica) failed %d of %d operations", ph.Name, ns.Errors, ns.Count)
			}
		}
		served := false
		for _, ns := range ph.Nodes {
			served = served || ns.Node == 3 && ns.Count > 0
		}
		if !served {
			t.Errorf("phase %s: node3 served no operation: %+v", ph.Name, ph.Nodes)
		}
	}
	lagWindows, partWindows := 0, 0
	for _, w := range rep.Windows {
		if _, ok := w.Gauges["lag_s.node3"]; ok {
			lagWindows++
		}
		partWindows++
	}
	t.Logf("lag_s.node3 in %d of %d windows", lagWindows, partWindows)
	if lagWindows < partWindows/2 {
		t.Errorf("lag_s.node3 in %d of %d windows: the gauge lost the partitioned replica", lagWindows, partWindows)
	}
}
