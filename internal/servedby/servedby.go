// Package servedby maps what a driver's client learns about the node that
// served an operation (a node address, a member ID) to the node's 1-based
// index, for drivers.ServingClient. A lookup reads a copy-on-write map
// without a lock and allocates nothing; a key it does not hold is
// resolved from the cluster (the slow path) and kept once resolved.
package servedby

import (
	"sync"
	"sync/atomic"
)

// Index maps keys to node indexes. Its methods are safe for concurrent use.
type Index[K comparable] struct {
	known   atomic.Pointer[map[K]int]
	mu      sync.Mutex // serialises writers of known
	resolve func(K) int
}

// New returns an Index that asks resolve for a key it does not hold;
// resolve returns 0 for a key no node has (then nothing is kept, so a
// node that becomes known later is found).
func New[K comparable](resolve func(K) int) *Index[K] {
	return &Index[K]{resolve: resolve}
}

// Of returns the index of the node k names, 0 when none does. A nil
// Index knows no node.
func (x *Index[K]) Of(k K) int {
	if x == nil {
		return 0
	}
	if m := x.known.Load(); m != nil {
		if i, ok := (*m)[k]; ok {
			return i
		}
	}
	i := x.resolve(k)
	if i > 0 {
		x.keep(k, i)
	}
	return i
}

func (x *Index[K]) keep(k K, i int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.known.Load()
	m := make(map[K]int, 1+lenOf(old))
	if old != nil {
		for key, v := range *old {
			m[key] = v
		}
	}
	m[k] = i
	x.known.Store(&m)
}

func lenOf[K comparable](m *map[K]int) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// Forget drops what the Index holds: a node's key may now name another
// node (an address a restarted container gave up).
func (x *Index[K]) Forget() {
	if x == nil {
		return
	}
	x.mu.Lock()
	x.known.Store(nil)
	x.mu.Unlock()
}
