package mariadb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/clientset"
	"github.com/evalrun/evalrun/internal/docker"
	"github.com/evalrun/evalrun/internal/driverkit"
)

// Names and timing of a cluster.
const (
	mariadbPort      = "3306"
	dataDir          = "/var/lib/mysql"   // in the container; bind-mounted from WorkDir/node<i>
	xferDir          = "/evalrun-xfer"    // in every container; bind-mounted from WorkDir/xfer: backups land there
	account          = "evalrun"          // the harness's account on every node
	roleAccount      = account + "_admin" // changes a node's role (read_only), see entrypoint.sh
	nodeReadyTimeout = 90 * time.Second   // the first start initialises the data directory
	stopGrace        = 30 * time.Second   // SIGTERM (InnoDB shuts down cleanly), then SIGKILL
	formTimeout      = 90 * time.Second   // until every replica replicates and has caught up
	adminTimeout     = 10 * time.Second   // one administrative statement
)

// Role names of a MariaDB cluster's nodes.
const (
	rolePrimary = drivers.RolePrimary // the node the driver writes to
	roleReplica = drivers.RoleReplica
)

// node is one MariaDB server (container node<index>).
type node struct {
	driverkit.Node
	data string // host directory bind-mounted at dataDir
	// admin is the harness's small pool for administration (formation,
	// heartbeat, gauges, Settled), open from the node's first start.
	admin *sql.DB
	// roles is a pool of roleAccount, which may switch read_only: only
	// promotions and rejoins use it, never for data.
	roles *sql.DB
	// heartbeat is the newest heartbeat the node was seen holding (zero
	// until seen); guarded by cluster.mu.
	heartbeat time.Time
	// source is the node it was last told to replicate from (0: none, as
	// the primary); guarded by cluster.mu.
	source int
	// diverged says why the node was left out of replication (errant
	// transactions); "" when it was not; guarded by cluster.mu.
	diverged string
}

func (n *node) addr() string { return n.DN.Addr(mariadbPort) }

// cluster is running MariaDB primary+replica groups (one without the
// shards option) on the docker provider.
type cluster struct {
	*driverkit.Base[*node]
	opts     options
	workDir  string
	xfer     string // host directory bind-mounted at xferDir in every node
	password string // of account, made for this cluster (a restored one keeps its source's)

	groupSize int // nodes per group at the start (cluster.nodes)
	mu        sync.Mutex
	groups    []group // by group (0-based): its primary and history
	clients   clientset.Set[*client]
	heartbeat heartbeat
	lags      lagBook          // replicas' lag as the client's max-lag routing reads it (lagroute.go)
	watch     replicationWatch // replication errors seen by the gauges (notices.go)
}

var (
	_ driverkit.DockerCluster = (*cluster)(nil)
	_ drivers.Settler         = (*cluster)(nil)
	_ drivers.Roles           = (*cluster)(nil)
	_ drivers.GaugeReporter   = (*cluster)(nil)
	_ drivers.NoticeReporter  = (*cluster)(nil)
	_ drivers.BackupRestorer  = (*cluster)(nil)
	_ drivers.BackupMethods   = (*cluster)(nil)
	_ drivers.Membership      = (*cluster)(nil)
	_ drivers.Promoter        = (*cluster)(nil)
)

var errClosed = fmt.Errorf("%s: %w", driverName, driverkit.ErrClosed)

// topology checks the size of a cluster against its options: node1 the
// primary, the others replicas; with shards, nodes per group (shards.go).
func topology(nodes int, opts options) (drivers.Topology, error) {
	if nodes < 1 || nodes > maxNodes {
		return drivers.Topology{}, fmt.Errorf("mariadb: nodes: %d; want 1 to %d (node1 the primary, the others replicas)", nodes, maxNodes)
	}
	one := "a cluster of 1 node"
	if opts.shards > 1 {
		one = "a group of 1 node (cluster.nodes counts each group's)"
	}
	if nodes == 1 && opts.readFrom == readReplicas {
		return drivers.Topology{}, &drivers.OptionError{Driver: driverName, Name: OptReadFrom, Value: string(opts.readFrom),
			Want: one + " has no replica to read from"}
	}
	if nodes == 1 && opts.semiSync {
		return drivers.Topology{}, &drivers.OptionError{Driver: driverName, Name: OptSemiSync, Value: "on",
			Want: one + " has no replica to acknowledge commits"}
	}
	return groupTopology(nodes, opts)
}

// open connects to Docker, resolves the image and creates the run's
// networks for options topology accepted; it starts no node.
func open(ctx context.Context, spec drivers.ClusterSpec, opts options) (*cluster, error) {
	if spec.WorkDir == "" {
		return nil, errors.New("mariadb: no work directory (ClusterSpec.WorkDir) for the data directories")
	}
	workDir, err := filepath.Abs(spec.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("mariadb: work directory: %w", err)
	}
	base, err := driverkit.Open[*node](ctx, driverName, spec, images().Choice(nil))
	if err != nil {
		return nil, err
	}
	c := &cluster{Base: base, opts: opts, workDir: workDir, xfer: filepath.Join(workDir, "xfer"), password: rand.Text(),
		groupSize: spec.Nodes, groups: newGroups(opts.shards, spec.Nodes)}
	if err := os.MkdirAll(c.xfer, 0o755); err != nil {
		c.CloseAfterFailure(ctx)
		return nil, fmt.Errorf("mariadb: transfer directory: %w", err)
	}
	base.StopGrace = stopGrace
	base.BeforeClose = c.beforeClose
	return c, nil
}

// beforeClose stops the heartbeat and closes the clients and the admin
// pools before the containers go.
func (c *cluster) beforeClose() {
	c.heartbeat.stop()
	c.lags.stop()
	_ = c.clients.CloseAll(clientset.Closer[*client])
	for _, n := range c.All() {
		if n.admin != nil {
			_ = n.admin.Close()
		}
		if n.roles != nil {
			_ = n.roles.Close()
		}
	}
}

// form starts n servers per group, makes each group's first node its
// primary and the others its replicas, creates the schema and waits until
// every replica has caught up.
func (c *cluster) form(ctx context.Context, n int) error {
	t0 := time.Now()
	ns, err := c.reserveNodes(n * len(c.groups))
	if err != nil {
		return err
	}
	if err := driverkit.Launch(ctx, ns, c.launch); err != nil {
		return err
	}
	c.Logf("mariadb: %d servers up in %s (image %s)", len(ns), time.Since(t0).Round(time.Millisecond), c.Image)
	t1 := time.Now()
	if err := c.startReplication(ctx, ns); err != nil {
		return err
	}
	if err := c.waitSettled(ctx, formTimeout); err != nil {
		return fmt.Errorf("mariadb: forming the cluster: %w", err)
	}
	for g, members := range c.byGroup(ns) {
		c.Logf("mariadb: %s %s with %d replica(s) formed: replicating and caught up %s after the servers were up",
			c.thePrimary(g), members[0].Name, len(members)-1, time.Since(t1).Round(time.Millisecond))
	}
	return nil
}

// reserveNodes reserves nodes 1..n.
func (c *cluster) reserveNodes(n int) ([]*node, error) {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i + 1
	}
	return c.Reserve(idx, func(int) *node { return &node{} })
}

// startReplication forms the groups of ns at once (in each, its first
// node the primary: formGroup) and starts the heartbeat.
func (c *cluster) startReplication(ctx context.Context, ns []*node) error {
	groups := c.byGroup(ns)
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for g, members := range groups {
		if len(members) > 0 {
			wg.Go(func() { errs[g] = c.formGroup(ctx, members) })
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.heartbeat.start(c)
	if c.opts.maxLag > 0 {
		c.lags.start(c)
	}
	return nil
}

// formGroup creates the schema on ns[0], the group's primary, makes the
// others its replicas and the primary writable.
func (c *cluster) formGroup(ctx context.Context, ns []*node) error {
	primary := ns[0]
	if err := createSchema(ctx, primary); err != nil {
		return err
	}
	for _, r := range ns[1:] {
		if err := c.replicate(ctx, r, primary); err != nil {
			return err
		}
	}
	return c.writable(ctx, primary)
}

// launch starts the container of a reserved node on an empty data
// directory and opens its admin pool.
func (c *cluster) launch(ctx context.Context, n *node) error {
	n.data = filepath.Join(c.workDir, n.Name)
	if err := os.MkdirAll(n.data, 0o755); err != nil {
		return fmt.Errorf("mariadb: data directory of %s: %w", n.Name, err)
	}
	dn, err := c.Docker.StartNode(ctx, c.nodeSpec(n))
	if err != nil {
		return fmt.Errorf("mariadb: %w", err)
	}
	n.admin = openDB(connConfig(dn.Addr(mariadbPort), c.password), adminConns)
	rc := connConfig(dn.Addr(mariadbPort), c.password)
	rc.User = roleAccount
	n.roles = openDB(rc, 2)
	c.Attach(n, dn)
	return nil
}

// nodeSpec is the container of n.
func (c *cluster) nodeSpec(n *node) docker.NodeSpec {
	return docker.NodeSpec{
		Name:       n.Name,
		Image:      c.Image,
		Entrypoint: docker.ShellEntrypoint("evalrun-mariadb", entrypointScript),
		Cmd:        serverArgs(n.Index, c.isPrimary(n.Index), c.opts),
		Env: []string{
			"EVALRUN_MARIADB_DATA=" + dataDir,
			"EVALRUN_MARIADB_USER=" + account,
			"EVALRUN_MARIADB_PASSWORD=" + c.password,
		},
		Ports:        []string{mariadbPort + "/tcp"},
		Binds:        []string{n.data + ":" + dataDir, c.xfer + ":" + xferDir},
		User:         docker.CallerUser(),
		Ready:        c.ready,
		ReadyTimeout: nodeReadyTimeout,
		StopGrace:    stopGrace,
		Resources:    c.ContainerResources(n.Name),
	}
}

// serverArgs are mariadbd's options on node index (server-id = index), as
// the primary or a replica. They are the container's command, so a node
// keeps them across restarts.
func serverArgs(index int, primary bool, o options) []string {
	args := []string{
		"--server-id=" + strconv.Itoa(index),
		"--port=" + mariadbPort,
		"--bind-address=0.0.0.0",
		"--skip-name-resolve",
		"--log-basename=mariadb", // binary and relay logs named after it, not the host
		"--log-bin",
		"--binlog-format=ROW",
		"--log-slave-updates=ON",
		"--gtid-strict-mode=ON",
		"--sync-binlog=" + strconv.Itoa(o.syncBinlog),
		"--innodb-flush-log-at-trx-commit=" + strconv.Itoa(o.flushLog),
		"--innodb-buffer-pool-size=" + strconv.FormatInt(o.bufferPool, 10),
		"--max-connections=1000", // clients open up to 64 connections per node each
		"--slave-net-timeout=" + strconv.Itoa(o.netTimeoutS),
	}
	if o.semiSync {
		// Every node may become the primary (promote, switchover) and
		// every node may become a replica: each starts with the primary's
		// wait point and timeout and the replica's side enabled, which on
		// a crashed former primary also makes recovery truncate the binary
		// log transactions that no replica acknowledged (MDEV-21117)
		// instead of committing them. The primary's side is switched on
		// at run time (writable), once the replicas replicate: the schema
		// is then acknowledged at once, not after semi-sync-timeout.
		args = append(args,
			"--rpl-semi-sync-master-wait-point=AFTER_SYNC",
			"--rpl-semi-sync-master-timeout="+strconv.FormatInt(o.semiSyncTimeout.Milliseconds(), 10),
			"--rpl-semi-sync-slave-enabled=ON")
	}
	if primary {
		return args
	}
	return append(args, "--read-only=ON", "--slave-parallel-threads="+strconv.Itoa(o.parallel))
}

// ready: the server answers a ping as the harness's account through the
// published port (Docker's port proxy accepts connections even when
// nothing listens, so only an answer counts).
func (c *cluster) ready(ctx context.Context, dn *docker.Node) error {
	db := openDB(connConfig(dn.Addr(mariadbPort), c.password), 1)
	defer db.Close()
	return db.PingContext(ctx)
}

// Info implements drivers.Cluster.
func (c *cluster) Info(ctx context.Context) (drivers.ClusterInfo, error) {
	if c.Closed() {
		return drivers.ClusterInfo{}, errClosed
	}
	version, err := c.DBVersion(ctx, func(ctx context.Context, n *node) (string, error) {
		qctx, cancel := context.WithTimeout(ctx, adminTimeout)
		defer cancel()
		var v string
		err := n.admin.QueryRowContext(qctx, "SELECT VERSION()").Scan(&v)
		return v, err
	})
	if err != nil {
		return drivers.ClusterInfo{}, fmt.Errorf("mariadb: SELECT VERSION(): %w", err)
	}
	info := c.ClusterInfo(driverName, version, c.opts.config())
	info.Nodes = c.NodeInfos(func(n *node) string { return n.Name }, (*node).addr)
	return info, nil
}

// NewClient implements drivers.Cluster: a pool per member, reads routed
// as the read-from option says.
func (c *cluster) NewClient(ctx context.Context) (drivers.Client, error) {
	if c.Closed() {
		return nil, errClosed
	}
	addrs := map[int]string{}
	for _, n := range c.Members() {
		addrs[n.Index] = n.addr()
	}
	cl := newClient(addrs, c.password, c.opts, c, &c.lags)
	if err := c.clients.Track(cl, &cl.tracked); err != nil {
		_ = cl.Close()
		return nil, errClosed
	}
	return cl, nil
}

// writeTarget implements router: the group's primary.
func (c *cluster) writeTarget(group int) int { return c.groupPrimary(group) }

// readTargets implements router: the group's live nodes a read may go to.
func (c *cluster) readTargets(group int, rf readFrom) []int {
	primary := c.groupPrimary(group)
	if rf == readPrimary {
		return []int{primary}
	}
	var out []int
	for _, n := range c.Live() {
		if c.groupOfNode(n.Index) != group {
			continue
		}
		if (rf == readAny || n.Index != primary) && c.divergedWhy(n) == "" {
			out = append(out, n.Index)
		}
	}
	return out
}

// NodeRoles implements drivers.Roles: a primary is a node the driver
// writes to (one per group); every other member is a replica, but for one
// left out of replication (errant transactions), which plays no role.
// With several groups each node also has its group's role
// (shard2.primary, shard2.replica).
func (c *cluster) NodeRoles(ctx context.Context) (map[string][]int, error) {
	if c.Closed() {
		return nil, errClosed
	}
	roles := map[string][]int{}
	for _, n := range c.Members() { // ascending
		g := c.groupOfNode(n.Index)
		groupPrimary, groupReplica := groupRoles(g)
		switch {
		case c.isPrimary(n.Index):
			roles[rolePrimary] = append(roles[rolePrimary], n.Index)
			if c.sharded() {
				roles[groupPrimary] = append(roles[groupPrimary], n.Index)
			}
		case c.divergedWhy(n) != "":
		default:
			roles[roleReplica] = append(roles[roleReplica], n.Index)
			if c.sharded() {
				roles[groupReplica] = append(roles[groupReplica], n.Index)
			}
		}
	}
	return roles, nil
}
