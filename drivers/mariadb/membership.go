package mariadb

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/driverkit"
)

// Membership.
//
// AddNode clones a new replica from a hot backup: mariabackup of the live
// replica of the highest index (the primary when there is none), prepared,
// moved into the new node's data directory; the new server starts, sets
// gtid_slave_pos to the position in the backup's binlog info, replicates
// from the primary by GTID (MASTER_USE_GTID=slave_pos) and AddNode returns
// once its heartbeat lag is under caughtUpLag: the step's duration is the
// whole clone and catch-up.
//
// RemoveNode takes a replica out: STOP SLAVE, a graceful stop, the
// container removed. The primary cannot be removed.

// caughtUpLag is the heartbeat lag under which a new replica counts as
// caught up.
const caughtUpLag = time.Second

// AddNode implements drivers.Membership (see the comment above). A
// cluster of several groups refuses it: which group a new node would join
// is not decided.
func (c *cluster) AddNode(ctx context.Context) (int, error) {
	if c.sharded() {
		return 0, c.groupsRefuse("add-node")
	}
	idx, err := c.addNode(ctx)
	if err != nil {
		return 0, fmt.Errorf("mariadb: add-node: %w", err)
	}
	return idx, nil
}

func (c *cluster) addNode(ctx context.Context) (int, error) {
	ctx, release, err := c.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	t0 := time.Now()
	primary, err := c.livePrimary()
	if err != nil {
		return 0, err
	}
	src := c.backupSource(primary)
	ns, err := c.Reserve([]int{0}, func(int) *node { return &node{} })
	if err != nil {
		return 0, err
	}
	n := ns[0]
	host, gtid, err := c.hotCopy(ctx, src, "clone-"+n.Name)
	if err != nil {
		return 0, err
	}
	data := filepath.Join(c.workDir, n.Name)
	if err := moveTree(ctx, host, data); err != nil {
		return 0, err
	}
	if err := prepareDataDir(data); err != nil {
		return 0, err
	}
	if err := writeSlavePos(data, gtid); err != nil {
		return 0, err
	}
	cloned := time.Since(t0)
	if err := c.launch(ctx, n); err != nil {
		return 0, err
	}
	err = c.replicate(ctx, n, primary)
	if err == nil {
		for _, cl := range c.clients.Snapshot() {
			cl.addNode(n.Index, n.addr(), c.password)
		}
		err = c.waitCaughtUp(ctx, n)
	}
	if err != nil {
		return 0, errors.Join(err, c.drop(context.WithoutCancel(ctx), n))
	}
	c.Logf("mariadb: %s added: cloned from %s at GTID %s in %s, caught up %s later", n.Name, src.Name, gtid,
		cloned.Round(time.Millisecond), (time.Since(t0) - cloned).Round(time.Millisecond))
	return n.Index, nil
}

// waitCaughtUp waits until replica n replicates and its heartbeat lag is
// under caughtUpLag.
func (c *cluster) waitCaughtUp(ctx context.Context, n *node) error {
	last := "no heartbeat applied yet"
	for {
		gctx, cancel := context.WithTimeout(ctx, adminTimeout)
		gs, err := c.replicaGauges(gctx, n)
		cancel()
		lag, running := -1.0, false
		for _, g := range gs {
			switch g.Name {
			case "lag_s." + n.Name:
				lag = g.Value
			case "replicating." + n.Name:
				running = g.Value == 1
			}
		}
		switch {
		case err == nil && running && lag >= 0 && lag < caughtUpLag.Seconds():
			return nil
		case err != nil:
			last = err.Error()
		case lag >= 0:
			last = "lag " + strconv.FormatFloat(lag, 'f', 2, 64) + " s"
		}
		if !running && err == nil {
			if st, err := showSlaveStatus(gctx, n); err == nil && !st.running() {
				last = st.why()
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not catch up: %s: %w", n.Name, last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// RemoveNode implements drivers.Membership: a replica stops replicating,
// stops and its container goes. The primary cannot be removed, nor any
// node of a cluster of several groups.
func (c *cluster) RemoveNode(ctx context.Context, index int) error {
	if c.sharded() {
		return c.groupsRefuse("remove-node")
	}
	return c.WithNode(ctx, index, "remove-node", c.removeNode)
}

func (c *cluster) removeNode(ctx context.Context, n *node) error {
	if c.isPrimary(n.Index) {
		return fmt.Errorf("mariadb: remove-node: %s is the primary; remove a replica", n.Name)
	}
	if c.State(n) == driverkit.StateUp {
		// best effort: a replica that does not answer is stopped anyway
		_ = execAdmin(ctx, n, "STOP SLAVE")
	}
	if err := c.drop(ctx, n); err != nil {
		return fmt.Errorf("mariadb: remove-node: %w", err)
	}
	c.Logf("mariadb: %s removed", n.Name)
	return nil
}

// groupsRefuse is the error of a membership change (verb: "add-node")
// on a cluster of several groups.
func (c *cluster) groupsRefuse(verb string) error {
	return fmt.Errorf("mariadb: %s: %w with shards=%d (groups are fixed at the start); run it with shards=1", verb, drivers.ErrNotSupported, len(c.groups))
}

// drop stops n, removes its container and forgets it (the clients close
// their pools to it). Its data directory stays in the work directory.
func (c *cluster) drop(ctx context.Context, n *node) error {
	c.SetState(n, driverkit.StateRemoved)
	for _, cl := range c.clients.Snapshot() {
		cl.dropNode(n.Index)
	}
	if n.admin != nil {
		_ = n.admin.Close()
	}
	if n.DN == nil {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, stopGrace+15*time.Second)
	defer cancel()
	return errors.Join(n.DN.Stop(sctx, stopGrace), n.DN.Remove(sctx))
}
