package riak

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/clientset"
	"github.com/evalrun/evalrun/internal/docker"
)

// entrypointScript configures a node from its hostname and runs Riak in the
// foreground (see entrypoint.sh). Nodes run it through /bin/sh -c, so any
// Riak image with a shell works, ours and the official one alike.
//
//go:embed entrypoint.sh
var entrypointScript string

// Ports and timing.
const (
	pbPort   = "8087"
	httpPort = "8098"
	dataDir  = "/data" // in the container; bind-mounted from the work directory
	// nodeDomain makes hostnames node<i>.riak: Erlang refuses long node
	// names whose host part has no dot.
	nodeDomain = "riak"

	nodeReadyTimeout = 3 * time.Minute  // riak_kv up and PB answering
	stopGrace        = 60 * time.Second // SIGTERM (init:stop), then SIGKILL
	adminTimeout     = 60 * time.Second // one admin command, bounded inside the container too
	formTimeout      = 15 * time.Minute // joins committed and ownership handed off
	pollEvery        = 2 * time.Second
)

// nodeState is what the driver did to a node last.
type nodeState int

const (
	stateUp nodeState = iota
	stateDown
	statePaused
	stateLeaving // leave committed; the node still runs until its data moved
	stateRemoved
)

// node is one Riak node (container node<index>, Erlang node riak@node<index>).
type node struct {
	index int
	name  string // hostname: node3
	dn    *docker.Node
	data  string // host directory bind-mounted at /data
	state nodeState
}

// riakName is the Erlang node name: riak@<hostname>, the hostname being
// node<i>.riak (Erlang long names want a dot; Docker resolves the name on
// every network of the node).
func (n *node) riakName() string { return riakNodeName(n.index) }

func riakNodeName(index int) string { return "riak@node" + strconv.Itoa(index) + "." + nodeDomain }
func (n *node) pbAddr() string      { return n.dn.Addr(pbPort) }

// cluster is a running Riak cluster on the docker provider.
type cluster struct {
	e       *docker.Engine
	dc      *docker.Cluster
	runID   string
	opts    options
	image   string
	imageID string
	workDir string
	cookie  string
	logf    func(format string, args ...any)

	opMu sync.Mutex // serialises membership changes and backups

	mu         sync.Mutex
	nodes      []*node // by index-1, removed ones included
	clients    clientset.Set[*client]
	closed     bool
	adminStyle adminStyle // resolved: adminRiak3 or adminRiak2
	dbVersion  string
	planned    int       // partitions the last membership change moves (from its plan)
	lastView   time.Time // the last Settled poll (pace)
}

var (
	_ drivers.Cluster         = (*cluster)(nil)
	_ drivers.NodeController  = (*cluster)(nil)
	_ drivers.Pauser          = (*cluster)(nil)
	_ drivers.Partitioner     = (*cluster)(nil)
	_ drivers.Membership      = (*cluster)(nil)
	_ drivers.Leader          = (*cluster)(nil)
	_ drivers.BackupRestorer  = (*cluster)(nil)
	_ drivers.HandoffReporter = (*cluster)(nil)
)

var errClosed = errors.New("riak: cluster is closed")

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func noLog(string, ...any) {}

// newCluster connects to Docker, resolves the image and creates the run's
// networks; it starts no node.
func newCluster(ctx context.Context, spec drivers.ClusterSpec, opts options) (*cluster, error) {
	if spec.WorkDir == "" {
		return nil, errors.New("riak: no work directory (ClusterSpec.WorkDir)")
	}
	logf := spec.Logf
	if logf == nil {
		logf = noLog
	}
	e, err := docker.ConnectSwept(ctx, logf, spec.Swept)
	if err != nil {
		return nil, fmt.Errorf("riak: %w", err)
	}
	ref, id, err := resolveImage(ctx, e, spec.Image, logf)
	if err != nil {
		return nil, err
	}
	runID := docker.RunIDFrom(spec.RunID, "riak")
	dc, err := e.NewCluster(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("riak: %w", err)
	}
	return &cluster{e: e, dc: dc, runID: runID, opts: opts, image: ref, imageID: id, workDir: spec.WorkDir,
		cookie: "evalrun-" + randomHex(8), logf: logf}, nil
}

func startCluster(ctx context.Context, spec drivers.ClusterSpec) (drivers.Cluster, error) {
	opts, err := parseOptions(spec.Options)
	if err != nil {
		return nil, err
	}
	if spec.Nodes < 1 || spec.Nodes > maxNodes {
		return nil, fmt.Errorf("riak: nodes: %d; want 1 to %d", spec.Nodes, maxNodes)
	}
	c, err := newCluster(ctx, spec, opts)
	if err != nil {
		return nil, err
	}
	if err := c.form(ctx, spec.Nodes); err != nil {
		c.closeAfterFailure(ctx)
		return nil, err
	}
	return c, nil
}

// closeAfterFailure removes everything after a failed start, with a
// deadline of its own (ctx may be what failed).
func (c *cluster) closeAfterFailure(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), docker.CloseTimeout+5*time.Second)
	defer cancel()
	if err := c.Close(cctx); err != nil {
		c.logf("riak: cleanup after a failed start: %v", err)
	}
}

// nodeSpec is the container of node name with its data in hostData.
func (c *cluster) nodeSpec(name, hostData string) docker.NodeSpec {
	env := []string{
		"EVALRUN_RIAK_COOKIE=" + c.cookie,
		"EVALRUN_RIAK_DATA=" + dataDir,
		"EVALRUN_RIAK_RING_SIZE=" + strconv.Itoa(c.opts.ringSize),
		"EVALRUN_RIAK_BACKEND=" + c.opts.backend,
	}
	if c.opts.transferLimit > 0 {
		env = append(env, "EVALRUN_RIAK_TRANSFER_LIMIT="+strconv.Itoa(c.opts.transferLimit))
	}
	if len(c.opts.conf) > 0 {
		lines := make([]string, len(c.opts.conf))
		for i, cs := range c.opts.conf {
			lines[i] = cs.String()
		}
		env = append(env, "EVALRUN_RIAK_CONF="+strings.Join(lines, "\n"))
	}
	if c.opts.inactivity > 0 {
		// not in riak.conf's schema: an application setting on the VM's
		// command line, which erlexec takes from ERL_AFLAGS
		env = append(env, fmt.Sprintf("ERL_AFLAGS=-riak_core vnode_inactivity_timeout %d", c.opts.inactivity.Milliseconds()))
	}
	return docker.NodeSpec{
		Name:         name,
		Domain:       nodeDomain,
		Image:        c.image,
		Init:         true, // reaps the epmd daemons the Erlang VM starts
		Entrypoint:   []string{"/bin/sh", "-c", entrypointScript, "evalrun-riak"},
		Cmd:          []string{},
		Env:          env,
		Ports:        []string{pbPort + "/tcp", httpPort + "/tcp"},
		Binds:        []string{hostData + ":" + dataDir},
		Ready:        c.ready,
		ReadyTimeout: nodeReadyTimeout,
		StopGrace:    stopGrace,
	}
}

// startNode creates node<index> on hostData (created if missing) and waits
// until riak_kv serves on it.
func (c *cluster) startNode(ctx context.Context, index int, hostData string) (*node, error) {
	name := "node" + strconv.Itoa(index)
	if err := os.MkdirAll(hostData, 0o755); err != nil {
		return nil, fmt.Errorf("riak: data directory of %s: %w", name, err)
	}
	dn, err := c.dc.StartNode(ctx, c.nodeSpec(name, hostData))
	if err != nil {
		return nil, fmt.Errorf("riak: %w", err)
	}
	return &node{index: index, name: name, dn: dn, data: hostData}, nil
}

// startNodes starts nodes with the given indexes in parallel, their data
// in dataOf(index), and adds them to the cluster in index order.
func (c *cluster) startNodes(ctx context.Context, indexes []int, dataOf func(int) string) ([]*node, error) {
	out := make([]*node, len(indexes))
	errs := make([]error, len(indexes))
	var wg sync.WaitGroup
	for i, idx := range indexes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = c.startNode(ctx, idx, dataOf(idx))
		}()
	}
	wg.Wait()
	c.mu.Lock()
	for _, n := range out {
		if n != nil {
			c.nodes = append(c.nodes, n)
		}
	}
	c.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *cluster) nodeData(index int) string {
	return filepath.Join(c.workDir, "node"+strconv.Itoa(index))
}

// form starts n nodes, joins nodes 2..n to node1, commits the plan, sets
// up the bucket (type) and waits until the cluster settles.
func (c *cluster) form(ctx context.Context, n int) error {
	t0 := time.Now()
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i + 1
	}
	ns, err := c.startNodes(ctx, idx, c.nodeData)
	if err != nil {
		return err
	}
	if err := c.detectAdmin(ctx, ns[0]); err != nil {
		return err
	}
	c.logf("riak: %d nodes up in %s (image %s, %s)", n, time.Since(t0).Round(time.Millisecond), c.image, c.adminStyle)
	if n > 1 {
		t1 := time.Now()
		for _, m := range ns[1:] {
			if err := c.stage(ctx, m, "join", ns[0].riakName()); err != nil {
				return err
			}
		}
		if err := c.planAndCommit(ctx, ns[0]); err != nil {
			return err
		}
		if err := c.waitSettled(ctx, formTimeout); err != nil {
			return fmt.Errorf("riak: forming the cluster: %w", err)
		}
		c.logf("riak: %d nodes joined and settled in %s", n, time.Since(t1).Round(time.Millisecond))
	}
	if err := c.setupBucket(ctx, ns[0]); err != nil {
		return err
	}
	return nil
}

// waitSettled polls Settled until it holds or limit passes.
func (c *cluster) waitSettled(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	last := ""
	for {
		ok, detail, err := c.Settled(ctx)
		if err != nil {
			detail = err.Error()
		}
		if ok {
			return nil
		}
		if detail != last {
			c.logf("riak: waiting to settle: %s", detail)
			last = detail
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not settled after %s: %s", limit, last)
		case <-time.After(pollEvery):
		}
	}
}

// node returns the node with this index, unless it was removed.
func (c *cluster) node(index int) (*node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errClosed
	}
	if index < 1 || index > len(c.nodes) {
		return nil, fmt.Errorf("riak: no node %d (nodes are 1..%d)", index, len(c.nodes))
	}
	n := c.nodes[index-1]
	if n.state == stateRemoved {
		return nil, fmt.Errorf("riak: node %d was removed", index)
	}
	return n, nil
}

func (c *cluster) setState(n *node, s nodeState) {
	c.mu.Lock()
	n.state = s
	c.mu.Unlock()
}

// liveNodes are the members that are up (not leaving, down or paused), in index order.
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

// memberNodes are the nodes not removed (up, down, paused or leaving).
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
			if v, err := c.serverVersion(ctx, n); err == nil && v != "" {
				version = v
				c.mu.Lock()
				c.dbVersion = v
				c.mu.Unlock()
				break
			}
		}
	}
	info := drivers.ClusterInfo{DB: "riak", DBVersion: version, Image: c.image, ImageID: c.imageID, Config: c.opts.config()}
	c.mu.Lock()
	defer c.mu.Unlock()
	info.Config["admin"] = string(c.adminStyle)
	info.Config["backup-method"] = "rolling cold copy of each node's data directory"
	for _, n := range c.nodes {
		if n.state == stateRemoved {
			continue
		}
		info.Nodes = append(info.Nodes, drivers.NodeInfo{Index: n.index, Name: n.riakName(), Address: n.pbAddr(), Up: n.state == stateUp})
	}
	return info, nil
}

// Close implements drivers.Cluster: it closes the clients and removes every
// container and network of the run. It is idempotent.
func (c *cluster) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	_ = c.clients.CloseAll(clientset.Closer[*client])
	if err := c.dc.Close(ctx); err != nil {
		return fmt.Errorf("riak: %w", err)
	}
	return nil
}

// KillNode implements drivers.NodeController (SIGKILL to the Erlang VM).
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

// StopNode implements drivers.NodeController: SIGTERM, which the Erlang VM
// turns into init:stop(), an orderly shutdown of Riak.
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
// on its data and the call returns once riak_kv serves. Hinted handoff back
// to it goes on afterwards (see Handoff).
func (c *cluster) StartNode(ctx context.Context, index int) error {
	n, err := c.node(index)
	if err != nil {
		return err
	}
	if err := n.dn.Start(ctx); err != nil {
		return fmt.Errorf("riak: %w", err)
	}
	c.setState(n, stateUp)
	return nil
}

// PauseNode implements drivers.Pauser.
func (c *cluster) PauseNode(ctx context.Context, index int) error {
	n, err := c.node(index)
	if err != nil {
		return err
	}
	if err := n.dn.Pause(ctx); err != nil {
		return err
	}
	c.setState(n, statePaused)
	return nil
}

// ResumeNode implements drivers.Pauser.
func (c *cluster) ResumeNode(ctx context.Context, index int) error {
	n, err := c.node(index)
	if err != nil {
		return err
	}
	if err := n.dn.Unpause(ctx); err != nil {
		return err
	}
	c.setState(n, stateUp)
	return nil
}

// Partition implements drivers.Partitioner. Riak nodes find each other by
// name (riak@node2), which Docker resolves on each group's network, so the
// nodes of a group keep talking to each other.
func (c *cluster) Partition(ctx context.Context, groups [][]int) error {
	var dgroups [][]*docker.Node
	for _, g := range groups {
		var dg []*docker.Node
		for _, idx := range g {
			n, err := c.node(idx)
			if err != nil {
				return err
			}
			dg = append(dg, n.dn)
		}
		dgroups = append(dgroups, dg)
	}
	if err := c.dc.Partition(ctx, dgroups); err != nil {
		return fmt.Errorf("riak: %w", err)
	}
	return nil
}

// Heal implements drivers.Partitioner.
func (c *cluster) Heal(ctx context.Context) error {
	if err := c.dc.Heal(ctx); err != nil {
		return fmt.Errorf("riak: %w", err)
	}
	return nil
}

// LeaderIndex implements drivers.Leader. Riak has no leader for data; it
// names the claimant, the node that coordinates ring changes, which is the
// closest thing (a "kill: leader" step kills the claimant).
func (c *cluster) LeaderIndex(ctx context.Context) (int, error) {
	var lastErr error
	for _, n := range c.liveNodes() {
		out, err := c.adminOK(ctx, n, "ring-status")
		if err != nil {
			lastErr = err
			continue
		}
		rs, err := ParseRingStatus(out)
		if err != nil {
			lastErr = err
			continue
		}
		if rs.Claimant == "" {
			return 0, errors.New("riak: the ring names no claimant")
		}
		for _, m := range c.memberNodes() {
			if m.riakName() == rs.Claimant {
				return m.index, nil
			}
		}
		return 0, fmt.Errorf("riak: the claimant %s is not a node of this cluster", rs.Claimant)
	}
	if lastErr == nil {
		lastErr = errors.New("no node is up")
	}
	return 0, fmt.Errorf("riak: find the claimant: %w", lastErr)
}
