package riak

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/evalrun/evalrun/drivers/riak/admin"
	"github.com/evalrun/evalrun/internal/driverkit"
)

// AddNode implements drivers.Membership: it starts node<k> (a fresh index),
// stages `cluster join` to a live member, and commits the plan. It returns
// once the join is committed; ownership handoff to the new node goes on
// afterwards (Settled, Handoff).
func (c *cluster) AddNode(ctx context.Context) (int, error) {
	return driverkit.Exclusive(ctx, c.Base, "add-node", c.addNode)
}

func (c *cluster) addNode(ctx context.Context) (int, error) {
	live := c.Live()
	if len(live) == 0 {
		return 0, errors.New("riak: add-node: no member is up to join")
	}
	idx := len(c.All()) + 1
	if idx > maxNodes {
		return 0, fmt.Errorf("riak: add-node: at most %d nodes per run", maxNodes)
	}
	t0 := time.Now()
	ns, err := c.startNodes(ctx, []int{idx}, c.nodeData)
	if err != nil {
		return 0, err
	}
	n := ns[0]
	if err := c.stage(ctx, n, "join", live[0].riakName()); err != nil {
		c.discard(ctx, n)
		return 0, err
	}
	if err := c.planAndCommit(ctx, live[0]); err != nil {
		return 0, err
	}
	c.addToClients(n)
	c.Logf("riak: node%d joined in %s", idx, time.Since(t0).Round(time.Millisecond))
	return idx, nil
}

// RemoveNode implements drivers.Membership. A running node leaves (`cluster
// leave` on it): it hands its partitions to the others and then shuts
// itself down; its container is removed once it no longer appears in
// member-status (see Settled). A node that is down is force-removed (`cluster
// force-remove` from a live member): its replicas are not handed off, the
// others take over its partitions empty and read repair refills them.
func (c *cluster) RemoveNode(ctx context.Context, index int) error {
	return c.WithNode(ctx, index, "remove-node", c.removeNode)
}

func (c *cluster) removeNode(ctx context.Context, n *node) error {
	index := n.Index
	st := c.State(n)
	var others []*node
	for _, m := range c.Live() {
		if m != n {
			others = append(others, m)
		}
	}
	if len(others) == 0 {
		return fmt.Errorf("riak: remove-node %d: no other member is up", index)
	}
	switch st {
	case driverkit.StateLeaving:
		return fmt.Errorf("riak: node %d is already leaving", index)
	case driverkit.StateUp:
		if err := c.stage(ctx, n, "leave"); err != nil {
			return err
		}
		if err := c.planAndCommit(ctx, others[0]); err != nil {
			return err
		}
		c.SetState(n, driverkit.StateLeaving)
		c.dropFromClients(n)
		return nil
	default: // down or paused
		// The dead node may be the claimant, which plans and commits:
		// marking it down lets the ring converge and a live node claim.
		if err := c.markDown(ctx, others[0], n); err != nil {
			return err
		}
		if err := c.stage(ctx, others[0], "force-remove", n.riakName()); err != nil {
			return err
		}
		if err := c.planAndCommit(ctx, others[0]); err != nil {
			return err
		}
		c.dropFromClients(n)
		c.discard(ctx, n)
		return nil
	}
}

// markDown runs `riak admin down <node>` on from until Riak accepts it
// (right after a kill the others may still see the node up for a few
// seconds).
func (c *cluster) markDown(ctx context.Context, from, n *node) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	last := ""
	for {
		out, _, err := c.admin(ctx, from, "down", n.riakName())
		if err != nil {
			return err
		}
		switch {
		case strings.Contains(out, "marked as down"), strings.Contains(out, "is not a member"):
			return nil
		}
		last = lastLines(out, 2)
		select {
		case <-ctx.Done():
			return fmt.Errorf("riak: mark %s down: %s", n.riakName(), last)
		case <-time.After(pollEvery):
		}
	}
}

// reapLeft removes the containers of leaving nodes that are no longer
// members.
func (c *cluster) reapLeft(ctx context.Context, members admin.MemberStatus) {
	var gone []*node
	for _, n := range c.Members() {
		if c.State(n) != driverkit.StateLeaving {
			continue
		}
		if _, still := members.Member(n.riakName()); !still && len(members.Members) > 0 {
			gone = append(gone, n)
		}
	}
	for _, n := range gone {
		c.Logf("riak: %s has left the cluster; removing its container", n.riakName())
		c.discard(ctx, n)
	}
}

// discard stops and removes a node's container and marks it removed.
func (c *cluster) discard(ctx context.Context, n *node) {
	c.dropFromClients(n)
	if err := n.DN.Stop(ctx, 10*time.Second); err != nil {
		c.Logf("riak: stop %s: %v", n.Name, err)
	}
	if err := n.DN.Remove(ctx); err != nil {
		c.Logf("riak: remove %s: %v", n.Name, err)
	}
	c.SetState(n, driverkit.StateRemoved)
}
