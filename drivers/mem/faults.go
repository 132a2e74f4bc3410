package mem

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/evalrun/evalrun/drivers"
)

// The fault knobs and what the cluster says about itself while they act.

// KillNode implements drivers.NodeController: the node stops at once; a
// leader's followers elect another after election-timeout. It keeps its
// data.
func (c *cluster) KillNode(ctx context.Context, index int) error {
	return c.onNode(ctx, "kill", index, func(n *node, now time.Time) error {
		if n.state != nodeUp {
			return errors.New("the node is not running")
		}
		c.down(n)
		c.validLeader(now)
		return nil
	})
}

// down marks n down and wakes the operations waiting on it paused.
func (c *cluster) down(n *node) {
	n.state = nodeDown
	if n.paused != nil {
		close(n.paused)
		n.paused = nil
	}
}

// StopNode implements drivers.NodeController: a leader hands its log and
// the leadership over first.
func (c *cluster) StopNode(ctx context.Context, index int) error {
	return c.onNode(ctx, "stop", index, func(n *node, now time.Time) error {
		if n.state != nodeUp {
			return errors.New("the node is not running")
		}
		if n.index == c.leader {
			c.handOver(now)
		}
		c.down(n)
		return nil
	})
}

// StartNode implements drivers.NodeController: the node returns on its
// own data and catches up.
func (c *cluster) StartNode(ctx context.Context, index int) error {
	return c.onNode(ctx, "start", index, func(n *node, now time.Time) error {
		if n.state != nodeDown {
			return errors.New("the node is already running")
		}
		n.state = nodeUp
		c.advance(now)
		return nil
	})
}

// PauseNode implements drivers.Pauser.
func (c *cluster) PauseNode(ctx context.Context, index int) error {
	return c.onNode(ctx, "pause", index, func(n *node, now time.Time) error {
		if !n.reachable() {
			return errors.New("the node is not running or already paused")
		}
		n.paused = make(chan struct{})
		c.validLeader(now)
		return nil
	})
}

// ResumeNode implements drivers.Pauser.
func (c *cluster) ResumeNode(ctx context.Context, index int) error {
	return c.onNode(ctx, "resume", index, func(n *node, now time.Time) error {
		if n.paused == nil {
			return errors.New("the node is not paused")
		}
		close(n.paused)
		n.paused = nil
		c.advance(now)
		return nil
	})
}

// Partition implements drivers.Partitioner.
func (c *cluster) Partition(ctx context.Context, groups [][]int) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem: partition: %w", err)
	}
	return c.locked(func(now time.Time) error {
		in := map[int]int{}
		for g, group := range groups {
			for _, i := range group {
				if _, err := c.lookup(i); err != nil {
					return fmt.Errorf("mem: partition: %w", err)
				}
				if _, twice := in[i]; twice {
					return fmt.Errorf("mem: partition: node%d is in two groups", i)
				}
				in[i] = g
			}
		}
		for _, n := range c.nodes {
			n.group = in[n.index] // a node in no group stays with the first
		}
		c.validLeader(now)
		c.logf("mem: partition %v", groups)
		return nil
	})
}

// Heal implements drivers.Partitioner.
func (c *cluster) Heal(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem: heal: %w", err)
	}
	return c.locked(func(now time.Time) error {
		for _, n := range c.nodes {
			n.group = 0
		}
		c.advance(now)
		c.logf("mem: healed")
		return nil
	})
}

// AddNode implements drivers.Membership: the new node joins with a copy
// of the leader's map, in the leader's partition group.
func (c *cluster) AddNode(ctx context.Context) (int, error) {
	var index int
	err := c.waitLeader(ctx, func(l *node, now time.Time) error {
		if len(c.nodes) >= maxNodes {
			return fmt.Errorf("mem: add node: a cluster has at most %d nodes", maxNodes)
		}
		index = len(c.nodes) + 1
		n := &node{index: index, name: nodeName(index), group: l.group, diverged: true}
		c.nodes = append(c.nodes, n)
		c.deliver(l, n, now, 0)
		c.logf("mem: added %s", n.name)
		return nil
	})
	return index, err
}

// RemoveNode implements drivers.Membership: through the leader (a removed
// leader hands over first); the node stops.
func (c *cluster) RemoveNode(ctx context.Context, index int) error {
	return c.waitLeader(ctx, func(l *node, now time.Time) error {
		n, err := c.lookup(index)
		if err != nil {
			return err
		}
		if c.members() == 1 {
			return fmt.Errorf("mem: remove %s: it is the last member", n.name)
		}
		if n == l {
			c.handOver(now)
		}
		c.down(n)
		n.state = nodeRemoved
		c.logf("mem: removed %s", n.name)
		return nil
	})
}

func (c *cluster) members() int {
	k := 0
	for _, n := range c.nodes {
		if n.state != nodeRemoved {
			k++
		}
	}
	return k
}

// Settled implements drivers.Settler: every member runs and is not
// paused, no partition, a leader, and every node holds the log up to the
// cluster's delays.
func (c *cluster) Settled(ctx context.Context) (bool, string, error) {
	if err := ctx.Err(); err != nil {
		return false, "", err
	}
	var why []string
	err := c.locked(func(now time.Time) error {
		l := c.leaderNow(now)
		if l == nil {
			why = append(why, "no leader")
		}
		for _, n := range c.nodes {
			switch {
			case n.state == nodeRemoved:
			case n.state == nodeDown:
				why = append(why, n.name+" not running")
			case n.paused != nil:
				why = append(why, n.name+" paused")
			case n.group != 0:
				why = append(why, n.name+" partitioned")
			case l != nil && (n.diverged || n.recv < l.recv-c.lagging(now)):
				why = append(why, n.name+" catching up")
			}
		}
		return nil
	})
	return err == nil && len(why) == 0, strings.Join(why, ", "), err
}

// lagging counts the entries followers may lack by design: those newer
// than the replication delay.
func (c *cluster) lagging(now time.Time) int64 {
	d := c.opts.replicationDelay()
	k := int64(0)
	for i := c.last(); i > c.base && c.entryAt(i).at.After(now.Add(-d)); i-- {
		k++
	}
	return k
}

// NodeRoles implements drivers.Roles: the leader (waiting for an election
// under way) and the running followers.
func (c *cluster) NodeRoles(ctx context.Context) (map[string][]int, error) {
	roles := map[string][]int{}
	err := c.waitLeader(ctx, func(l *node, now time.Time) error {
		roles[RoleLeader] = []int{l.index}
		for _, n := range c.nodes {
			if n != l && n.state == nodeUp {
				roles[RoleFollower] = append(roles[RoleFollower], n.index)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return roles, nil
}

// GaugeInterval implements drivers.GaugeReporter.
func (c *cluster) GaugeInterval() time.Duration { return 250 * time.Millisecond }

// Gauges implements drivers.GaugeReporter: lag_s.nodeK, how long ago the
// oldest entry node K has not applied was appended (0 when it has them
// all).
func (c *cluster) Gauges(ctx context.Context) ([]drivers.Gauge, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var gs []drivers.Gauge
	err := c.locked(func(now time.Time) error {
		for _, n := range c.nodes {
			if n.state == nodeRemoved {
				continue
			}
			lag := 0.0
			if next := n.applied + 1; next > c.base && next <= c.last() {
				lag = now.Sub(c.entryAt(next).at).Seconds()
			}
			gs = append(gs, drivers.Gauge{Name: "lag_s." + n.name, Value: lag})
		}
		return nil
	})
	return gs, err
}

// InspectReplicas implements drivers.ReplicaInspector: what each node's
// map holds (a node's own applied state, whether it runs or not).
func (c *cluster) InspectReplicas(ctx context.Context, keys []string) ([]drivers.KeyReplicas, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]drivers.KeyReplicas, 0, len(keys))
	err := c.locked(func(time.Time) error {
		for _, k := range keys {
			kr := drivers.KeyReplicas{Key: k}
			for _, n := range c.nodes {
				if n.state == nodeRemoved {
					continue
				}
				v, found := n.kv[k]
				r := drivers.ReplicaRead{Partition: "log", Node: n.name, Primary: n.index == c.leader, Found: found}
				if found {
					r.Values = 1
					r.Header = slices.Clone(v[:min(len(v), 16)])
				}
				if n.state != nodeUp {
					r.Error = "not running (its data as it was)"
				}
				kr.Replicas = append(kr.Replicas, r)
			}
			out = append(out, kr)
		}
		return nil
	})
	return out, err
}
