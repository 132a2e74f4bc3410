package mem

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/driverkit"
)

// client spreads operations over the nodes round-robin (see the package
// documentation for what each node answers).
type client struct {
	c      *cluster
	next   atomic.Uint64
	closed atomic.Bool
}

var (
	_ drivers.Client        = (*client)(nil)
	_ drivers.ReadDescriber = (*client)(nil)
	_ drivers.StrictReader  = (*client)(nil)
)

// Put implements drivers.Client.
func (cl *client) Put(ctx context.Context, key string, value []byte) error {
	return cl.write(ctx, "put", key, append([]byte{}, value...), nil)
}

// Delete implements drivers.Client.
func (cl *client) Delete(ctx context.Context, key string) error {
	return cl.write(ctx, "delete", key, nil, nil)
}

// Get implements drivers.Client: through the leader, or (bug stale-reads)
// from the node the operation went to.
func (cl *client) Get(ctx context.Context, key string) ([]byte, error) {
	return cl.read(ctx, "get", key, cl.c.opts.bug == BugStaleReads, nil)
}

// GetStrict implements drivers.StrictReader: always through the leader.
func (cl *client) GetStrict(ctx context.Context, key string) ([]byte, error) {
	return cl.read(ctx, "strict get", key, false, nil)
}

// ReadSettings implements drivers.ReadDescriber.
func (cl *client) ReadSettings() string {
	if cl.c.opts.bug == BugStaleReads {
		return fmt.Sprintf("from the node the client picked; followers apply the log %v late (bug: stale-reads)", cl.c.opts.bugLag)
	}
	return "linearizable (through the leader)"
}

// StrictReadSettings implements drivers.StrictReader.
func (cl *client) StrictReadSettings() string { return "linearizable (through the leader)" }

// Close implements drivers.Client.
func (cl *client) Close() error {
	cl.closed.Store(true)
	return nil
}

func (cl *client) write(ctx context.Context, op, key string, value []byte, served *int) error {
	c := cl.c
	return cl.do(ctx, op, served, func(x *node, now time.Time) error {
		l, err := c.leaderOf(x, now)
		if err != nil {
			return err
		}
		if c.opts.bug == BugLoseAckedWrites && c.rng.Float64() < c.opts.bugRate {
			c.dropped++ // acknowledged, never appended
			return nil
		}
		c.log = append(c.log, entry{key: key, value: value, at: now})
		l.recv++
		c.apply(l, now, 0)
		if c.opts.bug != BugAckBeforeReplicate {
			// Replicate before the acknowledgement: every node the leader
			// reaches holds it, and a valid leader reaches a majority.
			for _, n := range c.nodes {
				if n != l && n.reachable() && n.group == l.group {
					c.deliver(l, n, now, 0)
				}
			}
		}
		c.compact()
		return nil
	})
}

func (cl *client) read(ctx context.Context, op, key string, local bool, served *int) ([]byte, error) {
	c := cl.c
	var v []byte
	var found bool
	err := cl.do(ctx, op, served, func(x *node, now time.Time) error {
		from := x
		if local {
			c.apply(x, now, c.opts.applyDelay()) // a node cut off from the leader applies what it holds
		} else {
			l, err := c.leaderOf(x, now)
			if err != nil {
				return err
			}
			from = l
		}
		v, found = from.kv[key]
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("mem %s %q: %w", op, key, drivers.ErrNotFound)
	}
	return v, nil // never modified: the caller may keep it
}

// leaderOf returns the leader x reaches, or why there is none.
func (c *cluster) leaderOf(x *node, now time.Time) (*node, error) {
	l := c.leaderNow(now)
	switch {
	case l == nil && c.hasQuorum(x.group):
		return nil, fmt.Errorf("%s: no leader (an election is under way): %w", x.name, drivers.ErrUnavailable)
	case l == nil || l.group != x.group:
		return nil, fmt.Errorf("%s: cut off from the quorum: %w", x.name, drivers.ErrUnavailable)
	}
	return l, nil
}

// do runs f under the cluster's lock on the node the operation goes to,
// after op-latency; on a paused node it waits for the node or for ctx.
// served, when not nil, is set to the index of that node.
func (cl *client) do(ctx context.Context, op string, served *int, f func(x *node, now time.Time) error) error {
	c := cl.c
	if cl.closed.Load() {
		return fmt.Errorf("mem %s: the client is closed", op)
	}
	if d := c.opts.latency; d > 0 && ctx.Err() == nil {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	first := cl.next.Add(1)
	if err := c.degradeWait(ctx, first); err != nil {
		return driverkit.MapError(ctx, "mem "+op, err, nil)
	}
	for {
		if err := ctx.Err(); err != nil {
			return driverkit.MapError(ctx, "mem "+op, err, nil)
		}
		var paused chan struct{}
		err := c.locked(func(now time.Time) error {
			x := c.route(first)
			if x == nil {
				return fmt.Errorf("no node is running: %w", drivers.ErrUnavailable)
			}
			if served != nil {
				*served = x.index
			}
			if x.paused != nil {
				paused = x.paused
				return nil
			}
			return f(x, now)
		})
		if paused == nil {
			return driverkit.MapError(ctx, "mem "+op, err, nil)
		}
		select {
		case <-paused:
		case <-ctx.Done():
		case <-c.closing:
			return fmt.Errorf("mem %s: %w", op, errClosed)
		}
	}
}

// route picks the node an operation goes to: the first running one from
// the client's turn on (a client skips nodes that refuse connections).
func (c *cluster) route(turn uint64) *node {
	k := uint64(len(c.nodes))
	for i := range k {
		if n := c.nodes[(turn+i)%k]; n.state == nodeUp {
			return n
		}
	}
	return nil
}
