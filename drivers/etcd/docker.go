package etcd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/clientset"
	"github.com/evalrun/evalrun/internal/docker"
	"github.com/evalrun/evalrun/internal/driverkit"
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
// never reused; its state belongs to the kit's table.
type dockerMember struct {
	driverkit.Node
	id uint64 // raft member ID, 0 until known; guarded by dockerCluster.mu
}

// endpoint is the client URL through the published port ("" before start).
func (m *dockerMember) endpoint() string {
	if m.DN == nil {
		return ""
	}
	return "http://" + m.DN.Addr(dockerClientPort)
}

// dockerCluster is a cluster of the docker provider.
type dockerCluster struct {
	*driverkit.Base[*dockerMember]
	membership // on this cluster as its host
	opts       options
	token      string
	// restoreDir is the host directory holding the snapshot to restore
	// the initial members from ("" otherwise).
	restoreDir string
	// dataRoot holds the members' data directories (WorkDir/data); ""
	// keeps the data in the containers.
	dataRoot string

	mu       sync.Mutex             // the members' raft IDs and what follows
	clients  clientset.Set[*client] // its own lock
	version  string                 // the server version a member reported
	restores int                    // clusters restored from this one (run ids)
}

// Membership, roles, Settled and Backup come from membership.
var _ interface {
	driverkit.DockerCluster
	drivers.BackupRestorer
} = (*dockerCluster)(nil)

// startDocker starts a cluster of spec.Nodes members in containers. When
// snapshot is not empty, every member first restores its data directory
// from that file. On error nothing it created is left.
func startDocker(ctx context.Context, spec drivers.ClusterSpec, snapshot string) (*dockerCluster, error) {
	opts, token, err := prepare(spec)
	if err != nil {
		return nil, err
	}
	if spec.RunID == "" {
		return nil, errors.New("etcd: the cluster spec has no run id")
	}
	c := &dockerCluster{opts: opts, token: token}
	c.membership = membership{host: c, leaderPoll: 100 * time.Millisecond}
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
	t0 := time.Now()
	if c.Base, err = driverkit.Open[*dockerMember](ctx, "etcd", spec, imageChoice(spec.Logf)); err != nil {
		return nil, err
	}
	c.StopGrace = dockerStopGrace
	c.BeforeClose = func() {
		if err := c.clients.CloseAll(clientset.Closer[*client]); err != nil {
			c.Logf("etcd: closing the clients: %v", err)
		}
	}
	c.Logf("etcd: networks of run %s created in %s", c.RunID, time.Since(t0).Round(time.Millisecond))
	if err := c.startInitial(ctx, spec.Nodes, snapshot != ""); err != nil {
		c.CloseAfterFailure(ctx)
		return nil, fmt.Errorf("etcd: start cluster of %d members (image %s): %w", spec.Nodes, c.Image, err)
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
	ms, err := c.Reserve(make([]int, n), func(int) *dockerMember { return &dockerMember{} })
	if err != nil {
		return err
	}
	parts := make([]string, n)
	for i, m := range ms {
		parts[i] = m.Name + "=" + peerURLOf(m.Name)
	}
	initial := strings.Join(parts, ",")
	state := "new"
	if restore {
		state = "existing" // the restored data directory holds the membership
		if err := c.restoreAll(ctx, ms, initial); err != nil {
			return err
		}
	} else {
		for _, m := range ms {
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
	for i, m := range ms {
		wg.Go(func() {
			t0 := time.Now()
			node, err := c.Docker.StartNode(sctx, c.nodeSpec(m, initial, state))
			if err != nil {
				errs[i] = err
				cancel()
				return
			}
			c.Attach(m, node)
			c.Logf("etcd: %s ready on %s in %s", m.Name, node.Addr(dockerClientPort), time.Since(t0).Round(time.Millisecond))
		})
	}
	wg.Wait()
	if err := firstCauses(ctx, errs); err != nil {
		return err
	}
	c.Logf("etcd: %d members ready in %s (image %s, %s)", n, time.Since(begin).Round(time.Millisecond), c.Image, c.addresses())
	return nil
}

// dataDir is the host directory of m's data ("" without a WorkDir).
func (c *dockerCluster) dataDir(m *dockerMember) string {
	if c.dataRoot == "" {
		return ""
	}
	return filepath.Join(c.dataRoot, m.Name)
}

// makeDataDir creates m's (empty) host data directory, mode 0700 as etcd
// wants it.
func (c *dockerCluster) makeDataDir(m *dockerMember) error {
	dir := c.dataDir(m)
	if dir == "" {
		return nil
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("%s: data directory: %w", m.Name, err)
	}
	return nil
}

// nodeSpec is the container of m. state is etcd's --initial-cluster-state.
func (c *dockerCluster) nodeSpec(m *dockerMember, initialCluster, state string) docker.NodeSpec {
	args := []string{
		"--name=" + m.Name,
		"--data-dir=" + dockerDataDir,
		"--listen-peer-urls=http://0.0.0.0:2380",
		"--listen-client-urls=http://0.0.0.0:2379",
		"--initial-advertise-peer-urls=" + peerURLOf(m.Name),
		"--advertise-client-urls=" + clientURLOf(m.Name),
		"--initial-cluster=" + initialCluster,
		"--initial-cluster-state=" + state,
		"--initial-cluster-token=" + c.token,
		"--heartbeat-interval=" + strconv.Itoa(c.opts.heartbeatMs),
		"--election-timeout=" + strconv.Itoa(c.opts.electionMs),
		"--snapshot-count=" + strconv.Itoa(c.opts.snapshotCount),
		"--logger=zap",
	}
	spec := docker.NodeSpec{
		Name:         m.Name,
		Image:        c.Image,
		Entrypoint:   []string{"etcd"},
		Cmd:          args,
		Ports:        []string{dockerClientPort},
		Labels:       map[string]string{dbLabel: "etcd"},
		Ready:        c.ready(m),
		ReadyTimeout: dockerReadyTimeout,
		StopGrace:    dockerStopGrace,
		Resources:    c.ContainerResources(m.Name),
	}
	if dir := c.dataDir(m); dir != "" {
		spec.Binds = append(spec.Binds, dir+":"+dockerDataDir)
		spec.User = docker.CallerUser()
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

func (c *dockerCluster) addresses() string {
	var parts []string
	for _, m := range c.Members() {
		parts = append(parts, m.Name+"="+m.DN.Addr(dockerClientPort))
	}
	return strings.Join(parts, " ")
}

// Info implements drivers.Cluster. The version is the one a running
// member reports (Status), e.g. 3.4.23.
func (c *dockerCluster) Info(ctx context.Context) (drivers.ClusterInfo, error) {
	for _, m := range c.Live() {
		sctx, cancel := context.WithTimeout(ctx, leaderStatusTimeout)
		resp, err := statusAt(sctx, m.endpoint())
		cancel()
		if err == nil && resp.Version != "" {
			c.mu.Lock()
			c.version = resp.Version
			c.mu.Unlock()
			break
		}
	}
	cfg := c.opts.config()
	cfg["image"] = c.Image
	cfg["ready-timeout-ms"] = strconv.FormatInt(dockerReadyTimeout.Milliseconds(), 10)
	cfg["stop-grace-ms"] = strconv.FormatInt(dockerStopGrace.Milliseconds(), 10)
	c.mu.Lock()
	version := c.version
	c.mu.Unlock()
	info := c.ClusterInfo("etcd", version, cfg)
	info.Nodes = c.NodeInfos(func(m *dockerMember) string { return m.Name },
		func(m *dockerMember) string { return m.DN.Addr(dockerClientPort) })
	return info, nil
}

// NewClient implements drivers.Cluster: a clientv3 client on the published
// endpoints of all members that are not removed (clientv3 balances over
// the connected ones and reconnects to restarted ones). Members added or
// removed later are added to or dropped from its endpoints.
func (c *dockerCluster) NewClient(ctx context.Context) (drivers.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return openClient(&c.clients, c.endpoints(), c.memberIndex)
}

// updateClients points the open clients at the current members.
func (c *dockerCluster) updateClients() {
	if eps := c.endpoints(); len(eps) > 0 {
		setEndpoints(&c.clients, eps)
	}
}

// currentLeader implements host: it asks the live members for their
// Status through their published ports, all at once, and names the leader
// most of them follow once that member answers and says it leads.
func (c *dockerCluster) currentLeader(ctx context.Context) (int, string) {
	ms := c.Live()
	if len(ms) == 0 {
		return 0, "no member is running"
	}
	eps := make([]string, len(ms))
	for i, m := range ms {
		eps[i] = m.endpoint()
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
	var answers []leaderAnswer
	for i, r := range resps {
		if r != nil {
			answers = append(answers, leaderAnswer{memberRef: memberRef{index: ms[i].Index, name: ms[i].Name, id: r.Header.MemberId},
				follows: r.Leader})
		}
	}
	return leaderByVote(answers)
}

// acquire implements host: the kit's operation slot.
func (c *dockerCluster) acquire(ctx context.Context) (context.Context, func(), error) {
	return c.Acquire(ctx)
}

// done implements host.
func (c *dockerCluster) done() <-chan struct{} { return c.Closing() }

// printf implements host.
func (c *dockerCluster) printf(format string, args ...any) { c.Logf(format, args...) }

// view implements host.
func (c *dockerCluster) view(index int) (memberView, error) {
	m, err := c.Node(index)
	if err != nil {
		return memberView{}, err
	}
	return c.viewOf(m), nil
}

// views implements host.
func (c *dockerCluster) views() []memberView {
	var out []memberView
	for _, m := range c.Members() {
		out = append(out, c.viewOf(m))
	}
	return out
}

func (c *dockerCluster) viewOf(m *dockerMember) memberView {
	c.mu.Lock()
	ref := memberRef{index: m.Index, name: m.Name, id: m.id, endpoint: m.endpoint()}
	c.mu.Unlock()
	st := c.State(m)
	return memberView{memberRef: ref, running: st == driverkit.StateUp, paused: st == driverkit.StatePaused}
}

// dockerJoiner is a member AddNode adds: container node<index>, peer URL
// http://node<index>:2380.
type dockerJoiner struct {
	c     *dockerCluster
	index int
	m     *dockerMember // once admitted
	resp  *clientv3.MemberAddResponse
	dn    *docker.Node // once started
}

// newJoiner implements host: the next index (the operation slot keeps it
// free until admit).
func (c *dockerCluster) newJoiner() (joiner, error) {
	return &dockerJoiner{c: c, index: len(c.All()) + 1}, nil
}

func (j *dockerJoiner) name() string    { return "node" + strconv.Itoa(j.index) }
func (j *dockerJoiner) peerURL() string { return peerURLOf(j.name()) }

func (j *dockerJoiner) admit(resp *clientv3.MemberAddResponse) error {
	ms, err := j.c.Reserve([]int{j.index}, func(int) *dockerMember { return &dockerMember{} })
	if err != nil {
		return err
	}
	j.m, j.resp = ms[0], resp
	j.c.mu.Lock()
	j.m.id = resp.Member.ID
	j.c.mu.Unlock()
	return nil
}

func (j *dockerJoiner) start(ctx context.Context) error {
	if err := j.c.makeDataDir(j.m); err != nil {
		return err
	}
	var err error
	j.dn, err = j.c.Docker.StartNode(ctx, j.c.nodeSpec(j.m, joinCluster(j.resp, j.m.Name), "existing"))
	return err
}

func (j *dockerJoiner) clear() error {
	if dir := j.c.dataDir(j.m); dir != "" {
		return os.RemoveAll(dir)
	}
	return nil
}

// abandon: a reserved member that never started stays removed.
func (j *dockerJoiner) abandon() {}

func (j *dockerJoiner) joined() int {
	j.c.Attach(j.m, j.dn)
	j.c.updateClients()
	j.c.Logf("etcd: %s serves on %s", j.m.Name, j.dn.Addr(dockerClientPort))
	return j.m.Index
}

// retire implements host: a member that runs gets a moment to notice its
// removal and exit by itself (etcd 3.4 does), then its container and data
// directory are removed.
func (c *dockerCluster) retire(ctx context.Context, index int) error {
	m, err := c.Node(index)
	if err != nil {
		return err
	}
	if c.State(m) != driverkit.StateDown {
		wait := time.Now().Add(removedStopWait)
		for time.Now().Before(wait) && ctx.Err() == nil {
			st, err := m.DN.State(ctx)
			if err != nil || !st.Running {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	c.SetState(m, driverkit.StateRemoved)
	c.updateClients()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	if err := m.DN.Remove(rctx); err != nil {
		return err
	}
	if dir := c.dataDir(m); dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			c.Logf("etcd: remove %s: its data directory: %v", m.Name, err)
		}
	}
	return nil
}

// Backup implements drivers.BackupRestorer: membership's snapshot through
// a published port, with the image and server version in its Meta.
func (c *dockerCluster) Backup(ctx context.Context, dir string) (drivers.Backup, error) {
	b, err := c.membership.Backup(ctx, dir)
	if err != nil {
		return b, err
	}
	b.Meta["image"] = c.Image
	c.mu.Lock()
	if c.version != "" {
		b.Meta["server-version"] = c.version
	}
	c.mu.Unlock()
	return b, nil
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
	if spec.RunID == "" || spec.RunID == c.RunID {
		base := c.RunID
		if len(base) > 85 {
			base = base[:85]
		}
		spec.RunID = base + "-restore-" + strconv.Itoa(n)
	}
	if spec.Image == "" {
		spec.Image = c.Image
	}
	if spec.Logf == nil {
		spec.Logf = c.Logf
	}
	if spec.Options == nil {
		spec.Options = c.opts.config()
	}
	begin := time.Now()
	nc, err := startDocker(ctx, spec, path)
	if err != nil {
		return nil, fmt.Errorf("etcd: restore: %w", err)
	}
	nc.Logf("etcd: restored %s into run %s in %s", path, spec.RunID, time.Since(begin).Round(time.Millisecond))
	return nc, nil
}
