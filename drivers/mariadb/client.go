package mariadb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/clientset"
	"github.com/evalrun/evalrun/internal/driverkit"
)

// Connection settings. Operations carry their own deadline (the scenario's
// timeout) and database/sql ends a call when its ctx does; the I/O
// timeouts only keep a call without a deadline from waiting forever on a
// frozen node (a semi-synchronous commit may wait semi-sync-timeout).
const (
	dialTimeout = 2 * time.Second
	ioTimeout   = 60 * time.Second
	clientConns = 64 // per node: the workload's concurrency
	adminConns  = 4  // per node: heartbeat, gauges, Settled
)

// connConfig is how the harness connects to the server at addr
// (127.0.0.1:<published port>) as account. Parameters are interpolated on
// the client (one round trip per statement, no prepared statements);
// DATETIME values scan into time.Time in UTC; the driver's logger, which
// would print every broken connection of a killed node, is silent.
func connConfig(addr, password string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User = account
	cfg.Passwd = password
	cfg.Net = "tcp"
	cfg.Addr = addr
	cfg.Timeout = dialTimeout
	cfg.ReadTimeout = ioTimeout
	cfg.WriteTimeout = ioTimeout
	cfg.InterpolateParams = true
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.Logger = &mysql.NopLogger{}
	return cfg
}

// openDB is a pool of at most conns connections (kept idle) of cfg.
func openDB(cfg *mysql.Config, conns int) *sql.DB {
	// NewConnector fails only on a TLS or public-key name it cannot find;
	// cfg names none.
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		panic(fmt.Sprintf("mariadb: connector: %v", err))
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	return db
}

// router says where a client's operations go now. group is a key's group
// (0-based; always 0 with one shard).
type router interface {
	writeTarget(group int) int                // the group's primary
	readTargets(group int, rf readFrom) []int // the group's live nodes a read may go to
}

// lagBound tells whether a replica is close enough behind its primary to
// take a read under max-lag (lagroute.go).
type lagBound interface {
	// within: the node's lag as last measured, plus the time since it
	// was measured, is under bound; a node never measured is not.
	within(node int, bound time.Duration) bool
}

// SQL of the client's operations.
const (
	putSQL    = "INSERT INTO evalrun.kv (k, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v)"
	getSQL    = "SELECT v FROM evalrun.kv WHERE k = ?"
	deleteSQL = "DELETE FROM evalrun.kv WHERE k = ?"
)

// client is a drivers.Client over one connection pool per node.
type client struct {
	mu       sync.RWMutex
	dbs      map[int]*sql.DB // by node index; add-node and remove-node change it
	readFrom readFrom
	shards   int           // groups keys are spread over (>= 1)
	maxLag   time.Duration // 0: reads go to replicas whatever their lag
	lags     lagBound      // used when maxLag > 0
	route    router
	next     atomic.Uint64 // round robin over read targets
	tracked  clientset.Tracked
}

var (
	_ drivers.Client        = (*client)(nil)
	_ drivers.ReadDescriber = (*client)(nil)
	_ drivers.StrictReader  = (*client)(nil)
	_ drivers.ServingClient = (*client)(nil)
	_ drivers.FreshReader   = (*client)(nil)
)

// newClient opens a pool per node of addrs (index -> 127.0.0.1:port);
// o says where reads go and over how many groups keys are spread.
func newClient(addrs map[int]string, password string, o options, route router, lags lagBound) *client {
	c := &client{dbs: map[int]*sql.DB{}, readFrom: o.readFrom, shards: max(o.shards, 1), maxLag: o.maxLag, lags: lags, route: route}
	for idx, addr := range addrs {
		c.dbs[idx] = openDB(connConfig(addr, password), clientConns)
	}
	return c
}

// errNoTarget: no node a read may go to is up.
var errNoTarget = errors.New("no live node to read from")

func (c *client) db(index int) (*sql.DB, error) {
	c.mu.RLock()
	db, ok := c.dbs[index]
	c.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("node%d has no connection pool: %w", index, drivers.ErrUnavailable)
	}
	return db, nil
}

// Put implements drivers.Client: an upsert on the primary. The value is
// copied into the statement before Put returns.
func (c *client) Put(ctx context.Context, key string, value []byte) error {
	_, err := c.PutServed(ctx, key, value)
	return err
}

// PutServed implements drivers.ServingClient: Put, and the primary it
// went to (0 when the client has no pool for it).
func (c *client) PutServed(ctx context.Context, key string, value []byte) (int, error) {
	return c.exec(ctx, "put", putSQL, key, key, value)
}

// groupOf is the group of key (0-based): FNV-1a of the key modulo the
// number of groups, the same in every run and process.
func (c *client) groupOf(key string) int {
	if c.shards <= 1 {
		return 0
	}
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(c.shards))
}

// exec runs a statement that writes on the primary of key's group; it
// returns the primary's index once a pool for it was found.
func (c *client) exec(ctx context.Context, op, query, key string, args ...any) (int, error) {
	node := c.route.writeTarget(c.groupOf(key))
	db, err := c.db(node)
	if err != nil {
		return 0, mapError(ctx, op, err)
	}
	_, err = db.ExecContext(ctx, query, args...)
	return node, mapError(ctx, op, err)
}

// Get implements drivers.Client; a missing key is drivers.ErrNotFound.
func (c *client) Get(ctx context.Context, key string) ([]byte, error) {
	v, _, err := c.GetServed(ctx, key)
	return v, err
}

// GetServed implements drivers.ServingClient: Get, and the node the read
// went to (the primary or a replica, as read-from says; 0 when none was
// up).
func (c *client) GetServed(ctx context.Context, key string) ([]byte, int, error) {
	node, db, err := c.readDB(key)
	if err != nil {
		return nil, 0, mapError(ctx, "get", err)
	}
	v, err := get(ctx, db, key)
	return v, node, err
}

// GetFresh implements drivers.FreshReader: a read on the primary of key's
// group, whatever read-from says (the mix's read-fresh class).
func (c *client) GetFresh(ctx context.Context, key string) ([]byte, int, error) {
	node := c.route.writeTarget(c.groupOf(key))
	db, err := c.db(node)
	if err != nil {
		return nil, 0, mapError(ctx, "get", err)
	}
	v, err := get(ctx, db, key)
	return v, node, err
}

// GetStrict implements drivers.StrictReader: a read on the primary, which
// holds every acknowledged write, so that the read-back tells a replica
// behind (read-from replicas|any) from a write the cluster lost.
func (c *client) GetStrict(ctx context.Context, key string) ([]byte, error) {
	v, _, err := c.GetFresh(ctx, key)
	return v, err
}

// StrictReadSettings implements drivers.StrictReader.
func (c *client) StrictReadSettings() string {
	return "SELECT on the current primary"
}

// get reads key on db; a missing key is drivers.ErrNotFound.
func get(ctx context.Context, db *sql.DB, key string) ([]byte, error) {
	var v []byte
	err := db.QueryRowContext(ctx, getSQL, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, drivers.ErrNotFound
	}
	if err != nil {
		return nil, mapError(ctx, "get", err)
	}
	return v, nil
}

// readDB picks the next read target of key's group and its pool. Under
// max-lag, a replica whose lag is not known to be under the bound is
// skipped, and with none left the read goes to the group's primary.
func (c *client) readDB(key string) (int, *sql.DB, error) {
	group := c.groupOf(key)
	targets := c.route.readTargets(group, c.readFrom)
	if c.maxLag > 0 && c.readFrom != readPrimary {
		primary := c.route.writeTarget(group)
		fresh := targets[:0:0]
		for _, n := range targets {
			if n == primary || c.lags.within(n, c.maxLag) {
				fresh = append(fresh, n)
			}
		}
		if len(fresh) == 0 {
			fresh = append(fresh, primary)
		}
		targets = fresh
	}
	if len(targets) == 0 {
		return 0, nil, fmt.Errorf("read-from %s: %w (%w)", c.readFrom, errNoTarget, drivers.ErrUnavailable)
	}
	node := targets[int(c.next.Add(1)%uint64(len(targets)))]
	db, err := c.db(node)
	if err != nil {
		return 0, nil, err
	}
	return node, db, nil
}

// Delete implements drivers.Client (deleting a missing key is fine).
func (c *client) Delete(ctx context.Context, key string) error {
	_, err := c.DeleteServed(ctx, key)
	return err
}

// DeleteServed implements drivers.ServingClient: Delete, and the primary
// it went to.
func (c *client) DeleteServed(ctx context.Context, key string) (int, error) {
	return c.exec(ctx, "delete", deleteSQL, key, key)
}

// addNode opens a pool to a node added to the cluster.
func (c *client) addNode(index int, addr, password string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.dbs[index]; !ok {
		c.dbs[index] = openDB(connConfig(addr, password), clientConns)
	}
}

// dropNode closes the pool of a node removed from the cluster.
func (c *client) dropNode(index int) {
	c.mu.Lock()
	db := c.dbs[index]
	delete(c.dbs, index)
	c.mu.Unlock()
	if db != nil {
		_ = db.Close()
	}
}

// ReadSettings implements drivers.ReadDescriber.
func (c *client) ReadSettings() string {
	var s string
	switch c.readFrom {
	case readReplicas:
		s = "read-from replicas: SELECT on the live replicas in turn (asynchronous apply: reads may be stale)"
	case readAny:
		s = "read-from any: SELECT on every live node in turn (replicas may be stale)"
	default:
		s = "read-from primary: SELECT on the primary (InnoDB, REPEATABLE READ, autocommit)"
	}
	if c.maxLag > 0 && c.readFrom != readPrimary {
		s += fmt.Sprintf("; max-lag %s: a replica whose heartbeat lag is not known to be under it is skipped, the primary reads when none is", c.maxLag)
	}
	if c.shards > 1 {
		s += fmt.Sprintf("; %d shards: each key in the group of its FNV-1a hash", c.shards)
	}
	return s
}

// Close implements drivers.Client. It is idempotent.
func (c *client) Close() error {
	return c.tracked.Close(func() error {
		var errs []error
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, db := range c.dbs {
			errs = append(errs, db.Close())
		}
		return errors.Join(errs...)
	})
}

// Server errors that mean "this node cannot serve that now".
const (
	erConCount          = 1040 // too many connections
	erServerShutdown    = 1053
	erAbortingConn      = 1152
	erNetReadError      = 1158
	erNetReadInterrupt  = 1159
	erNetErrorOnWrite   = 1160
	erNetWriteInterrupt = 1161
	erOptionPrevents    = 1290 // --read-only: a write reached a replica
	erReadOnlyMode      = 1836
	erConnectionKilled  = 1927
)

var unavailableCodes = []uint16{erConCount, erServerShutdown, erAbortingConn, erNetReadError, erNetReadInterrupt,
	erNetErrorOnWrite, erNetWriteInterrupt, erOptionPrevents, erReadOnlyMode, erConnectionKilled}

// mapError classifies an error of database/sql and go-sql-driver for the
// recorder with driverkit.MapError: the caller's deadline and I/O timeouts
// are context.DeadlineExceeded; what isUnavailable says is
// drivers.ErrUnavailable. The original error stays in the chain.
func mapError(ctx context.Context, op string, err error) error {
	return driverkit.MapError(ctx, driverName+" "+op, err, isUnavailable)
}

// isUnavailable: a failed or lost connection (refused, reset, EOF, a bad
// or invalid connection, "server has gone away"), a closed pool, or a
// server that cannot serve now (shutting down, too many connections, a
// write refused by read_only).
func isUnavailable(err error) bool {
	if driverkit.ConnectionError(err) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, sql.ErrConnDone) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return slices.Contains(unavailableCodes, me.Number)
	}
	msg := err.Error()
	for _, s := range []string{"server has gone away", "bad connection", "invalid connection", "database is closed"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
