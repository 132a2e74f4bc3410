package mariadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/driverkit"
)

// Replication's timing.
const (
	heartbeatEvery   = 100 * time.Millisecond // the primary's heartbeat row
	heartbeatTimeout = time.Second            // one heartbeat write
	gaugeInterval    = 250 * time.Millisecond
)

// schemaStatements create what the workload and the heartbeat use. They
// run on the primary and replicate.
var schemaStatements = []string{
	"CREATE DATABASE IF NOT EXISTS evalrun",
	"CREATE TABLE IF NOT EXISTS evalrun.kv (k VARBINARY(255) NOT NULL PRIMARY KEY, v LONGBLOB NOT NULL) ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS evalrun.heartbeat (id INT NOT NULL PRIMARY KEY, ts DATETIME(6) NOT NULL) ENGINE=InnoDB",
}

// createSchema creates the schema on the primary.
func createSchema(ctx context.Context, primary *node) error {
	for _, stmt := range schemaStatements {
		if err := execAdmin(ctx, primary, stmt); err != nil {
			return err
		}
	}
	return nil
}

// execAdmin runs one administrative statement on n, bounded by
// adminTimeout.
func execAdmin(ctx context.Context, n *node, stmt string, args ...any) error {
	return execOn(ctx, n, n.admin, stmt, args...)
}

// execRole runs one statement that changes n's role (read_only, the
// semi-sync primary's side) as roleAccount, bounded by adminTimeout.
func execRole(ctx context.Context, n *node, stmt string) error {
	return execOn(ctx, n, n.roles, stmt)
}

func execOn(ctx context.Context, n *node, db *sql.DB, stmt string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	if _, err := db.ExecContext(ctx, stmt, args...); err != nil {
		return fmt.Errorf("mariadb: %s: %s: %w", n.Name, firstWords(stmt, 4), err)
	}
	return nil
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	return strings.Join(f[:min(n, len(f))], " ")
}

// replicate makes r a replica of primary by GTID, from the start of the
// primary's binary log (r has no transaction of its own: the entrypoint
// creates the account before the binary log exists). A replica retries a
// lost connection every second, and the primary sends a heartbeat event
// every second (less than the shortest slave-net-timeout, 2 s), so only a
// connection that is really silent is given up after slave-net-timeout.
func (c *cluster) replicate(ctx context.Context, r, primary *node) error {
	err := execAdmin(ctx, r, "CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = "+mariadbPort+", MASTER_USER = ?, MASTER_PASSWORD = ?, "+
		"MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1, MASTER_HEARTBEAT_PERIOD = 1",
		primary.Name, account, c.password)
	if err == nil {
		err = execAdmin(ctx, r, "START SLAVE")
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	r.source = primary.Index
	c.mu.Unlock()
	return nil
}

// slaveStatus is what SHOW SLAVE STATUS says, by column name; nil when the
// node replicates from nobody.
type slaveStatus map[string]string

func (s slaveStatus) running() bool {
	return s["Slave_IO_Running"] == "Yes" && s["Slave_SQL_Running"] == "Yes"
}

// why says in one line why s is not running.
func (s slaveStatus) why() string {
	if s == nil {
		return "replicates from nobody"
	}
	out := fmt.Sprintf("Slave_IO_Running %s, Slave_SQL_Running %s", s["Slave_IO_Running"], s["Slave_SQL_Running"])
	for _, k := range []string{"Last_IO_Error", "Last_SQL_Error"} {
		if s[k] != "" {
			out += "; " + k + ": " + s[k]
		}
	}
	return out
}

// showSlaveStatus reads SHOW SLAVE STATUS on n.
func showSlaveStatus(ctx context.Context, n *node) (slaveStatus, error) {
	rows, err := n.admin.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, fmt.Errorf("%s: SHOW SLAVE STATUS: %w", n.Name, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("%s: SHOW SLAVE STATUS: %w", n.Name, err)
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("%s: SHOW SLAVE STATUS: %w", n.Name, err)
		}
		return nil, nil
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, fmt.Errorf("%s: SHOW SLAVE STATUS: %w", n.Name, err)
	}
	s := slaveStatus{}
	for i, col := range cols {
		if vals[i].Valid {
			s[col] = vals[i].String
		}
	}
	return s, rows.Err()
}

// gtidPos is a GTID position (gtid_binlog_pos, gtid_slave_pos): the last
// sequence number of each replication domain.
type gtidPos map[uint32]uint64

// parseGTIDPos reads "0-1-120,1-3-7" (domain-server-sequence, comma
// separated; "" is the empty position).
func parseGTIDPos(s string) (gtidPos, error) {
	gs, err := parseGTIDs(s)
	if err != nil {
		return nil, err
	}
	pos := gtidPos{}
	for _, g := range gs {
		pos[g.domain] = g.seq
	}
	return pos, nil
}

// reached reports whether p has applied everything of target: in every
// domain of target, a sequence number at least target's.
func (p gtidPos) reached(target gtidPos) bool {
	for d, seq := range target {
		if p[d] < seq {
			return false
		}
	}
	return true
}

// globalString reads a global variable on n (@@GLOBAL.gtid_binlog_pos).
func globalString(ctx context.Context, n *node, name string) (string, error) {
	var v string
	if err := n.admin.QueryRowContext(ctx, "SELECT @@GLOBAL."+name).Scan(&v); err != nil {
		return "", fmt.Errorf("%s: %s: %w", n.Name, name, err)
	}
	return v, nil
}

func gtidOf(ctx context.Context, n *node, name string) (string, gtidPos, error) {
	s, err := globalString(ctx, n, name)
	if err != nil {
		return "", nil, err
	}
	pos, err := parseGTIDPos(s)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %s: %w", n.Name, name, err)
	}
	return s, pos, nil
}

// Settled implements drivers.Settler: every member is up, and in every
// group every replica's IO and SQL threads run and it has applied
// everything its primary had logged when asked (its gtid_slave_pos reached
// the primary's gtid_binlog_pos; the heartbeat keeps the primary's moving,
// so the primary is asked first). A node that does not answer is a
// reason, not an error.
func (c *cluster) Settled(ctx context.Context) (bool, string, error) {
	if c.Closed() {
		return false, "", errClosed
	}
	members := c.Members()
	for _, n := range members {
		if st := c.State(n); st != driverkit.StateUp {
			return false, fmt.Sprintf("%s is %s", n.Name, st), nil
		}
		if why := c.divergedWhy(n); why != "" {
			return false, why, nil
		}
	}
	for g, ns := range c.byGroup(members) {
		if ok, why := c.groupSettled(ctx, g, ns); !ok {
			return false, why, nil
		}
	}
	return true, "", nil
}

// groupSettled: every replica of group g (members ns, all up) replicates
// and has applied what the group's primary had logged when asked.
func (c *cluster) groupSettled(ctx context.Context, g int, ns []*node) (bool, string) {
	primaryIdx := c.groupPrimary(g)
	var primary *node
	var replicas []*node
	for _, n := range ns {
		if n.Index == primaryIdx {
			primary = n
		} else {
			replicas = append(replicas, n)
		}
	}
	if primary == nil {
		return false, fmt.Sprintf("%s, node%d, is not a member", c.thePrimary(g), primaryIdx)
	}
	qctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	binlogText, binlog, err := gtidOf(qctx, primary, "gtid_binlog_pos")
	if err != nil {
		return false, err.Error()
	}
	for _, r := range replicas {
		st, err := showSlaveStatus(qctx, r)
		if err != nil {
			return false, err.Error()
		}
		if !st.running() {
			return false, r.Name + ": " + st.why()
		}
		applied, pos, err := gtidOf(qctx, r, "gtid_slave_pos")
		if err != nil {
			return false, err.Error()
		}
		if !pos.reached(binlog) {
			return false, fmt.Sprintf("%s lags: gtid_slave_pos %q, %s's gtid_binlog_pos %q", r.Name, applied, primary.Name, binlogText)
		}
	}
	return true, ""
}

// waitSettled polls Settled until it holds or limit passes.
func (c *cluster) waitSettled(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t0 := time.Now()
	for {
		ok, detail, err := c.Settled(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not settled after %s: %s", time.Since(t0).Round(time.Second), detail)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// heartbeat writes each group primary's clock into evalrun.heartbeat
// every heartbeatEvery, as pt-heartbeat does, so that a replica's lag is
// the age of the newest row it has applied (from its own group's
// primary). It runs from formation to Close, one writer per group, so
// that a primary that hangs delays no other group's beat.
type heartbeat struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// start starts the heartbeat of c (once).
func (h *heartbeat) start(c *cluster) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	var wg sync.WaitGroup
	for g := range c.groups {
		wg.Go(func() { c.beat(ctx, g) })
	}
	go func() {
		wg.Wait()
		close(h.done)
	}()
}

// stop ends the heartbeat and waits for its last write.
func (h *heartbeat) stop() {
	h.mu.Lock()
	cancel, done := h.cancel, h.done
	h.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// beat writes a heartbeat on group g's primary every heartbeatEvery while
// it is up (a write to a paused primary would only wait), and logs when
// writing starts failing and when it works again (on the same primary, or
// on a new one after a promotion).
func (c *cluster) beat(ctx context.Context, g int) {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	var failing *node // the primary the heartbeat last failed on
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p, err := c.Node(c.groupPrimary(g))
		if err != nil || c.State(p) != driverkit.StateUp {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, heartbeatTimeout)
		_, err = p.admin.ExecContext(wctx, "REPLACE INTO evalrun.heartbeat (id, ts) VALUES (1, UTC_TIMESTAMP(6))")
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && failing != p:
			c.Logf("mariadb: heartbeat on %s failing: %v", p.Name, err)
		case err == nil && failing == p:
			c.Logf("mariadb: heartbeat on %s works again", p.Name)
		case err == nil && failing != nil:
			c.Logf("mariadb: heartbeat on %s now (it failed on %s)", p.Name, failing.Name)
		}
		failing = nil
		if err != nil {
			failing = p
		}
	}
}

// GaugeInterval implements drivers.GaugeReporter.
func (c *cluster) GaugeInterval() time.Duration { return gaugeInterval }

// Gauges implements drivers.GaugeReporter. For each replica that is up:
// lag_s.node<i>, the age in seconds of the newest heartbeat it has
// applied (its UTC clock minus its group primary's at the write: all
// containers share the host's clock), and seconds_behind_master.node<i> from SHOW SLAVE
// STATUS (absent while its threads do not run). A paused replica applies
// nothing and cannot be asked: its lag_s is the age of the newest
// heartbeat it was last seen holding, which over-states the lag it had
// when frozen by at most the time between that sample and the pause. A
// replica that is down has no gauge. Each query is bounded by ctx.
func (c *cluster) Gauges(ctx context.Context) ([]drivers.Gauge, error) {
	if c.Closed() {
		return nil, errClosed
	}
	var (
		mu     sync.Mutex
		gauges []drivers.Gauge
		errs   []error
		wg     sync.WaitGroup
	)
	for _, n := range c.Members() {
		if c.isPrimary(n.Index) || c.divergedWhy(n) != "" {
			continue // a node left out of replication has no lag to show
		}
		switch c.State(n) {
		case driverkit.StatePaused:
			c.mu.Lock()
			seen := n.heartbeat
			c.mu.Unlock()
			if !seen.IsZero() {
				mu.Lock()
				gauges = append(gauges, drivers.Gauge{Name: "lag_s." + n.Name, Value: time.Since(seen).Seconds()})
				mu.Unlock()
			}
			continue
		case driverkit.StateUp:
		default:
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			gs, err := c.replicaGauges(ctx, n)
			mu.Lock()
			defer mu.Unlock()
			gauges = append(gauges, gs...)
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(gauges, func(a, b drivers.Gauge) int { return strings.Compare(a.Name, b.Name) })
	if len(gauges) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("mariadb: gauges: %w", errors.Join(errs...))
	}
	return gauges, nil
}

// heartbeatLag reads the newest heartbeat n has applied and its age by
// n's clock (all containers share the host's): the lag_s gauge's and
// max-lag routing's measure. ok is false while n has applied none.
func heartbeatLag(ctx context.Context, n *node) (ts time.Time, lag time.Duration, ok bool, err error) {
	var lagUs int64
	err = n.admin.QueryRowContext(ctx,
		"SELECT ts, TIMESTAMPDIFF(MICROSECOND, ts, UTC_TIMESTAMP(6)) FROM evalrun.heartbeat WHERE id = 1").Scan(&ts, &lagUs)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, 0, false, nil
	case err != nil:
		return time.Time{}, 0, false, err
	}
	return ts, time.Duration(lagUs) * time.Microsecond, true, nil
}

// replicaGauges asks one replica for its heartbeat and its slave status.
func (c *cluster) replicaGauges(ctx context.Context, n *node) ([]drivers.Gauge, error) {
	var out []drivers.Gauge
	ts, lag, ok, err := heartbeatLag(ctx, n)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: heartbeat: %w", n.Name, err)
	case ok:
		c.mu.Lock()
		n.heartbeat = ts
		c.mu.Unlock()
		out = append(out, drivers.Gauge{Name: "lag_s." + n.Name, Value: lag.Seconds()})
	}
	st, err := showSlaveStatus(ctx, n)
	if err != nil {
		return out, err
	}
	c.watch.observe(n.Index, n.Name, st)
	replicating := 0.0
	if st.running() {
		replicating = 1
	}
	out = append(out, drivers.Gauge{Name: "replicating." + n.Name, Value: replicating})
	if s, ok := st["Seconds_Behind_Master"]; ok {
		if v, err := strconv.ParseFloat(s, 64); err == nil {
			out = append(out, drivers.Gauge{Name: "seconds_behind_master." + n.Name, Value: v})
		}
	}
	return out, nil
}
