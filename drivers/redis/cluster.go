package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/clientset"
	"github.com/evalrun/evalrun/internal/docker"
	"github.com/evalrun/evalrun/internal/driverkit"
)

// Timing of cluster operations.
const (
	redisPort        = "6379"
	nodeReadyTimeout = 60 * time.Second // PING answered (an RDB may be loading)
	stopGrace        = 15 * time.Second // SIGTERM, then SIGKILL
	formTimeout      = 90 * time.Second // until every node reports cluster_state:ok
)

// node is one Redis server (container node<index>).
type node struct {
	driverkit.Node
	id string // Redis Cluster node ID; set once known, stable (nodes.conf)
}

func (n *node) addr() string { return n.DN.Addr(redisPort) }

// busAddr is the address other nodes (and redis-cli inside a container) use.
func (n *node) busAddr() string { return n.DN.IP() + ":" + redisPort }

// cluster is a running Redis Cluster on the docker provider.
type cluster struct {
	*driverkit.Base[*node]
	opts options

	mu       sync.Mutex
	clients  clientset.Set[*client]
	restores int
	lastMove rebalanceStats
}

// rebalanceStats describe the last slot movement (AddNode, RemoveNode).
type rebalanceStats struct {
	op         string // "add node7", "remove node1"
	slots      int
	keys       int64
	duration   time.Duration
	attempts   int
	totalSlots int // over the cluster's life
}

var (
	_ driverkit.DockerCluster = (*cluster)(nil)
	_ drivers.Membership      = (*cluster)(nil)
	_ drivers.Settler         = (*cluster)(nil)
	_ drivers.Roles           = (*cluster)(nil)
	_ drivers.BackupRestorer  = (*cluster)(nil)
)

var errClosed = fmt.Errorf("redis: %w", driverkit.ErrClosed)

// Role names of a Redis cluster's nodes.
const (
	roleLeader  = "leader" // the master of slot 0
	roleMaster  = "master"
	roleReplica = "replica"
)

// topology checks the size of a cluster: nodes masters, each with the
// replicas option's replicas; every node is addressable.
func topology(nodes int, opts options) (drivers.Topology, error) {
	if nodes < 1 {
		return drivers.Topology{}, fmt.Errorf("redis: a cluster needs at least 1 master (nodes: %d)", nodes)
	}
	total := nodes * (1 + opts.replicas)
	if total > maxNodes {
		return drivers.Topology{}, &drivers.OptionError{Driver: "redis", Name: OptReplicas, Value: strconv.Itoa(opts.replicas),
			Want: fmt.Sprintf("%d masters with %d replicas each is %d nodes; at most %d", nodes, opts.replicas, total, maxNodes)}
	}
	return drivers.Topology{Nodes: total, Roles: []string{roleLeader, roleMaster, roleReplica}}, nil
}

// open connects to Docker, resolves the image and creates the run's
// networks; it starts no node.
func open(ctx context.Context, spec drivers.ClusterSpec, opts options) (*cluster, error) {
	base, err := driverkit.Open[*node](ctx, "redis", spec, images().Choice(nil))
	if err != nil {
		return nil, err
	}
	c := &cluster{Base: base, opts: opts}
	base.StopGrace = stopGrace
	base.AfterStart = c.announce
	base.BeforeClose = func() { _ = c.clients.CloseAll(clientset.Closer[*client]) }
	return c, nil
}

// form starts masters*(1+replicas) nodes and makes them a cluster.
func (c *cluster) form(ctx context.Context, masters int) error {
	t0 := time.Now()
	total := masters * (1 + c.opts.replicas)
	ns, err := c.startNodes(ctx, make([]string, total))
	if err != nil {
		return err
	}
	c.Logf("redis: %d nodes started in %s (image %s)", total, time.Since(t0).Round(time.Millisecond), c.Image)
	t1 := time.Now()
	if masters >= 3 {
		args := []string{"--cluster", "create"}
		for _, n := range ns {
			args = append(args, n.busAddr())
		}
		args = append(args, "--cluster-replicas", strconv.Itoa(c.opts.replicas), "--cluster-yes")
		out, err := c.cli(ctx, ns[0], 120*time.Second, args...)
		if err != nil {
			return fmt.Errorf("redis: create the cluster: %w", err)
		}
		if !strings.Contains(out, "All 16384 slots covered") {
			return fmt.Errorf("redis: create the cluster: redis-cli did not confirm the slots:\n%s", lastLines(out, 10))
		}
	} else {
		// redis-cli refuses fewer than 3 masters: assign slots by hand.
		var layout []masterLayout
		for i := 0; i < masters; i++ {
			lo, hi := i*numSlots/masters, (i+1)*numSlots/masters-1
			l := masterLayout{node: ns[i], slots: []slotRange{{lo, hi}}}
			for r := 0; r < c.opts.replicas; r++ {
				l.replicas = append(l.replicas, ns[masters+i*c.opts.replicas+r])
			}
			layout = append(layout, l)
		}
		if err := c.assemble(ctx, layout); err != nil {
			return err
		}
	}
	if err := c.waitFormed(ctx, formTimeout); err != nil {
		return err
	}
	c.Logf("redis: cluster of %d masters and %d replicas formed in %s", masters, total-masters, time.Since(t1).Round(time.Millisecond))
	return nil
}

// nodeSpec is the container of node name; restore is the host path of an
// RDB file to start from ("" for an empty node).
func (c *cluster) nodeSpec(name, restore string) docker.NodeSpec {
	cmd := []string{
		"--port", redisPort,
		"--protected-mode", "no",
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.Itoa(c.opts.nodeTimeoutMs),
		"--dir", "/data",
		"--dbfilename", "dump.rdb",
		"--appendonly", yesNo(c.opts.appendOnly && restore == ""),
		"--loglevel", "notice",
	}
	spec := docker.NodeSpec{
		Name:         name,
		Image:        c.Image,
		Entrypoint:   docker.ShellEntrypoint("evalrun-redis", entrypointScript),
		Cmd:          cmd,
		Ports:        []string{redisPort + "/tcp"},
		Ready:        pingReady,
		ReadyTimeout: nodeReadyTimeout,
		StopGrace:    stopGrace,
		Resources:    c.ContainerResources(name),
	}
	if restore != "" {
		spec.Binds = []string{restore + ":/restore/dump.rdb:ro"}
	}
	return spec
}

// startNode starts the next node (an empty one, or one restored from an RDB
// file) and returns it once it answers PING and announces its run-network
// IP.
func (c *cluster) startNode(ctx context.Context, restore string) (*node, error) {
	ns, err := c.startNodes(ctx, []string{restore})
	if err != nil {
		return nil, err
	}
	return ns[0], nil
}

// startNodes starts len(restores) nodes at once (the next indexes, in
// order; restores[i] is the RDB file of the i-th or "").
func (c *cluster) startNodes(ctx context.Context, restores []string) ([]*node, error) {
	ns, err := c.Reserve(make([]int, len(restores)), func(int) *node { return &node{} })
	if err != nil {
		return nil, err
	}
	i := map[*node]int{}
	for k, n := range ns {
		i[n] = k
	}
	err = driverkit.Launch(ctx, ns, func(ctx context.Context, n *node) error { return c.launch(ctx, n, restores[i[n]]) })
	if err != nil {
		return nil, err
	}
	return ns, nil
}

// launch starts the container of a reserved node and learns its node ID.
func (c *cluster) launch(ctx context.Context, n *node, restore string) error {
	dn, err := c.Docker.StartNode(ctx, c.nodeSpec(n.Name, restore))
	if err != nil {
		return fmt.Errorf("redis: start %s: %w", n.Name, err)
	}
	n.DN = dn // before Attach: nobody reads a reserved node's DN
	if err := c.announce(ctx, n); err != nil {
		return err
	}
	var id string
	err = c.withAdmin(ctx, n, func(ctx context.Context, cl *goredis.Client) error {
		var err error
		id, err = cl.Do(ctx, "CLUSTER", "MYID").Text()
		return err
	})
	if err != nil {
		return fmt.Errorf("redis: %s: CLUSTER MYID: %w", n.Name, err)
	}
	c.mu.Lock()
	n.id = id
	c.mu.Unlock()
	c.Attach(n, dn)
	return nil
}

// announce makes the node announce its run-network IP in the cluster bus
// (cluster-announce-ip). The IP is only known once docker started the
// container, so it is set at run time, after every (re)start.
func (c *cluster) announce(ctx context.Context, n *node) error {
	err := c.withAdmin(ctx, n, func(ctx context.Context, cl *goredis.Client) error {
		return cl.ConfigSet(ctx, "cluster-announce-ip", n.DN.IP()).Err()
	})
	if err != nil {
		return fmt.Errorf("redis: %s: set cluster-announce-ip: %w", n.Name, err)
	}
	c.forgetServingAddrs()
	return nil
}

// waitFormed waits until every live node reports cluster_state:ok with all
// slots assigned and knows every node.
func (c *cluster) waitFormed(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t0 := time.Now()
	detail := ""
	for {
		ok, d, err := c.formed(ctx)
		if err == nil && ok {
			return nil
		}
		if err != nil {
			d = err.Error()
		}
		detail = d
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis: the cluster did not form within %s: %s", time.Since(t0).Round(time.Second), detail)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// formed: every live node says cluster_state:ok, 16384 slots assigned and
// ok, and knows as many nodes as there are.
func (c *cluster) formed(ctx context.Context) (bool, string, error) {
	live := c.Live()
	for _, n := range live {
		info, err := c.clusterInfo(ctx, n)
		if err != nil {
			return false, fmt.Sprintf("%s: %v", n.Name, err), nil
		}
		if info["cluster_state"] != "ok" || info["cluster_slots_assigned"] != "16384" || info["cluster_slots_ok"] != "16384" {
			return false, fmt.Sprintf("%s: cluster_state:%s, %s slots assigned, %s ok", n.Name, info["cluster_state"], info["cluster_slots_assigned"], info["cluster_slots_ok"]), nil
		}
		if k, _ := strconv.Atoi(info["cluster_known_nodes"]); k != len(c.Members()) {
			return false, fmt.Sprintf("%s knows %d nodes, the cluster has %d", n.Name, k, len(c.Members())), nil
		}
	}
	return true, "", nil
}

// byID maps Redis node IDs to nodes (removed ones included).
func (c *cluster) byID() map[string]*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[string]*node{}
	for _, n := range c.All() {
		if n.id != "" {
			m[n.id] = n
		}
	}
	return m
}

// Info implements drivers.Cluster.
func (c *cluster) Info(ctx context.Context) (drivers.ClusterInfo, error) {
	if c.Closed() {
		return drivers.ClusterInfo{}, errClosed
	}
	version, _ := c.DBVersion(ctx, c.serverVersion) // the report says when it is unknown
	info := c.ClusterInfo("redis", version, c.opts.config())
	info.Config["image"] = c.Image
	info.Nodes = c.NodeInfos(func(n *node) string { return n.Name }, (*node).addr)
	c.mu.Lock()
	defer c.mu.Unlock()
	rb := c.lastMove
	if rb.op != "" {
		info.Config["last-rebalance"] = rb.op
		info.Config["last-rebalance-slots-moved"] = strconv.Itoa(rb.slots)
		info.Config["last-rebalance-keys-moved"] = strconv.FormatInt(rb.keys, 10)
		info.Config["last-rebalance-ms"] = strconv.FormatInt(rb.duration.Milliseconds(), 10)
		info.Config["rebalance-slots-moved-total"] = strconv.Itoa(rb.totalSlots)
	}
	return info, nil
}

// NewClient implements drivers.Cluster: a go-redis ClusterClient seeded
// with every member's published address, whose dialer maps run-network
// addresses to published ones.
func (c *cluster) NewClient(ctx context.Context) (drivers.Client, error) {
	var seeds []string
	for _, n := range c.Members() {
		seeds = append(seeds, n.addr())
	}
	if c.Closed() {
		return nil, errClosed
	}
	cl := newClient(seeds, c.Docker.HostAddr, c.nodeIndexOf)
	if err := c.clients.Track(cl, &cl.tracked); err != nil {
		_ = cl.Close()
		return nil, errClosed
	}
	return cl, nil
}

// NodeRoles implements drivers.Roles: the masters and replicas as the
// first live node that answers sees them, and the master of slot 0 as the
// leader.
func (c *cluster) NodeRoles(ctx context.Context) (map[string][]int, error) {
	ids := c.byID()
	var lastErr error
	for _, n := range c.Live() {
		view, err := c.clusterNodes(ctx, n)
		if err != nil {
			lastErr = err
			continue
		}
		roles := map[string][]int{}
		for _, l := range view {
			m, ok := ids[l.id]
			if !ok || l.failed() {
				continue
			}
			if l.master() {
				roles[roleMaster] = append(roles[roleMaster], m.Index)
				if l.owns(0) {
					roles[roleLeader] = []int{m.Index}
				}
			} else {
				roles[roleReplica] = append(roles[roleReplica], m.Index)
			}
		}
		for _, idx := range roles {
			slices.Sort(idx)
		}
		return roles, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no node is up")
	}
	return nil, fmt.Errorf("redis: roles: %w", lastErr)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
