package mem

import (
	"context"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/errext"
)

// The CPU quota is a gray failure: below cpu/cpuCost operations per second
// a node adds no wait, above it the queue grows as long as the load lasts.
func TestSlowNodeCPU(t *testing.T) {
	cases := []struct {
		name       string
		cpus, rate float64 // cores; arrivals per second, evenly spaced, for one second
		atLeast    time.Duration
		atMost     time.Duration // of the last arrival's wait
	}{
		{"below the quota waits nothing", 0.05, 200, 0, 0},
		{"at 2x the quota the queue grows", 0.05, 1000, 400 * time.Millisecond, 2 * time.Second},
		{"a whole core serves 5,000/s with no wait", 1, 5000, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &slowNode{d: drivers.Degradation{CPUs: tc.cpus}}
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var wait time.Duration
			n := int(tc.rate)
			for i := range n {
				at := t0.Add(time.Duration(float64(i) / tc.rate * float64(time.Second)))
				wait = s.cpu(at).Sub(at)
			}
			if wait < tc.atLeast || wait > tc.atMost {
				t.Errorf("last wait %v, want %v..%v", wait, tc.atLeast, tc.atMost)
			}
		})
	}
}

func TestSlowNodeLinkAndLoss(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &slowNode{d: drivers.Degradation{BandwidthBitsPerSec: 2_000_000}}
	if got, want := s.admit(t0, 250).Sub(t0), time.Millisecond; got != want {
		t.Errorf("250 bytes at 2mbit took %v, want %v", got, want)
	}
	if got, want := s.admit(t0, 250).Sub(t0), 2*time.Millisecond; got != want {
		t.Errorf("the second operation took %v, want %v (after the first)", got, want)
	}
	lossy := &slowNode{d: drivers.Degradation{LossPercent: 3, Delay: time.Millisecond}, rng: newRand(1, 2)}
	late := 0
	const ops = 10000
	for range ops {
		switch lossy.admit(t0, 0).Sub(t0) {
		case time.Millisecond:
		case time.Millisecond + lossRetransmit:
			late++
		default:
			t.Fatal("an operation waited neither the delay nor the delay and a retransmission")
		}
	}
	if late < ops*2/100 || late > ops*4/100 {
		t.Errorf("%d of %d operations lost a packet, want about 3%%", late, ops)
	}
}

// On a cluster: a degraded follower slows the operations the client sends
// to it, and only them; a degraded leader slows every one; repair ends it.
func TestDegradeAndRepair(t *testing.T) {
	c, cl := startMem(t, 3, nil)
	ctx := context.Background()
	stuck := drivers.Degradation{Delay: 10 * time.Second} // far beyond the operations' timeout
	timedOut := func() int {
		n := 0
		for range 30 {
			octx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			if err := cl.Put(octx, "k", []byte("v")); err != nil {
				n++
			}
			cancel()
		}
		return n
	}
	steps := []struct {
		name string
		do   func() error
		want int
	}{
		{"healthy", func() error { return nil }, 0},
		{"node 2 degraded: a third of the operations", func() error { return c.Degrade(ctx, 2, stuck) }, 10},
		{"node 2 repaired", func() error { return c.Repair(ctx, 2) }, 0},
		{"the leader degraded: every operation", func() error { return c.Degrade(ctx, 1, stuck) }, 30},
		{"the leader repaired", func() error { return c.Repair(ctx, 1) }, 0},
		{"a repair of a node not degraded", func() error { return c.Repair(ctx, 3) }, 0},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := timedOut(); got != st.want {
			t.Errorf("%s: %d of 30 operations timed out, want %d", st.name, got, st.want)
		}
	}
	if err := c.Degrade(ctx, 9, stuck); err == nil {
		t.Error("degrade of node 9 of 3 succeeded")
	}
}

func TestRefusesResources(t *testing.T) {
	_, err := New().StartCluster(context.Background(), drivers.ClusterSpec{Provider: drivers.ProviderEmbedded, Nodes: 1,
		Resources: drivers.Resources{CPUs: 0.5}})
	if !errext.IsBadInput(err) {
		t.Errorf("StartCluster with resources: %v", err)
	}
	top, err := New().Plan(drivers.ProviderEmbedded, 3, nil)
	if err != nil || top.Resources || !drivers.Supports(top.Capabilities, drivers.CapDegrade) {
		t.Errorf("Plan: %+v, %v", top, err)
	}
}
