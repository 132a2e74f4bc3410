package redis

import (
	"context"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/evalrun/evalrun/internal/driverkit"
)

// Bounds of membership changes.
const (
	gossipTimeout     = 30 * time.Second // a new or forgotten node known to everyone
	rebalanceAttempts = 8
	fixLimit          = 2 * time.Minute // redis-cli --cluster fix
	delNodeLimit      = 60 * time.Second
)

// AddNode implements drivers.Membership: it starts an empty node, joins it
// as a master (redis-cli --cluster add-node), waits until every node knows
// it and moves its share of the slots to it (see migrate.go: what redis-cli
// --cluster rebalance --cluster-use-empty-masters does, batched; retried
// after repairing open slots). It returns when the slots have moved;
// Settled then reports when every node agrees.
func (c *cluster) AddNode(ctx context.Context) (int, error) {
	return driverkit.Exclusive(ctx, c.Base, "add-node", c.addNode)
}

func (c *cluster) addNode(ctx context.Context) (int, error) {
	peer, err := c.anyLive()
	if err != nil {
		return 0, fmt.Errorf("redis: add node: %w", err)
	}
	t0 := time.Now()
	n, err := c.startNode(ctx, "")
	if err != nil {
		return 0, err
	}
	if _, err := c.cli(ctx, n, delNodeLimit, "--cluster", "add-node", n.busAddr(), peer.busAddr()); err != nil {
		// Not joined: take the node away again so the cluster stays whole.
		c.SetState(n, driverkit.StateRemoved)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if rerr := n.DN.Remove(rctx); rerr != nil {
			c.Logf("redis: remove %s after a failed join: %v", n.Name, rerr)
		}
		return 0, fmt.Errorf("redis: add %s: %w", n.Name, err)
	}
	if err := c.waitGossip(ctx, n.id, true); err != nil {
		return n.Index, fmt.Errorf("redis: add %s: %w", n.Name, err)
	}
	// A new master reports cluster_state:fail for a while (Redis waits
	// before a master turns writable); MIGRATE to it fails with CLUSTERDOWN
	// until then.
	if err := c.waitState(ctx, n, gossipTimeout); err != nil {
		return n.Index, fmt.Errorf("redis: add %s: %w", n.Name, err)
	}
	c.Logf("redis: %s joined as an empty master in %s; moving slots to it", n.Name, time.Since(t0).Round(time.Millisecond))
	err = c.rebalance(ctx, "add "+n.Name, func(ms []masterSlots) []slotMove { return planAdd(ms, n) })
	if err != nil {
		return n.Index, err
	}
	return n.Index, nil
}

// anyLive returns a live node (the lowest index).
func (c *cluster) anyLive(except ...*node) (*node, error) {
	for _, n := range c.Live() {
		skip := false
		for _, x := range except {
			skip = skip || x == n
		}
		if !skip {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no node is up")
}

// waitGossip waits until every live node knows node id (known) or none
// does (!known), and a known node knows everyone.
func (c *cluster) waitGossip(ctx context.Context, id string, known bool) error {
	ctx, cancel := context.WithTimeout(ctx, gossipTimeout)
	defer cancel()
	detail := ""
	for {
		ok := true
		for _, n := range c.Live() {
			view, err := c.clusterNodes(ctx, n)
			if err != nil {
				ok, detail = false, err.Error()
				break
			}
			has := false
			for _, l := range view {
				if l.id == id && !l.flags["handshake"] && !l.flags["noaddr"] {
					has = true
				}
			}
			if has != known {
				ok = false
				detail = fmt.Sprintf("%s does not know %s yet", n.Name, id)
				if !known {
					detail = fmt.Sprintf("%s still lists %s", n.Name, id)
				}
				break
			}
			if n.id == id && len(view) != len(c.Members()) {
				ok, detail = false, fmt.Sprintf("%s knows %d nodes of %d", n.Name, len(view), len(c.Members()))
				break
			}
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gossip did not settle: %s", detail)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitState waits until n reports cluster_state:ok.
func (c *cluster) waitState(ctx context.Context, n *node, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	last := ""
	for {
		info, err := c.clusterInfo(ctx, n)
		if err == nil && info["cluster_state"] == "ok" {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = "cluster_state:" + info["cluster_state"]
		}
		if sleepCtx(ctx, 100*time.Millisecond) != nil {
			return fmt.Errorf("%s: %s after %s", n.Name, last, limit)
		}
	}
}

// RemoveNode implements drivers.Membership. A master's slots move to the
// other masters first (evenly, as redis-cli --cluster rebalance with weight
// 0 for it would; see migrate.go);
// then redis-cli --cluster del-node makes its replicas follow another
// master, has every node forget it and shuts it down, and its container is
// removed. A node that is down is forgotten (CLUSTER FORGET on every live
// node) and removed; it must not serve slots.
func (c *cluster) RemoveNode(ctx context.Context, index int) error {
	return c.WithNode(ctx, index, "remove-node", c.removeNode)
}

func (c *cluster) removeNode(ctx context.Context, n *node) error {
	if c.State(n) == driverkit.StatePaused { // thaw it in this operation (ResumeNode would wait for the slot)
		if err := n.DN.Unpause(ctx); err != nil {
			return fmt.Errorf("redis: remove %s: %w", n.Name, err)
		}
		c.SetState(n, driverkit.StateUp)
	}
	peer, err := c.anyLive(n)
	if err != nil {
		return fmt.Errorf("redis: remove %s: %w", n.Name, err)
	}
	if c.State(n) == driverkit.StateDown {
		if err := c.forgetDown(ctx, n); err != nil {
			return err
		}
	} else {
		slots, err := c.ownSlots(ctx, n)
		if err != nil {
			return fmt.Errorf("redis: remove %s: %w", n.Name, err)
		}
		if slots > 0 {
			c.Logf("redis: moving the %d slots of %s to the other masters", slots, n.Name)
			err := c.rebalance(ctx, "remove "+n.Name, func(ms []masterSlots) []slotMove { return planDrain(ms, n) })
			if err != nil {
				return err
			}
		}
		if _, err := c.cli(ctx, peer, delNodeLimit, "--cluster", "del-node", peer.busAddr(), n.id); err != nil {
			return fmt.Errorf("redis: remove %s: %w", n.Name, err)
		}
	}
	c.SetState(n, driverkit.StateRemoved)
	if err := n.DN.Remove(ctx); err != nil {
		return fmt.Errorf("redis: remove %s: %w", n.Name, err)
	}
	if err := c.waitGossip(ctx, n.id, false); err != nil {
		return fmt.Errorf("redis: remove %s: %w", n.Name, err)
	}
	return nil
}

// ownSlots is how many slots n serves, as n sees it.
func (c *cluster) ownSlots(ctx context.Context, n *node) (int, error) {
	view, err := c.clusterNodes(ctx, n)
	if err != nil {
		return 0, err
	}
	for _, l := range view {
		if l.myself() {
			if l.master() {
				return l.slotCount(), nil
			}
			return 0, nil
		}
	}
	return 0, fmt.Errorf("%s: CLUSTER NODES has no myself line", n.Name)
}

// forgetDown removes a node that is down from every live node's table.
func (c *cluster) forgetDown(ctx context.Context, n *node) error {
	for _, p := range c.Live() {
		view, err := c.clusterNodes(ctx, p)
		if err != nil {
			return fmt.Errorf("redis: remove %s: %w", n.Name, err)
		}
		for _, l := range view {
			if l.id == n.id && l.master() && len(l.slots) > 0 {
				return fmt.Errorf("redis: remove %s: it is down and still serves %d slots (no replica took over)", n.Name, l.slotCount())
			}
		}
	}
	for _, p := range c.Live() {
		err := c.withAdmin(ctx, p, func(ctx context.Context, cl *goredis.Client) error {
			err := cl.ClusterForget(ctx, n.id).Err()
			if err != nil && strings.Contains(err.Error(), "Unknown node") {
				return nil
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("redis: remove %s: %s: CLUSTER FORGET: %w", n.Name, p.Name, err)
		}
	}
	return nil
}

// Settled implements drivers.Membership: every node is up and reports
// cluster_state:ok with all 16384 slots assigned and ok, no slot is open
// (migrating or importing), every node sees the same nodes, roles and slot
// owners (and no failure flag), and every replica is in sync with its
// master (link up, no sync in progress).
func (c *cluster) Settled(ctx context.Context) (bool, string, error) {
	members := c.Members()
	if len(members) == 0 {
		return false, "", errClosed
	}
	want := map[string]bool{}
	for _, n := range members {
		switch st := c.State(n); st {
		case driverkit.StateDown, driverkit.StatePaused:
			return false, fmt.Sprintf("%s is %s", n.Name, st), nil
		}
		want[n.id] = true
	}
	ids := c.byID()
	name := func(id string) string {
		if n, ok := ids[id]; ok {
			return n.Name
		}
		return id
	}
	sig, sigFrom := "", ""
	for _, n := range members {
		var info, nodesText, repl string
		err := c.withAdmin(ctx, n, func(ctx context.Context, cl *goredis.Client) error {
			pipe := cl.Pipeline()
			ci := pipe.ClusterInfo(ctx)
			cn := pipe.ClusterNodes(ctx)
			ir := pipe.Info(ctx, "replication")
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
			info, nodesText, repl = ci.Val(), cn.Val(), ir.Val()
			return nil
		})
		if err != nil {
			return false, fmt.Sprintf("%s: %v", n.Name, err), nil
		}
		ci := parseInfo(info)
		if ci["cluster_state"] != "ok" {
			return false, fmt.Sprintf("%s: cluster_state:%s", n.Name, ci["cluster_state"]), nil
		}
		if ci["cluster_slots_assigned"] != "16384" || ci["cluster_slots_ok"] != "16384" {
			return false, fmt.Sprintf("%s: %s slots assigned, %s ok", n.Name, ci["cluster_slots_assigned"], ci["cluster_slots_ok"]), nil
		}
		view, err := parseClusterNodes(nodesText)
		if err != nil {
			return false, "", err
		}
		seen := map[string]bool{}
		for _, l := range view {
			if len(l.open) > 0 {
				return false, fmt.Sprintf("%s: open slots on %s: %s", n.Name, name(l.id), strings.Join(l.open, " ")), nil
			}
			for _, fl := range []string{"fail", "fail?", "handshake", "noaddr"} {
				if l.flags[fl] {
					return false, fmt.Sprintf("%s sees %s as %s", n.Name, name(l.id), fl), nil
				}
			}
			if !want[l.id] {
				return false, fmt.Sprintf("%s still knows %s (%s), not a member", n.Name, name(l.id), l.addr), nil
			}
			seen[l.id] = true
		}
		if len(seen) != len(want) {
			return false, fmt.Sprintf("%s knows %d of the %d nodes", n.Name, len(seen), len(want)), nil
		}
		s := layoutSignature(view)
		if sig == "" {
			sig, sigFrom = s, n.Name
		} else if s != sig {
			return false, fmt.Sprintf("%s and %s disagree on roles or slot owners", sigFrom, n.Name), nil
		}
		r := parseInfo(repl)
		if r["role"] == "slave" {
			if r["master_link_status"] != "up" {
				return false, fmt.Sprintf("%s: link to its master is %s", n.Name, r["master_link_status"]), nil
			}
			if r["master_sync_in_progress"] == "1" {
				return false, fmt.Sprintf("%s: syncing from its master", n.Name), nil
			}
		}
	}
	return true, fmt.Sprintf("%d nodes agree, 16384 slots ok", len(members)), nil
}
