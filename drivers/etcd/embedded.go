package etcd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/version"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/clientset"
	"github.com/evalrun/evalrun/internal/driverkit"
)

const (
	// readyTimeout bounds how long a starting member may take to be ready.
	readyTimeout = 30 * time.Second
	// statusTimeout bounds one Status or MemberList call of Settled.
	statusTimeout = 2 * time.Second
	// membershipAttemptTimeout bounds one MemberAdd/MemberRemove attempt.
	membershipAttemptTimeout = 5 * time.Second
	// membershipRetryFor is how long a refused membership change is
	// retried. etcd refuses changes until every member has been connected
	// to the others for 5 s (its strict reconfiguration check), so a change
	// right after a start or restart is refused for a few seconds.
	membershipRetryFor = 20 * time.Second
	// settleMaxLag is how far apart (in raft applied index) members may be
	// for the cluster to count as settled.
	settleMaxLag = 100
	// leaderWait caps how long LeaderIndex waits for a leader to emerge.
	leaderWait = 10 * time.Second
	// removedStopWait is how long RemoveNode lets a removed member notice
	// its removal and stop by itself (etcd stops it after about 1 s).
	removedStopWait = 2 * time.Second
)

// errClosed is returned by every operation on a closed cluster.
var errClosed = fmt.Errorf("etcd: %w", driverkit.ErrClosed)

type memberState int

const (
	stateDown    memberState = iota // configured, not running (never started, killed or stopped)
	stateUp                         // running and was ready
	stateRemoved                    // removed from the cluster; its index is not reused
)

// member is one etcd member. Its name, directories and URLs are fixed for
// its life so that a restart reuses the data and the ports.
type member struct {
	index     int
	name      string
	dir       string // data directory
	logPath   string
	peerURL   url.URL
	clientURL url.URL
	// initialCluster and clusterState configure the member's first start;
	// later starts use the data directory (etcd ignores both then).
	initialCluster string
	clusterState   string

	// Guarded by embeddedCluster.mu.
	id      uint64 // raft member ID, 0 until known
	state   memberState
	etcd    *embed.Etcd
	logFile *os.File
	// retired is closed once the previous server of m is torn down
	// (nil if there was none).
	retired chan struct{}
}

func (m *member) endpoint() string { return m.clientURL.String() }

// running reports whether the member is up and its server has not stopped
// by itself (e.g. after being removed). The caller holds the cluster's mu.
func (m *member) running() bool {
	if m.state != stateUp || m.etcd == nil {
		return false
	}
	select {
	case <-m.etcd.Server.StopNotify():
		return false
	default:
		return true
	}
}

// embeddedCluster is a cluster whose members run in this process.
type embeddedCluster struct {
	membership // on this cluster as its host

	workDir string
	logf    func(format string, args ...any)
	opts    options
	token   string

	// slot serializes lifecycle operations (start, stop, kill,
	// membership, close) without blocking past a context; Close ends the
	// one in progress (waits inside operations end on its Closing).
	slot driverkit.Slot

	mu      sync.Mutex
	members []*member              // members[i] has index i+1; removed members stay
	clients clientset.Set[*client] // its own lock

	// teardown tracks the background teardown of killed members.
	teardown sync.WaitGroup
}

// Membership, roles, Settled and Backup come from membership.
var _ interface {
	drivers.Cluster
	drivers.NodeController
	drivers.BackupRestorer
} = (*embeddedCluster)(nil)

// startEmbedded starts a cluster of spec.Nodes members. When snapshot is
// not empty, every member's data directory is first restored from that
// snapshot file (etcdutl), so the cluster starts with its data.
func startEmbedded(ctx context.Context, spec drivers.ClusterSpec, snapshot string) (*embeddedCluster, error) {
	if spec.WorkDir == "" {
		return nil, errors.New("etcd: the cluster spec has no work directory")
	}
	if err := drivers.RefuseResources("etcd (provider embedded)", spec); err != nil {
		return nil, err
	}
	opts, token, err := prepare(spec)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(spec.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("etcd: work directory: %w", err)
	}
	logf := spec.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	c := &embeddedCluster{
		workDir: spec.WorkDir,
		logf:    logf,
		opts:    opts,
		token:   token,
	}
	c.membership = membership{host: c, leaderPoll: 20 * time.Millisecond}
	ports, err := freePorts(2 * spec.Nodes)
	if err != nil {
		return nil, err
	}
	state := embed.ClusterStateFlagNew
	if snapshot != "" {
		state = embed.ClusterStateFlagExisting
	}
	for i := 1; i <= spec.Nodes; i++ {
		m := c.newMember(i, ports[2*(i-1)], ports[2*(i-1)+1])
		m.clusterState = state
		c.members = append(c.members, m)
	}
	initial := initialCluster(c.members)
	for _, m := range c.members {
		m.initialCluster = initial
		if _, err := os.Stat(m.dir); err == nil {
			return nil, fmt.Errorf("etcd: %s: data directory %s already exists (the work directory must be fresh)", m.name, m.dir)
		}
	}
	if snapshot != "" {
		for _, m := range c.members {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("etcd: restore: %w", err)
			}
			if err := c.restoreMember(snapshot, m); err != nil {
				return nil, err
			}
		}
	}

	// Launch the members one after the other, then wait for all of them
	// at once (a new cluster elects a leader only once a quorum runs).
	// Launching is quick: StartEtcd does not wait for the cluster. Launching
	// all at once would cost a second per peer: a new member first asks its
	// peers whether it was bootstrapped already, and a peer whose port is
	// bound but not served yet answers only after etcd's 1 s timeout.
	ls := make([]*launched, len(c.members))
	for i, m := range c.members {
		l, err := c.launch(m)
		ls[i] = l
		if err == nil && ctx.Err() != nil {
			err = fmt.Errorf("%s: not ready: %w", m.name, ctx.Err())
		}
		if err != nil {
			var wg sync.WaitGroup
			for _, l := range ls[:i+1] {
				if l != nil {
					wg.Go(l.abort)
				}
			}
			wg.Wait()
			return nil, fmt.Errorf("etcd: start cluster of %d members: %w", spec.Nodes, err)
		}
	}
	// The first failure cancels the others' waits.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(c.members))
	var wg sync.WaitGroup
	for i, m := range c.members {
		wg.Go(func() {
			if errs[i] = c.finish(sctx, m, ls[i]); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	if err := firstCauses(ctx, errs); err != nil {
		if serr := c.stopAll(context.WithoutCancel(ctx)); serr != nil {
			c.logf("etcd: stopping the members that started: %v", serr)
		}
		return nil, fmt.Errorf("etcd: start cluster of %d members: %w", spec.Nodes, err)
	}
	c.logf("etcd: %d members ready (%s)", spec.Nodes, c.addresses())
	return c, nil
}

// firstCauses joins the errors of members that failed by themselves, not
// those that only gave up because another member failed first.
func firstCauses(ctx context.Context, errs []error) error {
	var own []error
	for _, err := range errs {
		if err != nil && (!errors.Is(err, context.Canceled) || ctx.Err() != nil) {
			own = append(own, err)
		}
	}
	if len(own) == 0 {
		return errors.Join(errs...)
	}
	return errors.Join(own...)
}

func (c *embeddedCluster) newMember(index, peerPort, clientPort int) *member {
	name := "node" + strconv.Itoa(index)
	return &member{
		index:     index,
		name:      name,
		dir:       filepath.Join(c.workDir, name),
		logPath:   filepath.Join(c.workDir, name+".log"),
		peerURL:   url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(peerPort))},
		clientURL: url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(clientPort))},
	}
}

// initialCluster renders "name=peerURL,..." for ms.
func initialCluster(ms []*member) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		parts = append(parts, m.name+"="+m.peerURL.String())
	}
	return strings.Join(parts, ",")
}

// newToken returns a fresh initial-cluster token, so that members of
// different clusters can never join each other.
func newToken(runID string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("etcd: cluster token: %w", err)
	}
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, runID)
	if clean == "" {
		clean = "run"
	}
	return "evalrun-" + clean + "-" + hex.EncodeToString(b[:]), nil
}

// freePorts finds n distinct free TCP ports on 127.0.0.1 by listening on
// port 0. All listeners are open at once so the ports are distinct.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("etcd: finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// openLog opens (appending) the member's log file and a warn-level zap
// logger writing to it. The caller closes the file after the member stops.
func openLog(path string) (*os.File, *zap.Logger, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("etcd: log file: %w", err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(f), zapcore.WarnLevel)
	// A straggling etcd goroutine may log after the file is closed: drop
	// zap's own error reports instead of printing them to stderr.
	return f, zap.New(core, zap.ErrorOutput(zapcore.AddSync(io.Discard))), nil
}

func (c *embeddedCluster) embedConfig(m *member, lg *zap.Logger) *embed.Config {
	cfg := embed.NewConfig()
	cfg.Name = m.name
	cfg.Dir = m.dir
	cfg.ListenPeerUrls = []url.URL{m.peerURL}
	cfg.AdvertisePeerUrls = []url.URL{m.peerURL}
	cfg.ListenClientUrls = []url.URL{m.clientURL}
	cfg.AdvertiseClientUrls = []url.URL{m.clientURL}
	cfg.InitialCluster = m.initialCluster
	cfg.InitialClusterToken = c.token
	cfg.ClusterState = m.clusterState
	cfg.TickMs = uint(c.opts.heartbeatMs)
	cfg.ElectionMs = uint(c.opts.electionMs)
	cfg.SnapshotCount = uint64(c.opts.snapshotCount)
	cfg.EnableGRPCGateway = false // no HTTP/JSON gateway: one less loopback client per member
	cfg.LogLevel = "warn"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	return cfg
}

// launched is a member whose server was started but is not ready yet.
type launched struct {
	e     *embed.Etcd
	lf    *os.File
	begin time.Time
}

// abort stops a launched member that will not be used.
func (l *launched) abort() {
	hardStop(l.e)
	l.lf.Close()
}

// launch starts m's server (embed.StartEtcd) without waiting for it.
func (c *embeddedCluster) launch(m *member) (*launched, error) {
	begin := time.Now()
	lf, lg, err := openLog(m.logPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.name, err)
	}
	e, err := embed.StartEtcd(c.embedConfig(m, lg))
	if err != nil {
		lf.Close()
		return nil, fmt.Errorf("%s: start: %w (log: %s)", m.name, err, m.logPath)
	}
	return &launched{e: e, lf: lf, begin: begin}, nil
}

// finish waits until the launched m is ready (or fails, or ctx ends, or
// readyTimeout passes, or the cluster closes) and records it as up. On
// failure nothing of m is left running.
func (c *embeddedCluster) finish(ctx context.Context, m *member, l *launched) error {
	if err := c.waitReady(ctx, m, l.e); err != nil {
		l.abort()
		return fmt.Errorf("%s: %w", m.name, err)
	}
	c.mu.Lock()
	m.etcd, m.logFile, m.state = l.e, l.lf, stateUp
	m.id = uint64(l.e.Server.MemberID())
	m.clusterState = embed.ClusterStateFlagExisting
	c.mu.Unlock()
	c.logf("etcd: %s ready on %s in %s", m.name, m.clientURL.Host, time.Since(l.begin).Round(time.Millisecond))
	return nil
}

// startMember starts m and waits until it is ready. The caller holds the slot.
func (c *embeddedCluster) startMember(ctx context.Context, m *member) error {
	c.mu.Lock()
	retired := m.retired
	c.mu.Unlock()
	if retired != nil {
		select {
		case <-retired:
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for the previous server to shut down: %w", m.name, ctx.Err())
		}
	}
	l, err := c.launch(m)
	if err != nil {
		return err
	}
	return c.finish(ctx, m, l)
}

func (c *embeddedCluster) waitReady(ctx context.Context, m *member, e *embed.Etcd) error {
	t := time.NewTimer(readyTimeout)
	defer t.Stop()
	select {
	case <-e.Server.ReadyNotify():
		return nil
	case err := <-e.Err():
		return fmt.Errorf("failed while starting: %w (log: %s)", err, m.logPath)
	case <-e.Server.StopNotify():
		return fmt.Errorf("stopped while starting (log: %s)", m.logPath)
	case <-ctx.Done():
		return fmt.Errorf("not ready: %w", ctx.Err())
	case <-t.C:
		return fmt.Errorf("not ready after %s (log: %s)", readyTimeout, m.logPath)
	case <-c.slot.Closing():
		return fmt.Errorf("not ready: %w", errClosed)
	}
}

// halt makes e stop at once, like a killed process: the raft loop stops
// (no leadership transfer, no more appends or votes, WAL and backend
// closed) and the client and peer listeners close, so the ports are free
// and new connections are refused. Requests in flight fail at once.
func halt(e *embed.Etcd) {
	if e.Server != nil {
		e.Server.HardStop()
	}
	for _, l := range e.Peers {
		if l != nil && l.Listener != nil {
			l.Close()
		}
	}
	for _, l := range e.Clients {
		if l != nil {
			l.Close()
		}
	}
}

// hardStop halts e and then tears it down with etcd's Close, which must
// come after HardStop: on a member that never became ready, Close alone
// waits forever for the client servers. With the server halted, Close
// skips the leadership transfer (the raft node is gone); it may still wait
// up to 1 s for peer connections to go idle.
func hardStop(e *embed.Etcd) {
	halt(e)
	e.Close()
}

// detach takes the running etcd of m (under mu) and marks m down.
func (c *embeddedCluster) detach(m *member) (*embed.Etcd, *os.File) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, lf := m.etcd, m.logFile
	m.etcd, m.logFile = nil, nil
	if m.state == stateUp {
		m.state = stateDown
	}
	return e, lf
}

// kill halts m's running server and leaves the rest of its teardown
// (etcd's Close, which can take a second) to a background goroutine:
// m.retired is closed when it is done. startMember waits for it before
// reusing the data directory and ports, and Close waits for all of them.
func (c *embeddedCluster) kill(m *member) {
	e, lf := c.detach(m)
	if e == nil {
		return
	}
	halt(e)
	done := make(chan struct{})
	c.mu.Lock()
	m.retired = done
	c.mu.Unlock()
	c.teardown.Go(func() {
		e.Close()
		lf.Close()
		close(done)
	})
}

// stopAll kills every member that runs and waits for their teardown.
func (c *embeddedCluster) stopAll(ctx context.Context) error {
	for _, m := range c.snapshotMembers() {
		c.kill(m)
	}
	done := make(chan struct{})
	go func() {
		c.teardown.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("etcd: waiting for members to shut down: %w", ctx.Err())
	}
}

// acquire implements host: it takes the operation slot.
func (c *embeddedCluster) acquire(ctx context.Context) (context.Context, func(), error) {
	ctx, release, err := c.slot.Acquire(ctx)
	if errors.Is(err, driverkit.ErrClosed) {
		err = errClosed
	}
	return ctx, release, err
}

// done implements host.
func (c *embeddedCluster) done() <-chan struct{} { return c.slot.Closing() }

// printf implements host.
func (c *embeddedCluster) printf(format string, args ...any) { c.logf(format, args...) }

// viewOf is m as membership sees it; the caller holds mu.
func viewOf(m *member) memberView {
	return memberView{memberRef: memberRef{index: m.index, name: m.name, id: m.id, endpoint: m.endpoint()}, running: m.running()}
}

// view implements host.
func (c *embeddedCluster) view(index int) (memberView, error) {
	m, err := c.lookup(index)
	if err != nil {
		return memberView{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return viewOf(m), nil
}

// views implements host.
func (c *embeddedCluster) views() []memberView {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []memberView
	for _, m := range c.members {
		if m.state != stateRemoved {
			out = append(out, viewOf(m))
		}
	}
	return out
}

// snapshotMembers returns the member list as it is now.
func (c *embeddedCluster) snapshotMembers() []*member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.members)
}

// lookup returns the member with index, which must not be removed.
func (c *embeddedCluster) lookup(index int) (*member, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if index < 1 || index > len(c.members) {
		return nil, fmt.Errorf("etcd: no node %d (nodes are 1..%d)", index, len(c.members))
	}
	m := c.members[index-1]
	if m.state == stateRemoved {
		return nil, fmt.Errorf("etcd: node%d was removed from the cluster", index)
	}
	return m, nil
}

func (c *embeddedCluster) addresses() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, m := range c.members {
		if m.state != stateRemoved {
			parts = append(parts, m.name+"="+m.clientURL.Host)
		}
	}
	return strings.Join(parts, " ")
}

// Info implements drivers.Cluster.
func (c *embeddedCluster) Info(ctx context.Context) (drivers.ClusterInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	info := drivers.ClusterInfo{DB: "etcd", DBVersion: version.Version, Config: c.opts.config()}
	for _, m := range c.members {
		if m.state == stateRemoved {
			continue
		}
		info.Nodes = append(info.Nodes, drivers.NodeInfo{
			Index: m.index, Name: m.name, Address: m.clientURL.Host, Up: m.running(),
		})
	}
	return info, nil
}

// NewClient implements drivers.Cluster: a clientv3 client on the client
// endpoints of all members (running or not; clientv3 sends requests only
// to endpoints it is connected to and reconnects to restarted ones).
func (c *embeddedCluster) NewClient(ctx context.Context) (drivers.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return openClient(&c.clients, c.endpoints(), c.memberIndex)
}

// Close implements drivers.Cluster: it closes the clients NewClient
// opened and kills every running member, then waits until their teardown
// is over (ports closed, goroutines gone). It keeps WorkDir. It is
// idempotent: a Close that ran out of ctx can be called again. ctx bounds
// the wait for an operation in progress (which Close asks to abort) and
// for the teardown.
func (c *embeddedCluster) Close(ctx context.Context) error {
	release, err := c.slot.Shut(ctx)
	if err != nil {
		return fmt.Errorf("etcd: close: waiting for a running operation: %w", err)
	}
	defer release()
	var errs []error
	if err := c.clients.CloseAll(clientset.Closer[*client]); err != nil {
		errs = append(errs, err)
	}
	if err := c.stopAll(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// KillNode implements drivers.NodeController: the member stops at once
// without any hand-over (EtcdServer.HardStop) and its ports close. It
// returns as soon as the member is dead; the rest of the teardown runs in
// the background (StartNode and Close wait for it).
func (c *embeddedCluster) KillNode(ctx context.Context, index int) error {
	return c.stopNode(ctx, index, "kill", false)
}

// StopNode implements drivers.NodeController: etcd's graceful Close
// (a leader first hands its leadership over).
func (c *embeddedCluster) StopNode(ctx context.Context, index int) error {
	return c.stopNode(ctx, index, "stop", true)
}

// withMember runs op on the member with this index in the operation slot.
func (c *embeddedCluster) withMember(ctx context.Context, index int, verb string, op func(ctx context.Context, m *member) error) error {
	ctx, release, err := c.acquire(ctx)
	if err != nil {
		return fmt.Errorf("etcd: %s node%d: %w", verb, index, err)
	}
	defer release()
	m, err := c.lookup(index)
	if err != nil {
		return err
	}
	return op(ctx, m)
}

func (c *embeddedCluster) stopNode(ctx context.Context, index int, verb string, graceful bool) error {
	return c.withMember(ctx, index, verb, func(_ context.Context, m *member) error { return c.stop(m, verb, graceful) })
}

func (c *embeddedCluster) stop(m *member, verb string, graceful bool) error {
	index := m.index
	c.mu.Lock()
	up := m.state == stateUp
	c.mu.Unlock()
	if !up {
		return fmt.Errorf("etcd: %s node%d: the node is not running", verb, index)
	}
	begin := time.Now()
	if graceful {
		e, lf := c.detach(m)
		e.Close()
		lf.Close()
	} else {
		c.kill(m)
	}
	c.logf("etcd: %s %s took %s", verb, m.name, time.Since(begin).Round(time.Millisecond))
	return nil
}

// StartNode implements drivers.NodeController: it restarts a stopped or
// killed member on its data directory and ports, and waits until ready.
func (c *embeddedCluster) StartNode(ctx context.Context, index int) error {
	return c.withMember(ctx, index, "start", c.start)
}

func (c *embeddedCluster) start(ctx context.Context, m *member) error {
	index := m.index
	c.mu.Lock()
	state, e := m.state, m.etcd
	c.mu.Unlock()
	if state == stateUp {
		select {
		case <-e.Server.StopNotify():
			// The server stopped by itself: release its ports, then start.
			c.kill(m)
		default:
			return fmt.Errorf("etcd: start node%d: the node is already running", index)
		}
	}
	if err := c.startMember(ctx, m); err != nil {
		return fmt.Errorf("etcd: start node%d: %w", index, err)
	}
	return nil
}

// currentLeader implements host: the running members' own view, no
// request.
func (c *embeddedCluster) currentLeader(context.Context) (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var answers []leaderAnswer
	for _, m := range c.members {
		if m.running() {
			answers = append(answers, leaderAnswer{memberRef: memberRef{index: m.index, name: m.name, id: m.id},
				follows: uint64(m.etcd.Server.Leader())})
		}
	}
	return leaderByVote(answers)
}

// embeddedJoiner is a member AddNode adds.
type embeddedJoiner struct {
	c *embeddedCluster
	m *member
}

// newJoiner implements host: the next index, with ports of its own.
func (c *embeddedCluster) newJoiner() (joiner, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	m := c.newMember(len(c.members)+1, ports[0], ports[1])
	c.mu.Unlock()
	if _, err := os.Stat(m.dir); err == nil {
		return nil, fmt.Errorf("etcd: add %s: data directory %s already exists", m.name, m.dir)
	}
	return embeddedJoiner{c, m}, nil
}

func (j embeddedJoiner) name() string    { return j.m.name }
func (j embeddedJoiner) peerURL() string { return j.m.peerURL.String() }

func (j embeddedJoiner) admit(resp *clientv3.MemberAddResponse) error {
	j.m.initialCluster = joinCluster(resp, j.m.name)
	j.m.clusterState = embed.ClusterStateFlagExisting
	j.c.mu.Lock()
	defer j.c.mu.Unlock()
	j.m.id = resp.Member.ID
	j.c.members = append(j.c.members, j.m)
	return nil
}

func (j embeddedJoiner) start(ctx context.Context) error { return j.c.startMember(ctx, j.m) }
func (j embeddedJoiner) clear() error                    { return os.RemoveAll(j.m.dir) }
func (j embeddedJoiner) joined() int                     { return j.m.index }

func (j embeddedJoiner) abandon() {
	j.c.mu.Lock()
	defer j.c.mu.Unlock()
	j.m.state = stateRemoved
}

// retire implements host: the member may notice its removal and stop by
// itself for a moment, then it is stopped for good.
func (c *embeddedCluster) retire(ctx context.Context, index int) error {
	m, err := c.lookup(index)
	if err != nil {
		return err
	}
	c.mu.Lock()
	e := m.etcd
	c.mu.Unlock()
	if e != nil {
		t := time.NewTimer(removedStopWait)
		select {
		case <-e.Server.StopNotify():
		case <-t.C:
		case <-ctx.Done():
		case <-c.slot.Closing():
		}
		t.Stop()
		c.kill(m)
	}
	c.mu.Lock()
	m.state = stateRemoved
	c.mu.Unlock()
	return nil
}
