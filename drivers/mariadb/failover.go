package mariadb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/evalrun/evalrun/internal/driverkit"
)

// Limits of a promotion.
const (
	// applyTimeout bounds how long a replica promoted after the primary
	// died may take to apply what it had received; it is promoted with
	// what it applied then.
	applyTimeout = 30 * time.Second
	// catchUpTimeout bounds how long a switchover waits for the replica to
	// apply everything the read-only primary logged (less when the
	// caller's context ends sooner); the primary takes writes again when
	// it does not.
	catchUpTimeout = time.Minute
	// connectTimeout bounds how long a switchover waits for its target to
	// replicate: a replica just re-pointed (the old primary of the last
	// switchover) is still connecting for a moment.
	connectTimeout = 10 * time.Second
)

// waitReplicating waits until both replication threads of n run, at most
// limit; the error says why they do not.
func waitReplicating(ctx context.Context, n *node, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		st, err := showSlaveStatus(ctx, n)
		if err == nil && st.running() {
			return nil
		}
		why := ""
		if err != nil {
			why = err.Error()
		} else {
			why = st.why()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("it does not replicate: %s", why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// divergedWhy says why n was left out of replication ("" when it was not).
func (c *cluster) divergedWhy(n *node) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return n.diverged
}

// gtidsOf reads a GTID list variable of n (gtid_binlog_pos).
func gtidsOf(ctx context.Context, n *node, name string) ([]gtid, error) {
	s, err := globalString(ctx, n, name)
	if err != nil {
		return nil, err
	}
	gs, err := parseGTIDs(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", n.Name, name, err)
	}
	return gs, nil
}

// received is how far replica n got: per domain, the later of what it
// applied (gtid_slave_pos) and what it received into its relay log
// (Gtid_IO_Pos). An error when n replicates from nobody.
func received(ctx context.Context, n *node) (gtidPos, string, error) {
	st, err := showSlaveStatus(ctx, n)
	if err != nil {
		return nil, "", err
	}
	if st == nil {
		return nil, "", fmt.Errorf("%s replicates from nobody: not a replica", n.Name)
	}
	io, err := parseGTIDPos(st["Gtid_IO_Pos"])
	if err != nil {
		return nil, "", fmt.Errorf("%s: Gtid_IO_Pos: %w", n.Name, err)
	}
	_, applied, err := gtidOf(ctx, n, "gtid_slave_pos")
	if err != nil {
		return nil, "", err
	}
	for d, seq := range applied {
		io[d] = max(io[d], seq)
	}
	return io, st["Gtid_IO_Pos"], nil
}

// Candidate implements drivers.Promoter: of the replicas that are up and
// replicating, the one that received the most of the primary's binary log
// (Gtid_IO_Pos, or gtid_slave_pos when it applied more); the lowest index
// among equals. With semi-synchronous replication (AFTER_SYNC) it holds
// every transaction the primary acknowledged. With several groups the
// step must name one (promote: shard2.replica, CandidateOf).
func (c *cluster) Candidate(ctx context.Context) (int, error) {
	if c.Closed() {
		return 0, errClosed
	}
	if c.sharded() {
		return 0, fmt.Errorf("mariadb: the cluster has %d groups, each with its own primary: name the group whose replica to promote (promote: shard2.replica)", len(c.groups))
	}
	return c.candidateIn(ctx, 0)
}

// candidateIn is the most advanced replica of group g (Candidate).
func (c *cluster) candidateIn(ctx context.Context, g int) (int, error) {
	primary := c.groupPrimary(g)
	best, why := 0, ""
	var bestPos gtidPos
	for _, n := range c.Live() {
		if c.groupOfNode(n.Index) != g || n.Index == primary || c.divergedWhy(n) != "" {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, adminTimeout)
		pos, _, err := received(qctx, n)
		cancel()
		if err != nil {
			why += "; " + err.Error()
			continue
		}
		if best == 0 || pos.reached(bestPos) && !bestPos.reached(pos) {
			best, bestPos = n.Index, pos
		}
	}
	if best == 0 {
		of := ""
		if c.sharded() {
			of = " of " + groupName(g)
		}
		return 0, fmt.Errorf("mariadb: no replica%s is up and replicating to promote%s", of, why)
	}
	return best, nil
}

// promotion finds the primary of index's group and the replica index to
// promote and checks that index can be promoted: a member, up, not the
// primary, not left out of replication.
func (c *cluster) promotion(index int) (old, r *node, err error) {
	if old, err = c.Node(c.primaryOf(index)); err != nil {
		return nil, nil, err
	}
	if r, err = c.Node(index); err != nil {
		return nil, nil, err
	}
	switch {
	case r == old:
		return nil, nil, fmt.Errorf("mariadb: %s is %s already, not a replica", r.Name, c.thePrimary(c.groupOfNode(r.Index)))
	case c.State(r) != driverkit.StateUp:
		return nil, nil, fmt.Errorf("mariadb: %s is %s: only a replica that is up can be promoted", r.Name, c.State(r))
	case c.divergedWhy(r) != "":
		return nil, nil, fmt.Errorf("mariadb: %s cannot be promoted: %s", r.Name, c.divergedWhy(r))
	}
	return old, r, nil
}

// promote runs a promotion of replica index (verb: "promote",
// "switchover") in the operation slot. makePrimary gets the primary and
// the replica once index is known to be promotable and makes the replica
// the primary; it returns the node the others need not re-point (the dead
// primary). Then the members that are up follow the new primary, and only
// then do the client's writes and the heartbeat move to it (so that with
// semi-sync a replica is there to acknowledge them).
func (c *cluster) promote(ctx context.Context, index int, verb string,
	makePrimary func(ctx context.Context, old, r *node) (skip *node, err error)) error {
	ctx, release, err := c.Acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	t0 := time.Now()
	old, r, err := c.promotion(index)
	if err != nil {
		return err
	}
	skip, err := makePrimary(ctx, old, r)
	if err != nil {
		return err
	}
	errs := c.followers(ctx, r, skip)
	c.mu.Lock()
	c.groups[c.groupOfNode(r.Index)].primary = r.Index
	c.mu.Unlock()
	c.Logf("mariadb: %s: %s is the primary (was %s, %s) after %s", verb, r.Name, old.Name, c.State(old), time.Since(t0).Round(time.Millisecond))
	return errs
}

// Promote implements drivers.Promoter (failover): the primary must be
// down or paused. Replica index stops fetching, applies what it received
// (at most applyTimeout), stops replicating and becomes writable (the
// primary's semi-sync side on when semi-sync is); the other replicas that
// are up replicate from it; then the client's writes and the heartbeat go
// to it. Nodes down or paused now follow it when they come back
// (StartNode, ResumeNode).
func (c *cluster) Promote(ctx context.Context, index int) error {
	return c.promote(ctx, index, "promote", func(ctx context.Context, old, r *node) (*node, error) {
		if c.State(old) == driverkit.StateUp {
			return nil, fmt.Errorf("mariadb: %s, %s, is up: promote is a failover after the primary died (kill or stop it first); switchover hands a running primary's role over", old.Name, c.thePrimary(c.groupOfNode(old.Index)))
		}
		if _, _, err := received(ctx, r); err != nil {
			return nil, fmt.Errorf("mariadb: promote %w", err)
		}
		// fetch nothing more (the old primary may come back), apply the rest
		if err := execAdmin(ctx, r, "STOP SLAVE IO_THREAD"); err != nil {
			return nil, err
		}
		_, ioPos, err := received(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("mariadb: promote %w", err)
		}
		if err := waitApplied(ctx, r, ioPos, applyTimeout); err != nil {
			c.Logf("mariadb: promoting %s with what it applied: %v", r.Name, err)
		}
		return old, c.makePrimary(ctx, r)
	})
}

// Switchover implements drivers.Promoter (planned): the primary turns
// read-only (waiting for the commits in progress), replica index applies
// everything it logged (at most catchUpTimeout; the primary is made
// writable again when it does not), becomes the primary, and the old
// primary and the other replicas replicate from it. Writes fail from the
// primary's read-only until the client's writes move; none acknowledged
// is lost.
func (c *cluster) Switchover(ctx context.Context, index int) error {
	return c.promote(ctx, index, "switchover", func(ctx context.Context, old, r *node) (*node, error) {
		if c.State(old) != driverkit.StateUp {
			return nil, fmt.Errorf("mariadb: %s, %s, is %s: a switchover needs a running primary (promote fails over from a dead one)", old.Name, c.thePrimary(c.groupOfNode(old.Index)), c.State(old))
		}
		if err := waitReplicating(ctx, r, connectTimeout); err != nil {
			return nil, fmt.Errorf("mariadb: switchover to %s: %w", r.Name, err)
		}
		if err := execRole(ctx, old, "SET GLOBAL read_only = 1"); err != nil {
			return nil, err
		}
		t0 := time.Now()
		target, err := globalString(ctx, old, "gtid_binlog_pos")
		if err == nil {
			err = waitApplied(ctx, r, target, catchUpTimeout)
		}
		if err != nil {
			if rerr := execRole(context.WithoutCancel(ctx), old, "SET GLOBAL read_only = 0"); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return nil, fmt.Errorf("mariadb: switchover to %s abandoned, %s stays the primary: %w", r.Name, old.Name, err)
		}
		c.Logf("mariadb: switchover: %s caught up with %s (%s) %s after it turned read-only", r.Name, old.Name, target, time.Since(t0).Round(time.Millisecond))
		return nil, c.makePrimary(ctx, r)
	})
}

// waitApplied waits until n has applied pos (MASTER_GTID_WAIT), at most
// limit or until ctx ends.
func waitApplied(ctx context.Context, n *node, pos string, limit time.Duration) error {
	if dl, ok := ctx.Deadline(); ok {
		limit = min(limit, time.Until(dl)-time.Second)
	}
	if limit <= 0 {
		return fmt.Errorf("%s: no time left to apply %s", n.Name, pos)
	}
	qctx, cancel := context.WithTimeout(ctx, limit+adminTimeout)
	defer cancel()
	var res int
	if err := n.admin.QueryRowContext(qctx, "SELECT MASTER_GTID_WAIT(?, ?)", pos, limit.Seconds()).Scan(&res); err != nil {
		return fmt.Errorf("%s: MASTER_GTID_WAIT: %w", n.Name, err)
	}
	if res != 0 {
		applied, _ := globalString(ctx, n, "gtid_slave_pos")
		return fmt.Errorf("%s did not apply %s within %s (gtid_slave_pos %q)", n.Name, pos, limit.Round(time.Second), applied)
	}
	return nil
}

// makePrimary stops n replicating for good and makes it writable; the
// history forks at its binary log position.
func (c *cluster) makePrimary(ctx context.Context, n *node) error {
	for _, stmt := range []string{"STOP SLAVE", "RESET SLAVE ALL"} {
		if err := execAdmin(ctx, n, stmt); err != nil {
			return err
		}
	}
	if err := c.writable(ctx, n); err != nil {
		return err
	}
	at, err := gtidsOf(ctx, n, "gtid_binlog_pos")
	if err != nil {
		return fmt.Errorf("mariadb: %w", err)
	}
	c.mu.Lock()
	c.groups[c.groupOfNode(n.Index)].history.fork(at, uint32(n.Index))
	n.source = 0
	c.mu.Unlock()
	return nil
}

// writable makes n take writes as the primary: read_only off and, with
// semi-sync, the primary's side on (a node's command line keeps the role
// it started with).
func (c *cluster) writable(ctx context.Context, n *node) error {
	stmts := []string{"SET GLOBAL read_only = 0"}
	if c.opts.semiSync {
		stmts = append(stmts, "SET GLOBAL rpl_semi_sync_master_enabled = ON")
	}
	for _, stmt := range stmts {
		if err := execRole(ctx, n, stmt); err != nil {
			return err
		}
	}
	return nil
}

// followers makes every member of primary's group that is up, but
// primary and skip, follow primary; a node left out is an error in the
// result, the others still follow.
func (c *cluster) followers(ctx context.Context, primary, skip *node) error {
	var errs []error
	g := c.groupOfNode(primary.Index)
	for _, n := range c.Live() {
		if n == primary || n == skip || c.groupOfNode(n.Index) != g {
			continue
		}
		errs = append(errs, c.follow(ctx, n, primary))
	}
	return errors.Join(errs...)
}

// follow makes n a replica of primary: read-only first, then, unless n
// holds transactions the cluster's history lacks (errant: it would
// replicate into a state no other node has), replication from primary by
// GTID. A former primary starts from its own binary log position. A node
// with errant transactions is left read-only and out of replication, and
// the error names them.
func (c *cluster) follow(ctx context.Context, n, primary *node) error {
	if err := execRole(ctx, n, "SET GLOBAL read_only = 1"); err != nil {
		return err
	}
	pos, err := gtidsOf(ctx, n, "gtid_binlog_pos")
	if err != nil {
		return fmt.Errorf("mariadb: %w", err)
	}
	c.mu.Lock()
	errant := c.groups[c.groupOfNode(n.Index)].history.errant(pos)
	formerPrimary := n.source == 0
	c.mu.Unlock()
	if len(errant) > 0 {
		why := fmt.Sprintf("%s has errant transactions %s that %s (the primary) lacks; left out of replication",
			n.Name, describeErrant(errant), primary.Name)
		err := execAdmin(ctx, n, "STOP SLAVE")
		c.mu.Lock()
		n.diverged, n.source = why, 0
		c.mu.Unlock()
		c.Logf("mariadb: %s", why)
		return errors.Join(errors.New("mariadb: "+why), err)
	}
	if c.opts.semiSync {
		if err := execRole(ctx, n, "SET GLOBAL rpl_semi_sync_master_enabled = OFF"); err != nil {
			return err
		}
	}
	stmts := []string{"STOP SLAVE"}
	if formerPrimary {
		stmts = append(stmts, "SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_binlog_pos",
			"SET GLOBAL slave_parallel_threads = "+strconv.Itoa(c.opts.parallel))
	}
	for _, stmt := range stmts {
		// gtid_slave_pos is a table: writing it needs read_only's bypass
		if err := execRole(ctx, n, stmt); err != nil {
			return err
		}
	}
	if err := c.replicate(ctx, n, primary); err != nil {
		return err
	}
	c.mu.Lock()
	n.diverged = ""
	c.mu.Unlock()
	return nil
}

// StartNode implements drivers.NodeController: the container starts again
// on its data (driverkit), then the node takes the role the cluster has
// for it now: the primary becomes writable; a node that followed another
// primary (the old primary after a failover, a replica down during one)
// follows the current one, or is left out of replication when it holds
// errant transactions, and the error names them.
func (c *cluster) StartNode(ctx context.Context, index int) error {
	if err := c.startRole(index); err != nil {
		return err
	}
	if err := c.Base.StartNode(ctx, index); err != nil {
		return err
	}
	return c.rejoin(ctx, index, true)
}

// rplRoleFile, in a node's data directory, makes the entrypoint start the
// server with --init-rpl-role=<its content> (see entrypoint.sh).
const rplRoleFile = "evalrun-rpl-role"

// startRole says, before node index starts, in which role its crash
// recovery runs. With semi-sync, a node that is not the primary recovers
// as a replica: commits its binary log holds that the engine had not
// finished (waiting for a replica's acknowledgement, so never acknowledged
// to a client) are dropped instead of committed as errant transactions;
// this is semi-sync failover as MariaDB designed it. The primary recovers
// as a primary (its replicas may hold those commits). Asynchronous
// replication gets no such role: the engine commits after the binary log
// without a durable mark of its own, so recovering as a replica would also
// drop commits clients were told of, hiding from the errant-GTID check
// writes the failover lost.
func (c *cluster) startRole(index int) error {
	n, err := c.Node(index)
	if err != nil {
		return err
	}
	path := filepath.Join(n.data, rplRoleFile)
	if c.isPrimary(index) || !c.opts.semiSync {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("mariadb: %s: %w", n.Name, err)
		}
		return nil
	}
	if err := os.WriteFile(path, []byte("SLAVE\n"), 0o644); err != nil {
		return fmt.Errorf("mariadb: %s: %w", n.Name, err)
	}
	return nil
}

// ResumeNode implements drivers.Pauser: the container thaws (driverkit); a
// node that was frozen through a promotion follows the new primary, as
// StartNode says.
func (c *cluster) ResumeNode(ctx context.Context, index int) error {
	if err := c.Base.ResumeNode(ctx, index); err != nil {
		return err
	}
	return c.rejoin(ctx, index, false)
}

// rejoin gives node index, back after a restart or a pause, its role.
func (c *cluster) rejoin(ctx context.Context, index int, restarted bool) error {
	ctx, release, err := c.Acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	n, err := c.Node(index)
	if err != nil {
		return err
	}
	primary, err := c.Node(c.primaryOf(index))
	if err != nil {
		return err
	}
	c.mu.Lock()
	source := n.source
	c.mu.Unlock()
	switch {
	case n == primary && restarted:
		return c.writable(ctx, n)
	case n == primary, source == primary.Index:
		return nil // a replica of the primary resumes by itself (GTID)
	}
	if err := c.follow(ctx, n, primary); err != nil {
		return err
	}
	c.Logf("mariadb: %s rejoined as a replica of %s", n.Name, primary.Name)
	return nil
}
