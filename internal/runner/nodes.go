package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/evalrun/evalrun/drivers"
)

// nodeBook is what the steps did to the nodes, as the runner resolves
// the roles every driver has ("down", "last", "degraded") and picks, among the nodes
// a driver role names, one that is up.
type nodeBook struct {
	mu    sync.Mutex
	up    map[int]bool
	down  []int // killed, stopped or paused and not back, most recent last
	added []int
	// degraded: degraded and not repaired, most recent last (degrade.go)
	degraded []int
}

// started records the nodes of a cluster that just started: every node it
// reports (Redis with replicas starts more than cluster.nodes), or 1..n
// when it reports none.
func (b *nodeBook) started(info []drivers.NodeInfo, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.up = map[int]bool{}
	for _, ni := range info {
		b.up[ni.Index] = ni.Up
	}
	if len(info) == 0 {
		for i := 1; i <= n; i++ {
			b.up[i] = true
		}
	}
}

// mark records that a step left idx up or not.
func (b *nodeBook) mark(idx int, up bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.up[idx] = up
	for i, d := range b.down {
		if d == idx {
			b.down = append(b.down[:i], b.down[i+1:]...)
			break
		}
	}
	if !up {
		b.down = append(b.down, idx)
	}
}

// add records a node add-node started.
func (b *nodeBook) add(idx int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.up[idx] = true
	b.added = append(b.added, idx)
}

// remove records a node remove-node took out.
func (b *nodeBook) remove(idx int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.up, idx)
}

// resolve turns a node reference into an index: an index as given, the
// runner's roles from the book, a driver's role through drivers.Roles (the
// lowest-numbered node playing it that is up).
func (b *nodeBook) resolve(ctx context.Context, c drivers.Cluster, index int, role string) (int, error) {
	if role == "" {
		return index, nil
	}
	b.mu.Lock()
	switch role {
	case "down":
		defer b.mu.Unlock()
		if len(b.down) == 0 {
			return 0, errors.New("no node is down")
		}
		return b.down[len(b.down)-1], nil
	case "last":
		defer b.mu.Unlock()
		if len(b.added) > 0 {
			return b.added[len(b.added)-1], nil
		}
		return b.highestUp(), nil
	case "degraded":
		defer b.mu.Unlock()
		return b.lastDegraded()
	}
	b.mu.Unlock()
	roles, ok := c.(drivers.Roles)
	if !ok {
		return 0, fmt.Errorf("%w: this cluster names no roles", errNotSupported)
	}
	byRole, err := roles.NodeRoles(ctx)
	if err != nil {
		return 0, fmt.Errorf("find the %s: %w", role, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, idx := range byRole[role] {
		if b.up[idx] {
			return idx, nil
		}
	}
	return 0, fmt.Errorf("no node that is up is %s now (the cluster says %v)", role, byRole[role])
}

// others lists the cluster's nodes but idx, ascending.
func (b *nodeBook) others(idx int) []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []int
	for i := range b.up {
		if i != idx {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

func (b *nodeBook) highestUp() int {
	h := 0
	for i, up := range b.up {
		if up && i > h {
			h = i
		}
	}
	return h
}
