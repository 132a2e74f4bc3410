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
	"github.com/evalrun/evalrun/drivers/riak/admin"
	"github.com/evalrun/evalrun/internal/clientset"
	"github.com/evalrun/evalrun/internal/docker"
	"github.com/evalrun/evalrun/internal/driverkit"
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

// node is one Riak node (container node<index>, Erlang node riak@node<index>).
type node struct {
	driverkit.Node
	data string // host directory bind-mounted at /data
}

// riakName is the Erlang node name: riak@<hostname>, the hostname being
// node<i>.riak (Erlang long names want a dot; Docker resolves the name on
// every network of the node).
func (n *node) riakName() string { return riakNodeName(n.Index) }

func riakNodeName(index int) string { return "riak@node" + strconv.Itoa(index) + "." + nodeDomain }
func (n *node) pbAddr() string      { return n.DN.Addr(pbPort) }

// cluster is a running Riak cluster on the docker provider.
type cluster struct {
	*driverkit.Base[*node]
	opts    options
	workDir string
	cookie  string

	mu         sync.Mutex
	clients    clientset.Set[*client]
	adminStyle adminStyle // resolved: adminRiak3 or adminRiak2
	planned    int        // partitions the last membership change moves (from its plan)
	lastView   time.Time  // the last Settled poll (pace)

	lastHandoffView clusterView // the last view Handoff used (recentView)
	lastHandoffAt   time.Time
}

var (
	_ driverkit.DockerCluster = (*cluster)(nil)
	_ drivers.Membership      = (*cluster)(nil)
	_ drivers.Settler         = (*cluster)(nil)
	_ drivers.Roles           = (*cluster)(nil)
	_ drivers.BackupRestorer  = (*cluster)(nil)
	_ drivers.HandoffReporter = (*cluster)(nil)
	_ drivers.GaugeReporter   = (*cluster)(nil)
)

var errClosed = fmt.Errorf("riak: %w", driverkit.ErrClosed)

// Role names: Riak has no leader for data; the claimant coordinates ring
// changes, and "leader" names it too (kill: leader kills the claimant).
const (
	roleClaimant = "claimant"
	roleLeader   = "leader"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// topology checks the size of a cluster.
func topology(nodes int, _ options) (drivers.Topology, error) {
	if nodes < 1 || nodes > maxNodes {
		return drivers.Topology{}, fmt.Errorf("riak: nodes: %d; want 1 to %d", nodes, maxNodes)
	}
	return drivers.Topology{Nodes: nodes, Roles: []string{roleClaimant, roleLeader}}, nil
}

// open connects to Docker, resolves the image and creates the run's
// networks; it starts no node.
func open(ctx context.Context, spec drivers.ClusterSpec, opts options) (*cluster, error) {
	if spec.WorkDir == "" {
		return nil, errors.New("riak: no work directory (ClusterSpec.WorkDir)")
	}
	base, err := driverkit.Open[*node](ctx, "riak", spec, imageChoice())
	if err != nil {
		return nil, err
	}
	c := &cluster{Base: base, opts: opts, workDir: spec.WorkDir, cookie: "evalrun-" + randomHex(8)}
	base.StopGrace = stopGrace
	base.BeforeClose = func() { _ = c.clients.CloseAll(clientset.Closer[*client]) }
	return c, nil
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
		Image:        c.Image,
		Init:         true, // reaps the epmd daemons the Erlang VM starts
		Entrypoint:   docker.ShellEntrypoint("evalrun-riak", entrypointScript),
		Cmd:          []string{},
		Env:          env,
		Ports:        []string{pbPort + "/tcp", httpPort + "/tcp"},
		Binds:        []string{hostData + ":" + dataDir},
		Ready:        c.ready,
		ReadyTimeout: nodeReadyTimeout,
		StopGrace:    stopGrace,
		Resources:    c.ContainerResources(name),
	}
}

// startNodes starts nodes with the given indexes in parallel, their data
// in dataOf(index) (created if missing), and returns once riak_kv serves
// on each. Indexes below them that start no node stay removed.
func (c *cluster) startNodes(ctx context.Context, indexes []int, dataOf func(int) string) ([]*node, error) {
	ns, err := c.Reserve(indexes, func(int) *node { return &node{} })
	if err != nil {
		return nil, err
	}
	err = driverkit.Launch(ctx, ns, func(ctx context.Context, n *node) error {
		n.data = dataOf(n.Index)
		if err := os.MkdirAll(n.data, 0o755); err != nil {
			return fmt.Errorf("riak: data directory of %s: %w", n.Name, err)
		}
		dn, err := c.Docker.StartNode(ctx, c.nodeSpec(n.Name, n.data))
		if err != nil {
			return fmt.Errorf("riak: %w", err)
		}
		c.Attach(n, dn)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ns, nil
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
	c.Logf("riak: %d nodes up in %s (image %s, %s)", n, time.Since(t0).Round(time.Millisecond), c.Image, c.adminStyle)
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
		c.Logf("riak: %d nodes joined and settled in %s", n, time.Since(t1).Round(time.Millisecond))
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
			c.Logf("riak: waiting to settle: %s", detail)
			last = detail
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not settled after %s: %s", limit, last)
		case <-time.After(pollEvery):
		}
	}
}

// Info implements drivers.Cluster.
func (c *cluster) Info(ctx context.Context) (drivers.ClusterInfo, error) {
	if c.Closed() {
		return drivers.ClusterInfo{}, errClosed
	}
	version, _ := c.DBVersion(ctx, c.serverVersion) // the report says when it is unknown
	info := c.ClusterInfo("riak", version, c.opts.config())
	info.Nodes = c.NodeInfos((*node).riakName, (*node).pbAddr)
	c.mu.Lock()
	defer c.mu.Unlock()
	info.Config["admin"] = string(c.adminStyle)
	info.Config["backup-method"] = "rolling cold copy of each node's data directory"
	return info, nil
}

// NodeRoles implements drivers.Roles: the claimant, as the first live node
// that answers ring-status names it, plays claimant and leader.
func (c *cluster) NodeRoles(ctx context.Context) (map[string][]int, error) {
	idx, err := c.claimant(ctx)
	if err != nil {
		return nil, err
	}
	return map[string][]int{roleClaimant: {idx}, roleLeader: {idx}}, nil
}

// claimant returns the index of the node that coordinates ring changes.
func (c *cluster) claimant(ctx context.Context) (int, error) {
	var lastErr error
	for _, n := range c.Live() {
		out, err := c.adminOK(ctx, n, "ring-status")
		if err != nil {
			lastErr = err
			continue
		}
		rs, err := admin.ParseRingStatus(out)
		if err != nil {
			lastErr = err
			continue
		}
		if rs.Claimant == "" {
			return 0, errors.New("riak: the ring names no claimant")
		}
		for _, m := range c.Members() {
			if m.riakName() == rs.Claimant {
				return m.Index, nil
			}
		}
		return 0, fmt.Errorf("riak: the claimant %s is not a node of this cluster", rs.Claimant)
	}
	if lastErr == nil {
		lastErr = errors.New("no node is up")
	}
	return 0, fmt.Errorf("riak: find the claimant: %w", lastErr)
}
