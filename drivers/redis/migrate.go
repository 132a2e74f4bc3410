package redis

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Slot migration.
//
// redis-cli --cluster rebalance moves one slot at a time with seven round
// trips (SETSLOT IMPORTING, SETSLOT MIGRATING, GETKEYSINSLOT, then SETSLOT
// NODE on every master), each CLUSTER SETSLOT saving and fsyncing
// nodes.conf: about 9 ms a slot on the 2-core test machine, 40-70 s for
// the 4096 slots of a 3->4 master rebalance. The driver runs the same
// protocol (the one Redis documents for manual resharding) for a batch of
// slots per round trip, so a batch costs one fsync per node:
//
//  1. target: CLUSTER SETSLOT s IMPORTING <source>
//  2. source: CLUSTER SETSLOT s MIGRATING <target>
//  3. source: while CLUSTER GETKEYSINSLOT s 100 returns keys,
//     MIGRATE <target ip> 6379 "" 0 <timeout> REPLACE KEYS k...
//  4. CLUSTER SETSLOT s NODE <target> on the target, the source, then the
//     other masters.
//
// While a slot migrates, clients get ASK redirects for keys already moved
// (or new), which go-redis follows. A batch that fails leaves its slots
// open; the caller repairs them with redis-cli --cluster fix and plans
// again from the cluster's state, so retries are idempotent.
const (
	slotBatch      = 256
	keysPerMigrate = 100
	migrateTimeout = 10 * time.Second // MIGRATE's own timeout (ms on the wire)
	moveTimeout    = 2 * time.Minute  // one batch
)

// slotMove is a set of slots to move from one master to another.
type slotMove struct {
	from, to *node
	slots    []int
}

// planAdd gives an empty master target its share of the slots
// (numSlots/(masters+1)), taken one by one from the master that has the
// most, highest slots first (as redis-cli does).
func planAdd(masters []masterSlots, target *node) []slotMove {
	type donor struct {
		n     *node
		slots []int // ascending
		taken []int
	}
	var ds []*donor
	have := 0
	for _, m := range masters {
		if m.node == target {
			have = len(expand(m.slots)) // a retry: part of its share moved already
			continue
		}
		ds = append(ds, &donor{n: m.node, slots: expand(m.slots)})
	}
	if len(ds) == 0 {
		return nil
	}
	share := numSlots/(len(ds)+1) - have
	for range max(share, 0) {
		best := ds[0]
		for _, d := range ds[1:] {
			if len(d.slots) > len(best.slots) {
				best = d
			}
		}
		if len(best.slots) <= 1 {
			break
		}
		last := best.slots[len(best.slots)-1]
		best.slots = best.slots[:len(best.slots)-1]
		best.taken = append(best.taken, last)
	}
	var out []slotMove
	for _, d := range ds {
		if len(d.taken) > 0 {
			sort.Ints(d.taken)
			out = append(out, slotMove{from: d.n, to: target, slots: d.taken})
		}
	}
	return out
}

// planDrain moves every slot of leaving to the other masters so that their
// counts end up as even as possible, each getting one contiguous block of
// the leaving master's slots.
func planDrain(masters []masterSlots, leaving *node) []slotMove {
	var from []int
	type recipient struct {
		n     *node
		count int
		quota int
	}
	var rs []*recipient
	for _, m := range masters {
		if m.node == leaving {
			from = expand(m.slots)
			continue
		}
		c := 0
		for _, r := range m.slots {
			c += r.size()
		}
		rs = append(rs, &recipient{n: m.node, count: c})
	}
	if len(from) == 0 || len(rs) == 0 {
		return nil
	}
	for range from {
		best := rs[0]
		for _, r := range rs[1:] {
			if r.count+r.quota < best.count+best.quota {
				best = r
			}
		}
		best.quota++
	}
	var out []slotMove
	i := 0
	for _, r := range rs {
		if r.quota == 0 {
			continue
		}
		out = append(out, slotMove{from: leaving, to: r.n, slots: from[i : i+r.quota]})
		i += r.quota
	}
	return out
}

func expand(rs []slotRange) []int {
	var out []int
	for _, r := range rs {
		for s := r.lo; s <= r.hi; s++ {
			out = append(out, s)
		}
	}
	sort.Ints(out)
	return out
}

// moveSlots runs the migration protocol for mv, slotBatch slots at a time;
// others are the other masters, told the new owner too. It returns how
// many slots and keys moved, also when it fails part way.
func (c *cluster) moveSlots(ctx context.Context, mv slotMove, others []*node) (slots int, keys int64, err error) {
	src, dst := adminClient(mv.from), adminClient(mv.to)
	defer src.Close()
	defer dst.Close()
	var oc []*goredis.Client
	for _, o := range others {
		cl := adminClient(o)
		defer cl.Close()
		oc = append(oc, cl)
	}
	for start := 0; start < len(mv.slots); start += slotBatch {
		batch := mv.slots[start:min(start+slotBatch, len(mv.slots))]
		k, err := c.moveBatch(ctx, mv, batch, src, dst, oc)
		keys += k
		if err != nil {
			return slots, keys, err
		}
		slots += len(batch)
	}
	return slots, keys, nil
}

func (c *cluster) moveBatch(ctx context.Context, mv slotMove, batch []int, src, dst *goredis.Client, others []*goredis.Client) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, moveTimeout)
	defer cancel()
	// setslot sends CLUSTER SETSLOT s <state> <id> for the batch; with
	// lostAll, "use SETSLOT only with masters" is fine: the source learnt
	// from the target's gossip that it lost its last slots and turned into
	// a replica (cluster-allow-replica-migration) before our command came.
	setslot := func(cl *goredis.Client, who, state, id string, lostAll bool) error {
		cmds, err := cl.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, s := range batch {
				p.Do(ctx, "CLUSTER", "SETSLOT", s, state, id)
			}
			return nil
		})
		if err == nil {
			return nil
		}
		for _, cmd := range cmds {
			if e := cmd.Err(); e != nil && (!lostAll || !strings.Contains(e.Error(), "only with masters")) {
				return fmt.Errorf("CLUSTER SETSLOT %s %s on %s: %w", state, id, who, e)
			}
		}
		return nil
	}
	if err := setslot(dst, mv.to.Name, "IMPORTING", mv.from.id, false); err != nil {
		return 0, err
	}
	if err := setslot(src, mv.from.Name, "MIGRATING", mv.to.id, false); err != nil {
		return 0, err
	}
	counts := make([]*goredis.IntCmd, len(batch))
	if _, err := src.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, s := range batch {
			counts[i] = p.ClusterCountKeysInSlot(ctx, s)
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("CLUSTER COUNTKEYSINSLOT on %s: %w", mv.from.Name, err)
	}
	var keys int64
	for i, s := range batch {
		if counts[i].Val() == 0 {
			continue
		}
		for round := 0; round < 100000; round++ {
			ks, err := src.ClusterGetKeysInSlot(ctx, s, keysPerMigrate).Result()
			if err != nil {
				return keys, fmt.Errorf("CLUSTER GETKEYSINSLOT %d on %s: %w", s, mv.from.Name, err)
			}
			if len(ks) == 0 {
				break
			}
			args := []any{"MIGRATE", mv.to.DN.IP(), redisPort, "", 0, migrateTimeout.Milliseconds(), "REPLACE", "KEYS"}
			for _, k := range ks {
				args = append(args, k)
			}
			if err := src.Do(ctx, args...).Err(); err != nil && !errors.Is(err, goredis.Nil) {
				return keys, fmt.Errorf("MIGRATE of slot %d from %s to %s: %w", s, mv.from.Name, mv.to.Name, err)
			}
			keys += int64(len(ks))
		}
	}
	if err := setslot(dst, mv.to.Name, "NODE", mv.to.id, false); err != nil {
		return keys, err
	}
	if err := setslot(src, mv.from.Name, "NODE", mv.to.id, true); err != nil {
		return keys, err
	}
	for i, o := range others {
		if err := setslot(o, fmt.Sprintf("another master (%d)", i+1), "NODE", mv.to.id, false); err != nil {
			return keys, err
		}
	}
	return keys, nil
}

// rebalance plans moves from the cluster's current masters and runs them,
// retrying (bounded) after repairing open slots with redis-cli --cluster
// fix. It records what moved for Info. plan returns no moves when there is
// nothing (left) to do.
func (c *cluster) rebalance(ctx context.Context, op string, plan func([]masterSlots) []slotMove) error {
	t0 := time.Now()
	var moved int
	var keys int64
	var lastErr error
	attempt := 0
	for attempt = 1; attempt <= rebalanceAttempts; attempt++ {
		lastErr = c.rebalanceOnce(ctx, plan, &moved, &keys)
		if lastErr == nil || ctx.Err() != nil {
			break
		}
		c.Logf("redis: %s: moving slots failed (attempt %d): %v; repairing open slots and retrying", op, attempt, lastErr)
		if peer, err := c.anyLive(); err == nil {
			if _, ferr := c.cli(ctx, peer, fixLimit, "--cluster", "fix", peer.busAddr(), "--cluster-yes"); ferr != nil {
				c.Logf("redis: %s: redis-cli --cluster fix: %v", op, ferr)
			}
		}
		if sleepCtx(ctx, time.Duration(attempt)*500*time.Millisecond) != nil {
			break
		}
	}
	d := time.Since(t0)
	c.mu.Lock()
	c.lastMove = rebalanceStats{op: op, slots: moved, keys: keys, duration: d, attempts: min(attempt, rebalanceAttempts),
		totalSlots: c.lastMove.totalSlots + moved}
	c.mu.Unlock()
	if lastErr != nil {
		return fmt.Errorf("redis: %s: moving slots failed after %d attempts: %w", op, min(attempt, rebalanceAttempts), lastErr)
	}
	c.Logf("redis: %s: moved %d slots (%d keys) in %s", op, moved, keys, d.Round(time.Millisecond))
	return nil
}

func (c *cluster) rebalanceOnce(ctx context.Context, plan func([]masterSlots) []slotMove, moved *int, keys *int64) error {
	masters, err := c.currentMasters(ctx)
	if err != nil {
		return err
	}
	moves := plan(masters)
	for _, mv := range moves {
		var others []*node
		for _, m := range masters {
			if m.node != mv.from && m.node != mv.to {
				others = append(others, m.node)
			}
		}
		s, k, err := c.moveSlots(ctx, mv, others)
		*moved += s
		*keys += k
		if err != nil {
			return err
		}
	}
	return nil
}
