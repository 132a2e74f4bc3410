package mariadb

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/evalrun/evalrun/internal/drivertest"
)

// TestServedNode: with read-from replicas on a primary (node1) and two
// replicas, every write says the primary served it and every read a
// replica, both replicas in turn.
func TestServedNode(t *testing.T) {
	runID := needDocker(t)
	t.Parallel()
	c := startTestCluster(t, runID, 3, map[string]string{OptReadFrom: string(readReplicas)})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cl := drivertest.NewClient(t, c)
	reads := map[int]int{}
	for i := range 100 {
		key := fmt.Sprintf("served-%d", i)
		got := drivertest.Served(ctx, t, cl, key)
		if got[0] != 1 || got[2] != 1 || (got[1] != 2 && got[1] != 3) {
			t.Fatalf("%s: served by put, get, delete %v; want the primary 1 for the writes, replica 2 or 3 for the read", key, got)
		}
		reads[got[1]]++
	}
	if len(reads) != 2 {
		t.Errorf("reads served by %v, want both replicas", reads)
	}
	t.Logf("100 reads served by %v (node: reads)", reads)
}
