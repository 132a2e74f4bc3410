package runner

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/drivers"
)

// rolesCluster says node 4..6 are replicas and 1 the leader.
type rolesCluster struct{ drivers.Cluster }

func (rolesCluster) NodeRoles(context.Context) (map[string][]int, error) {
	return map[string][]int{"leader": {1}, "replica": {4, 5, 6}}, nil
}

func TestNodeBook(t *testing.T) {
	var b nodeBook
	// a 3+3 Redis cluster reports six nodes: all of them are up
	var info []drivers.NodeInfo
	for i := 1; i <= 6; i++ {
		info = append(info, drivers.NodeInfo{Index: i, Up: true})
	}
	b.started(info, 3)
	ctx := context.Background()
	c := rolesCluster{}
	resolve := func(index int, role string) (int, error) { return b.resolve(ctx, c, index, role) }

	if i, err := resolve(0, "replica"); err != nil || i != 4 {
		t.Errorf("replica: %d, %v; want 4 (the lowest that is up)", i, err)
	}
	b.mark(4, false)
	if i, err := resolve(0, "replica"); err != nil || i != 5 {
		t.Errorf("replica with node 4 down: %d, %v; want 5", i, err)
	}
	if i, err := resolve(0, "down"); err != nil || i != 4 {
		t.Errorf("down: %d, %v", i, err)
	}
	b.mark(5, false)
	b.mark(4, true)
	if i, _ := resolve(0, "down"); i != 5 {
		t.Errorf("down after 4 came back: %d, want 5", i)
	}
	if i, _ := resolve(0, "last"); i != 6 {
		t.Errorf("last with none added: %d, want the highest up (6)", i)
	}
	b.add(7)
	if i, _ := resolve(0, "last"); i != 7 {
		t.Errorf("last: %d, want 7", i)
	}
	if i, _ := resolve(3, ""); i != 3 {
		t.Errorf("an index: %d", i)
	}
	b.mark(1, false)
	if _, err := resolve(0, "leader"); err == nil || !strings.Contains(err.Error(), "no node that is up is leader") {
		t.Errorf("the leader is down: %v", err)
	}
	var plain struct{ drivers.Cluster }
	if _, err := b.resolve(ctx, plain, 0, "leader"); !errors.Is(err, errNotSupported) {
		t.Errorf("a cluster without roles: %v", err)
	}
	var empty nodeBook
	empty.started(nil, 3)
	if i, _ := empty.resolve(ctx, c, 0, "last"); i != 3 {
		t.Errorf("no node info: nodes 1..3, last %d", i)
	}
}
