package etcd

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/clientset"
	"github.com/evalrun/evalrun/internal/drivertest"
)

// checkServed: a client on one member's endpoint alone is answered by
// that member, so every operation it sends says that member served it;
// the cluster's own client spreads operations over the members and says
// which, a real member each time.
func checkServed(t *testing.T, c drivers.Cluster, s membership) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var set clientset.Set[*client]
	defer func() { _ = set.CloseAll(func(cl *client) error { return cl.Close() }) }()
	views := s.host.views()
	for _, v := range views {
		cl, err := openClient(&set, []string{v.endpoint}, s.memberIndex)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			key := fmt.Sprintf("served-%d-%d", v.index, i)
			if got := drivertest.Served(ctx, t, cl, key); got != [3]int{v.index, v.index, v.index} {
				t.Fatalf("a client on %s alone: served by put, get, delete %v; want %d", v.name, got, v.index)
			}
		}
	}
	cl, err := c.NewClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cl.Close() }()
	served := map[int]int{}
	for i := range 200 {
		node, err := cl.(drivers.ServingClient).PutServed(ctx, fmt.Sprintf("spread-%d", i), []byte("v"))
		if err != nil {
			t.Fatal(err)
		}
		if node < 1 || node > len(views) {
			t.Fatalf("put served by node %d, not a member", node)
		}
		served[node]++
	}
	if len(served) < 2 {
		t.Errorf("the cluster's client: 200 puts served by %v, want more than one member", served)
	}
	t.Logf("200 puts served by %v (member: puts)", served)
}

func TestServedEmbedded(t *testing.T) {
	c := startTestCluster(t, 3, nil)
	checkServed(t, c, c.membership)
}

func TestServedDocker(t *testing.T) {
	e := dockerEngine(t)
	c := startDockerCluster(t, e, 3, nil)
	checkServed(t, c, c.membership)
}

// A response from a member the client cannot name (ID 0, or unknown) is
// served by node 0, never a guess.
func TestMemberIndexUnknown(t *testing.T) {
	c := startTestCluster(t, 1, nil)
	for _, id := range []uint64{0, 12345} {
		if got := c.memberIndex(id); got != 0 {
			t.Errorf("memberIndex(%d) = %d, want 0", id, got)
		}
	}
	v := c.views()[0]
	if got := c.memberIndex(v.id); got != v.index {
		t.Errorf("memberIndex(%x) = %d, want %d", v.id, got, v.index)
	}
}
