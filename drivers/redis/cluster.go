package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/clientset"
	"github.com/evalrun/evalrun/internal/docker"
)

// Timing of cluster operations.
const (
	redisPort        = "6379"
	nodeReadyTimeout = 60 * time.Second // PING answered (an RDB may be loading)
	stopGrace        = 15 * time.Second // SIGTERM, then SIGKILL
	formTimeout      = 90 * time.Second // until every node reports cluster_state:ok
)

// nodeState is what the driver did to a node last.
type nodeState int

const (
	stateUp nodeState = iota
	stateDown
	statePaused
	stateRemoved
)

func (s nodeState) String() string {
	switch s {
	case stateUp:
		return "up"
	case stateDown:
		return "down"
	case statePaused:
		return "paused"
	case stateRemoved:
		return "removed"
	}
	return "?"
}

// node is one Redis server (container node<index>).
type node struct {
	index int
	name  string
	dn    *docker.Node
	id    string // Redis Cluster node ID; set once known, stable (nodes.conf)
	state nodeState
}

func (n *node) addr() string { return n.dn.Addr(redisPort) }

// busAddr is the address other nodes (and redis-cli inside a container) use.
func (n *node) busAddr() string { return n.dn.IP() + ":" + redisPort }

// cluster is a running Redis Cluster on the docker provider.
type cluster struct {
	e       *docker.Engine
	dc      *docker.Cluster
	runID   string
	opts    options
	image   string
	imageID string
	logf    func(format string, args ...any)

	opMu sync.Mutex // serialises membership changes, backups and restores

	mu        sync.Mutex
	nodes     []*node // by index-1, removed ones included
	clients   clientset.Set[*client]
	closed    bool
	dbVersion string
	restores  int
	lastMove  rebalanceStats
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
	_ drivers.Cluster        = (*cluster)(nil)
	_ drivers.NodeController = (*cluster)(nil)
	_ drivers.Pauser         = (*cluster)(nil)
	_ drivers.Partitioner    = (*cluster)(nil)
	_ drivers.Membership     = (*cluster)(nil)
	_ drivers.Leader         = (*cluster)(nil)
	_ drivers.BackupRestorer = (*cluster)(nil)
)

var errClosed = errors.New("redis: cluster is closed")

// runIDFor makes a valid docker run id of want (or a random one).
func runIDFor(want string) string { return docker.RunIDFrom(want, "redis") }

func noLog(string, ...any) {}

// connect connects to Docker and, unless the caller did, removes what
// crashed runs left behind.
func connect(ctx context.Context, logf func(string, ...any), swept bool) (*docker.Engine, error) {
	e, err := docker.ConnectSwept(ctx, logf, swept)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	return e, nil
}

func startCluster(ctx context.Context, spec drivers.ClusterSpec) (drivers.Cluster, error) {
	opts, err := parseOptions(spec.Options)
	if err != nil {
		return nil, err
	}
	if spec.Nodes < 1 {
		return nil, fmt.Errorf("redis: a cluster needs at least 1 master (nodes: %d)", spec.Nodes)
	}
	if total := spec.Nodes * (1 + opts.replicas); total > maxNodes {
		return nil, fmt.Errorf("redis: %d masters with %d replicas each is %d nodes; at most %d", spec.Nodes, opts.replicas, total, maxNodes)
	}
	logf := spec.Logf
	if logf == nil {
		logf = noLog
	}
	e, err := connect(ctx, logf, spec.Swept)
	if err != nil {
		return nil, err
	}
	ref, id, err := resolveImage(ctx, e, spec.Image)
	if err != nil {
		return nil, err
	}
	c, err := newDockerCluster(ctx, e, runIDFor(spec.RunID), opts, ref, id, logf)
	if err != nil {
		return nil, err
	}
	if err := c.form(ctx, spec.Nodes); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), docker.CloseTimeout+5*time.Second)
		defer cancel()
		if cerr := c.Close(cctx); cerr != nil {
			logf("redis: cleanup after a failed start: %v", cerr)
		}
		return nil, err
	}
	return c, nil
}

func newDockerCluster(ctx context.Context, e *docker.Engine, runID string, opts options, ref, id string, logf func(string, ...any)) (*cluster, error) {
	dc, err := e.NewCluster(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	return &cluster{e: e, dc: dc, runID: runID, opts: opts, image: ref, imageID: id, logf: logf}, nil
}

// form starts masters*(1+replicas) nodes and makes them a cluster.
func (c *cluster) form(ctx context.Context, masters int) error {
	t0 := time.Now()
	total := masters * (1 + c.opts.replicas)
	ns, err := c.startNodes(ctx, make([]string, total))
	if err != nil {
		return err
	}
	c.logf("redis: %d nodes started in %s (image %s)", total, time.Since(t0).Round(time.Millisecond), c.image)
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
	c.logf("redis: cluster of %d masters and %d replicas formed in %s", masters, total-masters, time.Since(t1).Round(time.Millisecond))
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
		Image:        c.image,
		Entrypoint:   nodeEntrypoint(),
		Cmd:          cmd,
		Ports:        []string{redisPort + "/tcp"},
		Ready:        pingReady,
		ReadyTimeout: nodeReadyTimeout,
		StopGrace:    stopGrace,
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
// order; restores[i] is the RDB file of the i-th or ""). Docker serialises
// much of a container start, but the waits overlap.
func (c *cluster) startNodes(ctx context.Context, restores []string) ([]*node, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errClosed
	}
	ns := make([]*node, len(restores))
	for i := range ns {
		idx := len(c.nodes) + 1
		ns[i] = &node{index: idx, name: "node" + strconv.Itoa(idx), state: stateRemoved}
		c.nodes = append(c.nodes, ns[i]) // reserves the index; removed until it runs
	}
	c.mu.Unlock()
	errs := make([]error, len(ns))
	var wg sync.WaitGroup
	for i, n := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.launch(ctx, n, restores[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return ns, nil
}

// launch starts the container of a reserved node and learns its node ID.
func (c *cluster) launch(ctx context.Context, n *node, restore string) error {
	dn, err := c.dc.StartNode(ctx, c.nodeSpec(n.name, restore))
	if err != nil {
		return fmt.Errorf("redis: start %s: %w", n.name, err)
	}
	c.mu.Lock()
	n.dn = dn
	c.mu.Unlock()
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
		return fmt.Errorf("redis: %s: CLUSTER MYID: %w", n.name, err)
	}
	c.mu.Lock()
	n.id, n.state = id, stateUp
	c.mu.Unlock()
	return nil
}

// announce makes the node announce its run-network IP in the cluster bus
// (cluster-announce-ip). The IP is only known once docker started the
// container, so it is set at run time, after every (re)start.
func (c *cluster) announce(ctx context.Context, n *node) error {
	err := c.withAdmin(ctx, n, func(ctx context.Context, cl *goredis.Client) error {
		return cl.ConfigSet(ctx, "cluster-announce-ip", n.dn.IP()).Err()
	})
	if err != nil {
		return fmt.Errorf("redis: %s: set cluster-announce-ip: %w", n.name, err)
	}
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
	live := c.liveNodes()
	for _, n := range live {
		info, err := c.clusterInfo(ctx, n)
		if err != nil {
			return false, fmt.Sprintf("%s: %v", n.name, err), nil
		}
		if info["cluster_state"] != "ok" || info["cluster_slots_assigned"] != "16384" || info["cluster_slots_ok"] != "16384" {
			return false, fmt.Sprintf("%s: cluster_state:%s, %s slots assigned, %s ok", n.name, info["cluster_state"], info["cluster_slots_assigned"], info["cluster_slots_ok"]), nil
		}
		if k, _ := strconv.Atoi(info["cluster_known_nodes"]); k != len(c.memberNodes()) {
			return false, fmt.Sprintf("%s knows %d nodes, the cluster has %d", n.name, k, len(c.memberNodes())), nil
		}
	}
	return true, "", nil
}

// liveNodes are the nodes that run and are not frozen, in index order.
func (c *cluster) liveNodes() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*node
	for _, n := range c.nodes {
		if n.state == stateUp {
			out = append(out, n)
		}
	}
	return out
}

// memberNodes are the nodes that were not removed (up, down or paused).
func (c *cluster) memberNodes() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*node
	for _, n := range c.nodes {
		if n.state != stateRemoved {
			out = append(out, n)
		}
	}
	return out
}

// node returns the member with this index.
func (c *cluster) node(index int) (*node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errClosed
	}
	if index < 1 || index > len(c.nodes) {
		return nil, fmt.Errorf("redis: no node %d (nodes are 1..%d)", index, len(c.nodes))
	}
	n := c.nodes[index-1]
	if n.state == stateRemoved {
		return nil, fmt.Errorf("redis: node %d was removed", index)
	}
	return n, nil
}

func (c *cluster) setState(n *node, s nodeState) {
	c.mu.Lock()
	n.state = s
	c.mu.Unlock()
}

func (c *cluster) stateOf(n *node) nodeState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return n.state
}

// byID maps Redis node IDs to nodes (removed ones included).
func (c *cluster) byID() map[string]*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]*node, len(c.nodes))
	for _, n := range c.nodes {
		if n.id != "" {
			m[n.id] = n
		}
	}
	return m
}

// Info implements drivers.Cluster.
func (c *cluster) Info(ctx context.Context) (drivers.ClusterInfo, error) {
	c.mu.Lock()
	closed, version := c.closed, c.dbVersion
	c.mu.Unlock()
	if closed {
		return drivers.ClusterInfo{}, errClosed
	}
	if version == "" {
		for _, n := range c.liveNodes() {
			v, err := c.serverVersion(ctx, n)
			if err == nil {
				version = v
				c.mu.Lock()
				c.dbVersion = v
				c.mu.Unlock()
				break
			}
		}
	}
	info := drivers.ClusterInfo{DB: "redis", DBVersion: version, Image: c.image, ImageID: c.imageID, Config: c.opts.config()}
	info.Config["image"] = c.image
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.state == stateRemoved {
			continue
		}
		info.Nodes = append(info.Nodes, drivers.NodeInfo{Index: n.index, Name: n.name, Address: n.addr(), Up: n.state == stateUp})
	}
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
	for _, n := range c.memberNodes() {
		seeds = append(seeds, n.addr())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errClosed
	}
	cl := newClient(seeds, c.dc.HostAddr)
	cl.onClose = c.clients.Remove
	if err := c.clients.Add(cl); err != nil {
		_ = cl.Close()
		return nil, errClosed
	}
	return cl, nil
}

// Close implements drivers.Cluster: it closes the clients and removes every
// container and network of the run. It is idempotent.
func (c *cluster) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	_ = c.clients.CloseAll(clientset.Closer[*client])
	if err := c.dc.Close(ctx); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// KillNode implements drivers.NodeController (SIGKILL).
func (c *cluster) KillNode(ctx context.Context, index int) error {
	n, err := c.node(index)
	if err != nil {
		return err
	}
	if err := n.dn.Kill(ctx); err != nil {
		return err
	}
	c.setState(n, stateDown)
	return nil
}

// StopNode implements drivers.NodeController (SIGTERM: Redis shuts down
// cleanly, waiting a little for its replicas to catch up).
func (c *cluster) StopNode(ctx context.Context, index int) error {
	n, err := c.node(index)
	if err != nil {
		return err
	}
	if err := n.dn.Stop(ctx, stopGrace); err != nil {
		return err
	}
	c.setState(n, stateDown)
	return nil
}

// StartNode implements drivers.NodeController: the same container starts
// again (same data, IP and host port) and the call returns once it answers
// PING. A former master rejoins as a replica of the master that replaced it.
func (c *cluster) StartNode(ctx context.Context, index int) error {
	n, err := c.node(index)
	if err != nil {
		return err
	}
	if err := n.dn.Start(ctx); err != nil {
		return err
	}
	if err := c.announce(ctx, n); err != nil {
		return err
	}
	c.setState(n, stateUp)
	return nil
}

// PauseNode implements drivers.Pauser (docker pause).
func (c *cluster) PauseNode(ctx context.Context, index int) error {
	n, err := c.node(index)
	if err != nil {
		return err
	}
	if c.stateOf(n) == stateDown {
		return fmt.Errorf("redis: cannot pause %s: it is down", n.name)
	}
	if err := n.dn.Pause(ctx); err != nil {
		return err
	}
	c.setState(n, statePaused)
	return nil
}

// ResumeNode implements drivers.Pauser (docker unpause).
func (c *cluster) ResumeNode(ctx context.Context, index int) error {
	n, err := c.node(index)
	if err != nil {
		return err
	}
	if err := n.dn.Unpause(ctx); err != nil {
		return err
	}
	if c.stateOf(n) == statePaused {
		c.setState(n, stateUp)
	}
	return nil
}

// Partition implements drivers.Partitioner. Nodes in no group join the
// first group. Redis gossips IPs, and a node cut off the run network cannot
// reach anyone's run-network IP (its group mates included), so the largest
// group (ties: the earlier one) stays on the run network: docker.Cluster
// keeps its first group there.
func (c *cluster) Partition(ctx context.Context, groups [][]int) error {
	plan, err := c.partitionPlan(groups)
	if err != nil {
		return err
	}
	dgroups := make([][]*docker.Node, len(plan))
	for i, g := range plan {
		for _, n := range g {
			dgroups[i] = append(dgroups[i], n.dn)
		}
	}
	if err := c.dc.Partition(ctx, dgroups); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// partitionPlan resolves the groups to nodes, adds the nodes in no group to
// the first group and puts the largest group first.
func (c *cluster) partitionPlan(groups [][]int) ([][]*node, error) {
	if len(groups) == 0 {
		return nil, errors.New("redis: partition: no groups")
	}
	members := c.memberNodes()
	seen := map[int]bool{}
	plan := make([][]*node, len(groups))
	for gi, g := range groups {
		for _, idx := range g {
			n, err := c.node(idx)
			if err != nil {
				return nil, fmt.Errorf("redis: partition: %w", err)
			}
			if seen[idx] {
				return nil, fmt.Errorf("redis: partition: node %d is in two groups", idx)
			}
			seen[idx] = true
			plan[gi] = append(plan[gi], n)
		}
	}
	for _, n := range members {
		if !seen[n.index] {
			plan[0] = append(plan[0], n)
		}
	}
	return largestFirst(plan), nil
}

// largestFirst moves the largest group (the earliest of equals) to the
// front, keeping the others in order.
func largestFirst[T any](groups [][]T) [][]T {
	best := 0
	for i, g := range groups {
		if len(g) > len(groups[best]) {
			best = i
		}
	}
	out := make([][]T, 0, len(groups))
	out = append(out, groups[best])
	for i, g := range groups {
		if i != best {
			out = append(out, g)
		}
	}
	return out
}

// Heal implements drivers.Partitioner.
func (c *cluster) Heal(ctx context.Context) error {
	if err := c.dc.Heal(ctx); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// LeaderIndex implements drivers.Leader: the node that is master of slot 0,
// as the first live node that answers sees it.
func (c *cluster) LeaderIndex(ctx context.Context) (int, error) {
	ids := c.byID()
	var lastErr error
	for _, n := range c.liveNodes() {
		view, err := c.clusterNodes(ctx, n)
		if err != nil {
			lastErr = err
			continue
		}
		for _, l := range view {
			if l.master() && !l.failed() && l.owns(0) {
				if m, ok := ids[l.id]; ok {
					return m.index, nil
				}
				return 0, fmt.Errorf("redis: slot 0 is served by %s (%s), which is not a node of this cluster", l.id, l.addr)
			}
		}
		lastErr = fmt.Errorf("%s sees no live master for slot 0", n.name)
	}
	if lastErr == nil {
		lastErr = errors.New("no node is up")
	}
	return 0, fmt.Errorf("redis: leader: %w", lastErr)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
