package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/evalrun/evalrun/internal/drivertest"
)

// TestServedNode: on a cluster of 3 masters with a replica each, the node
// the client says served a put, a get and a delete is the master that
// owns the key's slot (as the masters' CLUSTER NODES say), and every
// master serves some keys.
func TestServedNode(t *testing.T) {
	runID := needDocker(t)
	t.Parallel()
	c := startTestCluster(t, runID, 3, map[string]string{"replicas": "1"})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cl, err := c.NewClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cl.Close() }()
	masters, err := c.currentMasters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	owner := func(key string) int {
		s := keySlot(key)
		for _, m := range masters {
			for _, r := range m.slots {
				if s >= r.lo && s <= r.hi {
					return m.node.Index
				}
			}
		}
		t.Fatalf("no master owns slot %d", s)
		return 0
	}
	served := map[int]int{}
	for i := range 300 {
		key := fmt.Sprintf("served-%d", i)
		want := owner(key)
		got := drivertest.Served(ctx, t, cl, key)
		if got != [3]int{want, want, want} {
			t.Fatalf("%s (slot %d): served by put, get, delete %v; the slot's master is node%d", key, keySlot(key), got, want)
		}
		served[got[0]]++
	}
	if len(served) != len(masters) {
		t.Errorf("served by %v, want each of the %d masters", served, len(masters))
	}
	t.Logf("300 keys served by %v (node: keys)", served)
}
