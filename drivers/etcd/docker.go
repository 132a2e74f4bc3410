package etcd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/docker"
)

// The docker provider runs every member in a container of its own
// (internal/docker): containers evalrun-<run>-node1…N on the run's
// network, where members reach each other by name (peer URL
// http://nodeI:2380, client URL http://nodeI:2379, so that a partition that
// moves a group to another network keeps name resolution). Only the client
// port 2379 is published, on 127.0.0.1; the harness reaches a member
// through it alone, and the clients it opens know only those published
// endpoints (no endpoint sync: members advertise container names that the
// host cannot resolve).
//
// Data: a member's data directory /var/lib/etcd-data is a bind mount of
// WorkDir/data/nodeI (mode 0700; the container runs as the calling user
// when that is not root, so the files stay removable), not the container's
// writable layer: overlay storage drivers (fuse-overlayfs here) make every
// fsync of the WAL several times slower and cost CPU, which is not what an
// etcd deployment sees. kill/stop/start keep the data (same mount);
// RemoveNode deletes it. Without a WorkDir the data stays in the container.
//
// Restore: before the members of the new cluster start, a one-shot
// container of the same image per member (evalrun-<run>-nodeI-restore, no
// network, labelled like the nodes) runs `etcdutl snapshot restore` (etcd
// 3.5+) or, when the image has no etcdutl, `etcdctl snapshot restore`
// (etcd 3.4, API v3) on the snapshot, mounted read-only from
// WorkDir/restore, into the member's host data directory; the member then
// starts on that data with the plain etcd command. The restore runs no
// shell, so it works with the distroless official image (etcdutl) and the
// Debian one (etcdctl) alike, and etcd itself stays PID 1 of the node.
//
// Bind mounts name host paths: the provider needs a Docker daemon on this
// host (the default unix socket), not a remote DOCKER_HOST.
const (
	dockerClientPort = "2379/tcp"
	dockerDataDir    = "/var/lib/etcd-data"
	// dockerReadyTimeout bounds how long a starting member may take to
	// answer Status through its published port.
	dockerReadyTimeout = 45 * time.Second
	// dockerStopGrace is how long a graceful stop waits before SIGKILL.
	dockerStopGrace = 10 * time.Second
	// leaderStatusTimeout bounds one Status call of LeaderIndex.
	leaderStatusTimeout = time.Second

	restoreMount = "/evalrun-restore"
	restoreSnap  = "snapshot.db"
	// restoreDataMount is where a restore container sees the data root.
	restoreDataMount = "/evalrun-data"
	// restoreTimeout bounds one member's restore container.
	restoreTimeout = 2 * time.Minute
	// dbLabel marks the containers of this driver.
	dbLabel = "evalrun.db"
)

func peerURLOf(name string) string   { return "http://" + name + ":2380" }
func clientURLOf(name string) string { return "http://" + name + ":2379" }

// dockerMember is one member of a docker cluster. Its index and name are
// never reused.
type dockerMember struct {
	index int
	name  string

	// Guarded by dockerCluster.mu.
	node   *docker.Node // nil until started
	id     uint64       // raft member ID, 0 until known
	state  memberState
	paused bool
}

// endpoint is the client URL through the published port ("" before start).
func (m *dockerMember) endpoint() string {
	if m.node == nil {
		return ""
	}
	return "http://" + m.node.Addr(dockerClientPort)
}

// dockerCluster is a cluster of the docker provider.
type dockerCluster struct {
	e       *docker.Engine
	dc      *docker.Cluster
	runID   string
	image   string
	imageID string
	opts    options
	token   string
	logf    func(format string, args ...any)
	// restoreDir is the host directory holding the snapshot to restore
	// the initial members from ("" otherwise).
	restoreDir string
	// dataRoot holds the members' data directories (WorkDir/data); ""
	// keeps the data in the containers.
	dataRoot string

	// ops serialises lifecycle operations (one-slot semaphore); closing is
	// closed when Close begins and cancels the operation in progress.
	ops         chan struct{}
	closing     chan struct{}
	closingOnce sync.Once

	mu       sync.Mutex
	members  []*dockerMember // members[i] has index i+1; removed ones stay
	clients  clientSet       // its own lock
	version  string          // the server version a member reported
	restores int             // clusters restored from this one (run ids)
}

var (
	_ drivers.Cluster        = (*dockerCluster)(nil)
	_ drivers.NodeController = (*dockerCluster)(nil)
	_ drivers.Pauser         = (*dockerCluster)(nil)
	_ drivers.Partitioner    = (*dockerCluster)(nil)
	_ drivers.Membership     = (*dockerCluster)(nil)
	_ drivers.Roles          = (*dockerCluster)(nil)
	_ drivers.Settler        = (*dockerCluster)(nil)
	_ drivers.BackupRestorer = (*dockerCluster)(nil)
)

// startDocker starts a cluster of spec.Nodes members in containers. When
// snapshot is not empty, every member first restores its data directory
// from that file. On error nothing it created is left.
func startDocker(ctx context.Context, spec drivers.ClusterSpec, snapshot string) (*dockerCluster, error) {
	if spec.Nodes < 1 {
		return nil, fmt.Errorf("etcd: a cluster needs at least 1 node (got %d)", spec.Nodes)
	}
	opts, err := parseOptions(spec.Options)
	if err != nil {
		return nil, err
	}
	if spec.RunID == "" {
		return nil, errors.New("etcd: the cluster spec has no run id")
	}
	logf := spec.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	token, err := newToken(spec.RunID)
	if err != nil {
		return nil, err
	}
	c := &dockerCluster{
		runID:   spec.RunID,
		opts:    opts,
		token:   token,
		logf:    logf,
		ops:     make(chan struct{}, 1),
		closing: make(chan struct{}),
	}
	if spec.WorkDir != "" {
		if c.dataRoot, err = filepath.Abs(filepath.Join(spec.WorkDir, "data")); err != nil {
			return nil, fmt.Errorf("etcd: work directory: %w", err)
		}
		if _, err := os.Stat(c.dataRoot); err == nil {
			return nil, fmt.Errorf("etcd: data directory %s already exists (the work directory must be fresh)", c.dataRoot)
		}
		if err := os.MkdirAll(c.dataRoot, 0o755); err != nil {
			return nil, fmt.Errorf("etcd: work directory: %w", err)
		}
	}
	if snapshot != "" {
		if c.dataRoot == "" {
			return nil, errors.New("etcd: restore: the cluster spec has no work directory")
		}
		if c.restoreDir, err = prepareRestoreDir(spec.WorkDir, snapshot); err != nil {
			return nil, err
		}
	}
	c.e, err = docker.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	c.e.Logf = logf
	if c.image, c.imageID, err = resolveImage(ctx, c.e, spec.Image, logf); err != nil {
		return nil, err
	}
	t0 := time.Now()
	c.dc, err = c.e.NewCluster(ctx, spec.RunID)
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	c.logf("etcd: networks of run %s created in %s", spec.RunID, time.Since(t0).Round(time.Millisecond))
	if err := c.startInitial(ctx, spec.Nodes, snapshot != ""); err != nil {
		if cerr := c.dc.Close(context.WithoutCancel(ctx)); cerr != nil {
			logf("etcd: cleaning up after a failed start: %v", cerr)
		}
		return nil, fmt.Errorf("etcd: start cluster of %d members (image %s): %w", spec.Nodes, c.image, err)
	}
	return c, nil
}

// prepareRestoreDir copies the snapshot into workDir/restore, which the
// restore containers mount read-only.
func prepareRestoreDir(workDir, snapshot string) (string, error) {
	if workDir == "" {
		return "", errors.New("etcd: restore: the cluster spec has no work directory")
	}
	dir, err := filepath.Abs(filepath.Join(workDir, "restore"))
	if err != nil {
		return "", fmt.Errorf("etcd: restore: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("etcd: restore: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("etcd: restore: %w", err)
	}
	if err := copyFile(snapshot, filepath.Join(dir, restoreSnap)); err != nil {
		return "", fmt.Errorf("etcd: restore: copy the snapshot: %w", err)
	}
	return dir, nil
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// startInitial starts members 1..n at the same time: a new cluster serves
// no client before a quorum of it runs, and a member is ready only once it
// serves. The first failure cancels the other starts.
func (c *dockerCluster) startInitial(ctx context.Context, n int, restore bool) error {
	names := make([]string, n)
	for i := range n {
		names[i] = "node" + strconv.Itoa(i+1)
		c.members = append(c.members, &dockerMember{index: i + 1, name: names[i], state: stateDown})
	}
	parts := make([]string, n)
	for i, name := range names {
		parts[i] = name + "=" + peerURLOf(name)
	}
	initial := strings.Join(parts, ",")
	state := "new"
	if restore {
		state = "existing" // the restored data directory holds the membership
		if err := c.restoreAll(ctx, initial); err != nil {
			return err
		}
	} else {
		for _, m := range c.members {
			if err := c.makeDataDir(m); err != nil {
				return err
			}
		}
	}
	begin := time.Now()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, m := range c.members {
		wg.Go(func() {
			t0 := time.Now()
			node, err := c.dc.StartNode(sctx, c.nodeSpec(m, initial, state))
			if err != nil {
				errs[i] = err
				cancel()
				return
			}
			c.mu.Lock()
			m.node, m.state = node, stateUp
			c.mu.Unlock()
			c.logf("etcd: %s ready on %s in %s", m.name, node.Addr(dockerClientPort), time.Since(t0).Round(time.Millisecond))
		})
	}
	wg.Wait()
	if err := firstCauses(ctx, errs); err != nil {
		return err
	}
	c.logf("etcd: %d members ready in %s (image %s, %s)", n, time.Since(begin).Round(time.Millisecond), c.image, c.addresses())
	return nil
}

// dataDir is the host directory of m's data ("" without a WorkDir).
func (c *dockerCluster) dataDir(m *dockerMember) string {
	if c.dataRoot == "" {
		return ""
	}
	return filepath.Join(c.dataRoot, m.name)
}

// makeDataDir creates m's (empty) host data directory, mode 0700 as etcd
// wants it.
func (c *dockerCluster) makeDataDir(m *dockerMember) error {
	dir := c.dataDir(m)
	if dir == "" {
		return nil
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("%s: data directory: %w", m.name, err)
	}
	return nil
}

// containerUser is the user members run as: the image's (root) when this
// process is root, else this process's uid:gid, so that the files etcd
// writes into the bind-mounted data directory stay the caller's.
func containerUser() string {
	if uid := os.Getuid(); uid > 0 {
		return strconv.Itoa(uid) + ":" + strconv.Itoa(os.Getgid())
	}
	return ""
}

// nodeSpec is the container of m. state is etcd's --initial-cluster-state.
func (c *dockerCluster) nodeSpec(m *dockerMember, initialCluster, state string) docker.NodeSpec {
	args := []string{
		"--name=" + m.name,
		"--data-dir=" + dockerDataDir,
		"--listen-peer-urls=http://0.0.0.0:2380",
		"--listen-client-urls=http://0.0.0.0:2379",
		"--initial-advertise-peer-urls=" + peerURLOf(m.name),
		"--advertise-client-urls=" + clientURLOf(m.name),
		"--initial-cluster=" + initialCluster,
		"--initial-cluster-state=" + state,
		"--initial-cluster-token=" + c.token,
		"--heartbeat-interval=" + strconv.Itoa(c.opts.heartbeatMs),
		"--election-timeout=" + strconv.Itoa(c.opts.electionMs),
		"--snapshot-count=" + strconv.Itoa(c.opts.snapshotCount),
		"--logger=zap",
	}
	spec := docker.NodeSpec{
		Name:         m.name,
		Image:        c.image,
		Entrypoint:   []string{"etcd"},
		Cmd:          args,
		Ports:        []string{dockerClientPort},
		Labels:       map[string]string{dbLabel: "etcd"},
		Ready:        c.ready(m),
		ReadyTimeout: dockerReadyTimeout,
		StopGrace:    dockerStopGrace,
	}
	if dir := c.dataDir(m); dir != "" {
		spec.Binds = append(spec.Binds, dir+":"+dockerDataDir)
		spec.User = containerUser()
	}
	return spec
}

// ready is the readiness check of m: a Status request through the
// published port (Docker's port proxy accepts connections even when
// nothing listens, so only an answer counts). etcd serves clients once the
// member has joined the cluster and published itself, which needs a
// quorum. It records the member ID and the server version.
func (c *dockerCluster) ready(m *dockerMember) func(ctx context.Context, n *docker.Node) error {
	return func(ctx context.Context, n *docker.Node) error {
		ep := "http://" + n.Addr(dockerClientPort)
		resp, err := statusAt(ctx, ep)
		if err != nil {
			return err
		}
		c.mu.Lock()
		m.id = resp.Header.MemberId
		if resp.Version != "" {
			c.version = resp.Version
		}
		c.mu.Unlock()
		return nil
	}
}

// acquire takes the operation slot. The returned context ends when ctx
// does or when Close begins.
func (c *dockerCluster) acquire(ctx context.Context) (context.Context, func(), error) {
	select {
	case c.ops <- struct{}{}:
	case <-c.closing:
		return nil, nil, errClosed
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	select {
	case <-c.closing:
		<-c.ops
		return nil, nil, errClosed
	default:
	}
	octx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		select {
		case <-c.closing:
			cancel()
		case <-done:
		}
	}()
	return octx, func() {
		close(done)
		cancel()
		<-c.ops
	}, nil
}

// lookup returns the member with index, which must not be removed.
func (c *dockerCluster) lookup(index int) (*dockerMember, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if index < 1 || index > len(c.members) {
		return nil, fmt.Errorf("etcd: no node %d (nodes are 1..%d)", index, len(c.members))
	}
	m := c.members[index-1]
	if m.state == stateRemoved || m.node == nil {
		return nil, fmt.Errorf("etcd: node%d was removed from the cluster", index)
	}
	return m, nil
}

func (c *dockerCluster) addresses() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, m := range c.members {
		if m.state != stateRemoved && m.node != nil {
			parts = append(parts, m.name+"="+m.node.Addr(dockerClientPort))
		}
	}
	return strings.Join(parts, " ")
}

// endpoints returns the published client endpoints of the members that
// are not removed, except skip; live restricts them to members that run
// and are not paused.
func (c *dockerCluster) endpoints(live bool, skip *dockerMember) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var eps []string
	for _, m := range c.members {
		if m == skip || m.state == stateRemoved || m.node == nil || live && (m.state != stateUp || m.paused) {
			continue
		}
		eps = append(eps, m.endpoint())
	}
	return eps
}

// liveMembers returns the members that run and are not paused.
func (c *dockerCluster) liveMembers() []*dockerMember {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ms []*dockerMember
	for _, m := range c.members {
		if m.state == stateUp && !m.paused && m.node != nil {
			ms = append(ms, m)
		}
	}
	return ms
}

// Info implements drivers.Cluster. The version is the one a running
// member reports (Status), e.g. 3.4.23.
func (c *dockerCluster) Info(ctx context.Context) (drivers.ClusterInfo, error) {
	for _, m := range c.liveMembers() {
		sctx, cancel := context.WithTimeout(ctx, leaderStatusTimeout)
		resp, err := statusAt(sctx, c.endpointOf(m))
		cancel()
		if err == nil && resp.Version != "" {
			c.mu.Lock()
			c.version = resp.Version
			c.mu.Unlock()
			break
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg := c.opts.config()
	cfg["image"] = c.image
	cfg["ready-timeout-ms"] = strconv.FormatInt(dockerReadyTimeout.Milliseconds(), 10)
	cfg["stop-grace-ms"] = strconv.FormatInt(dockerStopGrace.Milliseconds(), 10)
	info := drivers.ClusterInfo{DB: "etcd", DBVersion: c.version, Image: c.image, ImageID: c.imageID, Config: cfg}
	for _, m := range c.members {
		if m.state == stateRemoved || m.node == nil {
			continue
		}
		info.Nodes = append(info.Nodes, drivers.NodeInfo{
			Index: m.index, Name: m.name, Address: m.node.Addr(dockerClientPort), Up: m.state == stateUp && !m.paused,
		})
	}
	return info, nil
}

func (c *dockerCluster) endpointOf(m *dockerMember) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return m.endpoint()
}

// NewClient implements drivers.Cluster: a clientv3 client on the published
// endpoints of all members that are not removed (clientv3 balances over
// the connected ones and reconnects to restarted ones). Members added or
// removed later are added to or dropped from its endpoints.
func (c *dockerCluster) NewClient(ctx context.Context) (drivers.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.clients.open(c.endpoints(false, nil))
}

// updateClients points the open clients at the current members.
func (c *dockerCluster) updateClients() {
	if eps := c.endpoints(false, nil); len(eps) > 0 {
		c.clients.setEndpoints(eps)
	}
}

// Close implements drivers.Cluster: it closes the clients NewClient
// opened, asks an operation in progress to stop, and removes every
// container and network of the run (docker.Cluster.Close, bounded). It is
// idempotent.
func (c *dockerCluster) Close(ctx context.Context) error {
	c.closingOnce.Do(func() { close(c.closing) })
	// Wait briefly for the operation in progress to notice.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	held := false
	select {
	case c.ops <- struct{}{}:
		held = true
	case <-wctx.Done():
	}
	cancel()
	if held {
		defer func() { <-c.ops }()
	}
	var errs []error
	if err := c.clients.closeAll(); err != nil {
		errs = append(errs, err)
	}
	if c.dc != nil {
		if err := c.dc.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("etcd: %w", err))
		}
	}
	c.mu.Lock()
	for _, m := range c.members {
		if m.state == stateUp {
			m.state = stateDown
		}
	}
	c.mu.Unlock()
	return errors.Join(errs...)
}

// KillNode implements drivers.NodeController: SIGKILL to etcd (PID 1 of
// the container). It returns once the container is down.
func (c *dockerCluster) KillNode(ctx context.Context, index int) error {
	return c.stopNode(ctx, index, "kill")
}

// StopNode implements drivers.NodeController: SIGTERM, on which etcd stops
// gracefully (a leader hands its leadership over first), SIGKILL after
// dockerStopGrace.
func (c *dockerCluster) StopNode(ctx context.Context, index int) error {
	return c.stopNode(ctx, index, "stop")
}

func (c *dockerCluster) stopNode(ctx context.Context, index int, verb string) error {
	ctx, release, err := c.acquire(ctx)
	if err != nil {
		return fmt.Errorf("etcd: %s node%d: %w", verb, index, err)
	}
	defer release()
	m, err := c.lookup(index)
	if err != nil {
		return err
	}
	c.mu.Lock()
	up, node := m.state == stateUp, m.node
	c.mu.Unlock()
	if !up {
		return fmt.Errorf("etcd: %s node%d: the node is not running", verb, index)
	}
	begin := time.Now()
	if verb == "kill" {
		err = node.Kill(ctx)
	} else {
		err = node.Stop(ctx, dockerStopGrace)
	}
	if err != nil {
		return fmt.Errorf("etcd: %s %s: %w", verb, m.name, err)
	}
	c.mu.Lock()
	m.state, m.paused = stateDown, false
	c.mu.Unlock()
	c.logf("etcd: %s %s took %s", verb, m.name, time.Since(begin).Round(time.Millisecond))
	return nil
}

// StartNode implements drivers.NodeController: it starts the same
// container again (same data, IP and host port) and waits until the
// member serves. A member that does not become ready is killed again.
func (c *dockerCluster) StartNode(ctx context.Context, index int) error {
	ctx, release, err := c.acquire(ctx)
	if err != nil {
		return fmt.Errorf("etcd: start node%d: %w", index, err)
	}
	defer release()
	m, err := c.lookup(index)
	if err != nil {
		return err
	}
	c.mu.Lock()
	up, node := m.state == stateUp, m.node
	c.mu.Unlock()
	if up {
		st, err := node.State(ctx)
		if err == nil && st.Running {
			return fmt.Errorf("etcd: start node%d: the node is already running", index)
		}
		// The container stopped by itself (etcd exited): start it again.
	}
	begin := time.Now()
	if err := node.Start(ctx); err != nil {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		_ = node.Kill(kctx)
		cancel()
		c.mu.Lock()
		m.state = stateDown
		c.mu.Unlock()
		return fmt.Errorf("etcd: start %s: %w", m.name, err)
	}
	c.mu.Lock()
	m.state, m.paused = stateUp, false
	c.mu.Unlock()
	c.logf("etcd: %s ready again in %s", m.name, time.Since(begin).Round(time.Millisecond))
	return nil
}

// PauseNode implements drivers.Pauser: docker pause (cgroup freezer).
func (c *dockerCluster) PauseNode(ctx context.Context, index int) error {
	return c.pauseNode(ctx, index, true)
}

// ResumeNode implements drivers.Pauser: docker unpause.
func (c *dockerCluster) ResumeNode(ctx context.Context, index int) error {
	return c.pauseNode(ctx, index, false)
}

func (c *dockerCluster) pauseNode(ctx context.Context, index int, pause bool) error {
	verb := "resume"
	if pause {
		verb = "pause"
	}
	ctx, release, err := c.acquire(ctx)
	if err != nil {
		return fmt.Errorf("etcd: %s node%d: %w", verb, index, err)
	}
	defer release()
	m, err := c.lookup(index)
	if err != nil {
		return err
	}
	c.mu.Lock()
	up, node := m.state == stateUp, m.node
	c.mu.Unlock()
	if !up {
		return fmt.Errorf("etcd: %s node%d: the node is not running", verb, index)
	}
	if pause {
		err = node.Pause(ctx)
	} else {
		err = node.Unpause(ctx)
	}
	if err != nil {
		return fmt.Errorf("etcd: %s %s: %w", verb, m.name, err)
	}
	c.mu.Lock()
	m.paused = pause
	c.mu.Unlock()
	return nil
}

// Partition implements drivers.Partitioner. Members in no group join the
// first group. The group with the most members (the first of those) stays
// on the run network, where nothing moves; the others are cut off it.
func (c *dockerCluster) Partition(ctx context.Context, groups [][]int) error {
	ctx, release, err := c.acquire(ctx)
	if err != nil {
		return fmt.Errorf("etcd: partition: %w", err)
	}
	defer release()
	if len(groups) == 0 {
		return errors.New("etcd: partition: no groups")
	}
	c.mu.Lock()
	seen := map[int]bool{}
	ng := make([][]*docker.Node, len(groups))
	for gi, g := range groups {
		for _, idx := range g {
			if idx < 1 || idx > len(c.members) || c.members[idx-1].state == stateRemoved || c.members[idx-1].node == nil {
				c.mu.Unlock()
				return fmt.Errorf("etcd: partition: no node %d in the cluster", idx)
			}
			if seen[idx] {
				c.mu.Unlock()
				return fmt.Errorf("etcd: partition: node %d is in two groups", idx)
			}
			seen[idx] = true
			ng[gi] = append(ng[gi], c.members[idx-1].node)
		}
	}
	for _, m := range c.members {
		if !seen[m.index] && m.state != stateRemoved && m.node != nil {
			ng[0] = append(ng[0], m.node)
		}
	}
	c.mu.Unlock()
	big := 0
	for i, g := range ng {
		if len(g) > len(ng[big]) {
			big = i
		}
	}
	ng[0], ng[big] = ng[big], ng[0]
	ng = slices.DeleteFunc(ng, func(g []*docker.Node) bool { return len(g) == 0 })
	begin := time.Now()
	if err := c.dc.Partition(ctx, ng); err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	c.logf("etcd: partition %v took %s", groups, time.Since(begin).Round(time.Millisecond))
	return nil
}

// Heal implements drivers.Partitioner.
func (c *dockerCluster) Heal(ctx context.Context) error {
	ctx, release, err := c.acquire(ctx)
	if err != nil {
		return fmt.Errorf("etcd: heal: %w", err)
	}
	defer release()
	begin := time.Now()
	if err := c.dc.Heal(ctx); err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	c.logf("etcd: heal took %s", time.Since(begin).Round(time.Millisecond))
	return nil
}


// NodeRoles implements drivers.Roles: the leader and the live followers.
func (c *dockerCluster) NodeRoles(ctx context.Context) (map[string][]int, error) {
	return leaderAndFollowers(ctx, c.LeaderIndex, func() (running []int) {
		for _, m := range c.liveMembers() {
			running = append(running, m.index)
		}
		return running
	})
}

// LeaderIndex returns the leader's index: it asks every running member for
// its Status through its published port and returns the leader most of
// them name, once that member answers and says it leads; it waits (up to
// ctx or leaderWait) for one to emerge.
func (c *dockerCluster) LeaderIndex(ctx context.Context) (int, error) {
	t := time.NewTimer(leaderWait)
	defer t.Stop()
	for {
		idx, detail := c.currentLeader(ctx)
		if idx > 0 {
			return idx, nil
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return 0, fmt.Errorf("etcd: leader: %s: %w", detail, ctx.Err())
		case <-t.C:
			return 0, fmt.Errorf("etcd: leader: %s after %s: %w", detail, leaderWait, drivers.ErrUnavailable)
		case <-c.closing:
			return 0, errClosed
		}
	}
}

// currentLeader asks the live members once, at the same time.
func (c *dockerCluster) currentLeader(ctx context.Context) (int, string) {
	ms := c.liveMembers()
	if len(ms) == 0 {
		return 0, "no member is running"
	}
	eps := make([]string, len(ms))
	for i, m := range ms {
		eps[i] = c.endpointOf(m)
	}
	resps := make([]*clientv3.StatusResponse, len(ms))
	var wg sync.WaitGroup
	for i := range ms {
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, leaderStatusTimeout)
			defer cancel()
			resps[i], _ = statusAt(sctx, eps[i])
		})
	}
	wg.Wait()
	votes := map[uint64]int{}
	byID := map[uint64]*dockerMember{}
	leads := map[uint64]uint64{}
	for i, r := range resps {
		if r == nil {
			continue
		}
		byID[r.Header.MemberId] = ms[i]
		leads[r.Header.MemberId] = r.Leader
		if r.Leader != 0 {
			votes[r.Leader]++
		}
	}
	if len(byID) == 0 {
		return 0, "no running member answers"
	}
	var best uint64
	for id, n := range votes {
		if n > votes[best] || n == votes[best] && id < best {
			best = id
		}
	}
	m, ok := byID[best]
	if best == 0 || !ok {
		return 0, "no running member is leader"
	}
	if leads[best] != best {
		return 0, m.name + " is named leader but does not lead"
	}
	return m.index, ""
}

// AddNode implements drivers.Membership: MemberAdd with the new member's
// peer URL (http://nodeN:2380) through the running members, retried while
// etcd refuses it, then a new container that joins with
// --initial-cluster-state existing and the full member list. Its index is
// the next unused one. If the member does not come up, it is removed from
// the cluster again.
func (c *dockerCluster) AddNode(ctx context.Context) (int, error) {
	ctx, release, err := c.acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("etcd: add node: %w", err)
	}
	defer release()
	eps := c.endpoints(true, nil)
	if len(eps) == 0 {
		return 0, errors.New("etcd: add node: no member is running")
	}
	c.mu.Lock()
	m := &dockerMember{index: len(c.members) + 1, state: stateDown}
	m.name = "node" + strconv.Itoa(m.index)
	c.mu.Unlock()
	cli, err := newEtcdClient(eps)
	if err != nil {
		return 0, fmt.Errorf("etcd: add %s: %w", m.name, err)
	}
	defer cli.Close()
	begin := time.Now()
	peer := peerURLOf(m.name)
	var resp *clientv3.MemberAddResponse
	err = retryMembership(ctx, c.closing, func(actx context.Context, attempt int) error {
		var err error
		resp, err = cli.MemberAdd(actx, []string{peer})
		if err != nil && attempt > 1 && errors.Is(err, rpctypes.ErrPeerURLExist) {
			return findAdded(actx, cli, peer, &resp)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("etcd: add %s: member add: %w", m.name, err)
	}
	c.logf("etcd: member add %s accepted after %s", m.name, time.Since(begin).Round(time.Millisecond))
	c.mu.Lock()
	m.id = resp.Member.ID
	c.members = append(c.members, m) // the index is taken from now on
	c.mu.Unlock()

	err = c.makeDataDir(m)
	var node *docker.Node
	if err == nil {
		node, err = c.dc.StartNode(ctx, c.nodeSpec(m, joinCluster(resp, m.name), "existing"))
	}
	if err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), membershipAttemptTimeout)
		_, rerr := cli.MemberRemove(rctx, resp.Member.ID)
		cancel()
		c.mu.Lock()
		m.state = stateRemoved
		c.mu.Unlock()
		if rerr != nil {
			return 0, fmt.Errorf("etcd: add %s: %w (and removing it again failed: %v)", m.name, err, rerr)
		}
		return 0, fmt.Errorf("etcd: add %s: %w (removed it again)", m.name, err)
	}
	c.mu.Lock()
	m.node, m.state = node, stateUp
	c.mu.Unlock()
	c.updateClients()
	c.logf("etcd: %s joined on %s in %s", m.name, node.Addr(dockerClientPort), time.Since(begin).Round(time.Millisecond))
	return m.index, nil
}

// RemoveNode implements drivers.Membership: MemberRemove through the other
// running members (retried while etcd refuses it), then the container is
// removed (etcd 3.4 exits by itself once it learns of its removal).
func (c *dockerCluster) RemoveNode(ctx context.Context, index int) error {
	ctx, release, err := c.acquire(ctx)
	if err != nil {
		return fmt.Errorf("etcd: remove node%d: %w", index, err)
	}
	defer release()
	m, err := c.lookup(index)
	if err != nil {
		return err
	}
	c.mu.Lock()
	id, node, up := m.id, m.node, m.state == stateUp
	c.mu.Unlock()
	if id == 0 {
		return fmt.Errorf("etcd: remove %s: its member ID is unknown", m.name)
	}
	eps := c.endpoints(true, m)
	if len(eps) == 0 {
		eps = c.endpoints(true, nil)
	}
	if len(eps) == 0 {
		return fmt.Errorf("etcd: remove %s: no member is running", m.name)
	}
	cli, err := newEtcdClient(eps)
	if err != nil {
		return fmt.Errorf("etcd: remove %s: %w", m.name, err)
	}
	defer cli.Close()
	begin := time.Now()
	err = retryMembership(ctx, c.closing, func(actx context.Context, attempt int) error {
		_, err := cli.MemberRemove(actx, id)
		if err != nil && attempt > 1 && errors.Is(err, rpctypes.ErrMemberNotFound) {
			return nil // an earlier attempt was applied after all
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("etcd: remove %s: member remove: %w", m.name, err)
	}
	if up {
		// The removal is committed: give the member a moment to notice
		// and exit by itself.
		wait := time.Now().Add(removedStopWait)
		for time.Now().Before(wait) && ctx.Err() == nil {
			st, err := node.State(ctx)
			if err != nil || !st.Running {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	c.mu.Lock()
	m.state, m.paused = stateRemoved, false
	c.mu.Unlock()
	c.updateClients()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	if err := node.Remove(rctx); err != nil {
		return fmt.Errorf("etcd: remove %s: %w", m.name, err)
	}
	if dir := c.dataDir(m); dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			c.logf("etcd: remove %s: its data directory: %v", m.name, err)
		}
	}
	c.logf("etcd: removed %s in %s", m.name, time.Since(begin).Round(time.Millisecond))
	return nil
}

// Settled implements drivers.Membership: every member runs (not paused),
// etcd's member list is exactly our members, each answers Status through
// its published port, all name the same leader, and their raft applied
// indexes are within settleMaxLag.
func (c *dockerCluster) Settled(ctx context.Context) (bool, string, error) {
	select {
	case <-c.closing:
		return false, "", errClosed
	default:
	}
	c.mu.Lock()
	var refs []memberRef
	var down, paused []string
	for _, m := range c.members {
		if m.state == stateRemoved || m.node == nil {
			continue
		}
		refs = append(refs, memberRef{name: m.name, id: m.id, endpoint: m.endpoint()})
		switch {
		case m.state != stateUp:
			down = append(down, m.name)
		case m.paused:
			paused = append(paused, m.name)
		}
	}
	c.mu.Unlock()
	if len(down) > 0 {
		return false, strings.Join(down, ", ") + " not running", nil
	}
	if len(paused) > 0 {
		return false, strings.Join(paused, ", ") + " paused", nil
	}
	return checkSettled(ctx, refs)
}

// Backup implements drivers.BackupRestorer: a snapshot (Maintenance.Snapshot)
// through the published port of the leader, else of another live member,
// after a linearizable read through that member, into
// dir/etcd-snapshot.db.
func (c *dockerCluster) Backup(ctx context.Context, dir string) (drivers.Backup, error) {
	select {
	case <-c.closing:
		return drivers.Backup{}, errClosed
	default:
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return drivers.Backup{}, fmt.Errorf("etcd: backup: %w", err)
	}
	leader, _ := c.currentLeader(ctx)
	ms := c.liveMembers()
	if i := slices.IndexFunc(ms, func(m *dockerMember) bool { return m.index == leader }); i > 0 {
		ms[0], ms[i] = ms[i], ms[0]
	}
	if len(ms) == 0 {
		return drivers.Backup{}, fmt.Errorf("etcd: backup: no member is running: %w", drivers.ErrUnavailable)
	}
	var errs []error
	for _, m := range ms {
		b, err := snapshotFrom(ctx, c.endpointOf(m), m.name, dir, c.logf)
		if err == nil {
			b.Meta["image"] = c.image
			c.mu.Lock()
			if c.version != "" {
				b.Meta["server-version"] = c.version
			}
			c.mu.Unlock()
			return b, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", m.name, err))
		if ctx.Err() != nil {
			break
		}
	}
	return drivers.Backup{}, fmt.Errorf("etcd: backup: %w", errors.Join(errs...))
}

// Restore implements drivers.BackupRestorer: a new docker cluster of
// spec.Nodes members, each restored from b by `etcdutl snapshot restore`
// or `etcdctl snapshot restore` in a one-shot container of the image
// before etcd starts (see the top of this file). It
// runs the image of c unless spec.Image names another, so backup and
// restore use the same etcd version. A spec.RunID equal to c's (the runner
// passes the run's id) becomes <run>-restore-<n>: a run id names the
// networks and containers. The caller closes the new cluster.
func (c *dockerCluster) Restore(ctx context.Context, b drivers.Backup, spec drivers.ClusterSpec) (drivers.Cluster, error) {
	switch spec.Provider {
	case drivers.ProviderDocker:
	default:
		return nil, fmt.Errorf("etcd: restore a docker cluster's backup into provider %q: %w", spec.Provider, drivers.ErrNotSupported)
	}
	path, err := snapshotPath(b)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.restores++
	n := c.restores
	c.mu.Unlock()
	if spec.RunID == "" || spec.RunID == c.runID {
		base := c.runID
		if len(base) > 85 {
			base = base[:85]
		}
		spec.RunID = base + "-restore-" + strconv.Itoa(n)
	}
	if spec.Image == "" {
		spec.Image = c.image
	}
	if spec.Logf == nil {
		spec.Logf = c.logf
	}
	if spec.Options == nil {
		spec.Options = c.opts.config()
	}
	begin := time.Now()
	nc, err := startDocker(ctx, spec, path)
	if err != nil {
		return nil, fmt.Errorf("etcd: restore: %w", err)
	}
	nc.logf("etcd: restored %s into run %s in %s", path, spec.RunID, time.Since(begin).Round(time.Millisecond))
	return nc, nil
}
