package mem

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/evalrun/evalrun/drivers"
)

// Gray failures on mem (drivers.Degrader), in the spirit of the fault
// knobs of hashicorp/raft's in-memory transport: a degraded node stays up
// and answers, only slower.
//
// An operation passes through the node the client sent it to and, when
// that node is not the leader, through the leader; at each degraded node
// on its way it meets, in order:
//
//   - delay: a fixed wait (as netem's on the node's packets);
//   - loss: with that probability (seeded, so runs repeat) a packet of the
//     operation is lost and TCP sends it again after its minimum
//     retransmission timeout, 200 ms: the operation is late, not failed,
//     and one whose timeout is shorter fails as a timeout;
//   - cpu: the node is one server under a CFS quota of cpu cores per
//     100 ms period (Docker's --cpus); every operation costs it cpuCost of
//     CPU time and they are served in arrival order. Below the quota an
//     operation waits for nothing (a throttled process runs at full speed
//     until its quota is spent), so the node looks healthy at a low rate;
//     past it (cpu/cpuCost operations per second: 500/s at cpu 0.05) the
//     queue and the latency grow without bound while the load lasts: a
//     gray failure that shows only under load;
//   - bandwidth: the node's link serialises the operation's bytes (the
//     value size of the most recent write plus opOverhead) at that rate,
//     in arrival order.
//
// Repair undoes all of it at once; operations already waiting finish
// their wait.

var _ drivers.Degrader = (*cluster)(nil)

const (
	cpuCost        = 100 * time.Microsecond // CPU time one operation costs a node (a core serves 10,000/s)
	cfsPeriod      = 100 * time.Millisecond // the CFS period a quota is spent over
	lossRetransmit = 200 * time.Millisecond // Linux's minimum TCP retransmission timeout
	opOverhead     = 100                    // bytes of an operation besides its value (key, headers)
)

// slowNode is what degrade applied to one node and the state of its
// queues. Guarded by cluster.mu.
type slowNode struct {
	d        drivers.Degradation
	rng      *rand.Rand // which operations lose a packet
	period   time.Time  // start of the CFS period used counts
	used     time.Duration
	cpuFree  time.Time // the CPU is busy with earlier operations until then
	linkFree time.Time // the link sends earlier operations until then
}

// Degrade implements drivers.Degrader. It replaces what the node had.
func (c *cluster) Degrade(ctx context.Context, index int, d drivers.Degradation) error {
	return c.onNode(ctx, "degrade", index, func(_ *node, _ time.Time) error {
		if c.slow == nil {
			c.slow = map[int]*slowNode{}
		}
		c.slow[index] = &slowNode{d: d, rng: newRand(c.opts.bugSeed, index)}
		return nil
	})
}

// Repair implements drivers.Degrader.
func (c *cluster) Repair(ctx context.Context, index int) error {
	return c.onNode(ctx, "repair", index, func(_ *node, _ time.Time) error {
		delete(c.slow, index)
		return nil
	})
}

// degradeWait makes the operation of the client's turn wait for what the
// degraded nodes on its way cost it (see above); it returns ctx's error
// when the operation's time ran out first.
func (c *cluster) degradeWait(ctx context.Context, turn uint64) error {
	var until time.Time
	_ = c.locked(func(now time.Time) error {
		if len(c.slow) == 0 {
			return nil
		}
		x := c.route(turn)
		if x == nil {
			return nil
		}
		bytes := opOverhead
		if k := len(c.log); k > 0 {
			bytes += len(c.log[k-1].value)
		}
		t := c.pass(x, now, bytes)
		if l := c.leaderNode(); l != nil && l != x {
			t = c.pass(l, t, bytes)
		}
		if t.After(now) {
			until = t
		}
		return nil
	})
	if until.IsZero() {
		return nil
	}
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closing:
		return errClosed
	}
}

// newRand is the seeded source of node index's lost packets.
func newRand(seed, index int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), uint64(index)))
}

// pass is when an operation that reaches n at t leaves it; under mu.
func (c *cluster) pass(n *node, t time.Time, bytes int) time.Time {
	if s := c.slow[n.index]; s != nil {
		return s.admit(t, bytes)
	}
	return t
}

// admit passes an operation of bytes that reaches the node at t through
// it and returns when it leaves.
func (s *slowNode) admit(t time.Time, bytes int) time.Time {
	t = t.Add(s.d.Delay)
	if s.d.LossPercent > 0 && s.rng.Float64()*100 < s.d.LossPercent {
		t = t.Add(lossRetransmit)
	}
	if s.d.CPUs > 0 {
		t = s.cpu(t)
	}
	if bps := s.d.BandwidthBitsPerSec; bps > 0 {
		if s.linkFree.After(t) {
			t = s.linkFree
		}
		t = t.Add(time.Duration(float64(bytes*8) / float64(bps) * float64(time.Second)))
		s.linkFree = t
	}
	return t
}

// cpu serves an operation that arrives at t: after the operations before
// it, cpuCost of CPU time within the quota of each period. It returns
// when the operation leaves, less the cpuCost a node with no quota takes
// too (the healthy node's own service time, which mem does not add).
func (s *slowNode) cpu(t time.Time) time.Time {
	start := t
	if s.cpuFree.After(start) {
		start = s.cpuFree
	}
	quota := time.Duration(min(s.d.CPUs, 1) * float64(cfsPeriod))
	for left := cpuCost; left > 0; {
		p := start.Truncate(cfsPeriod)
		if !p.Equal(s.period) {
			s.period, s.used = p, 0
		}
		avail := quota - s.used
		if avail <= 0 {
			start = p.Add(cfsPeriod)
			continue
		}
		run := min(left, avail, p.Add(cfsPeriod).Sub(start))
		s.used += run
		left -= run
		start = start.Add(run)
	}
	s.cpuFree = start
	if done := start.Add(-cpuCost); done.After(t) {
		return done
	}
	return t
}
