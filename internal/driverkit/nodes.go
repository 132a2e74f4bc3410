package driverkit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/docker"
)

// State is what the driver did to a node last.
type State int

const (
	StateUp      State = iota
	StateDown          // killed or stopped
	StatePaused        // frozen (docker pause)
	StateLeaving       // leaving the cluster; still runs until its data moved (Riak)
	StateRemoved       // no longer a member (or an index reserved, not started yet)
)

func (s State) String() string {
	switch s {
	case StateUp:
		return "up"
	case StateDown:
		return "down"
	case StatePaused:
		return "paused"
	case StateLeaving:
		return "leaving"
	case StateRemoved:
		return "removed"
	}
	return "?"
}

// Node is one container node of a cluster. A driver's node type embeds it
// and adds what is its database's own (a Redis node ID, a Riak data
// directory). Its state belongs to the Base and is read through it.
type Node struct {
	Index int          // 1-based, never reused
	Name  string       // node<Index>: container hostname
	DN    *docker.Node // nil until its container started
	state State
}

func (n *Node) kit() *Node { return n }

// Member is a driver's node type: anything that embeds Node.
type Member interface{ kit() *Node }

// Base is the half of a docker-backed cluster every driver shares: the run
// on Docker, the node table and the node controls with one set of rules.
// A driver's cluster type embeds *Base[*node], so that it implements
// drivers.NodeController, drivers.Pauser and drivers.Partitioner, and
// overrides a method only where its database needs more.
type Base[N Member] struct {
	Driver  string // "redis": every error starts with it
	Engine  *docker.Engine
	Docker  *docker.Cluster
	RunID   string
	Image   string
	ImageID string
	Logf    func(format string, args ...any)
	// StopGrace is how long StopNode waits after SIGTERM before SIGKILL.
	StopGrace time.Duration
	// AfterStart runs after a node's container started again (Redis
	// announces its IP); nil for nothing.
	AfterStart func(ctx context.Context, n N) error
	// BeforeClose runs first in Close (the driver closes its clients).
	BeforeClose func()

	mu     sync.Mutex
	nodes  []N // by Index-1, removed ones and gaps included
	closed bool

	dockerVersion string // the daemon's, for the report (ClusterInfo)
	dbVersion     string // the database's, once a node told it (DBVersion)

	slot Slot // node controls, membership changes and backups: one at a time

	limits limits // cluster.resources and the degraded nodes (degrade.go)
}

// Acquire takes the operation slot: node controls, membership changes and
// backups of a cluster run one at a time. The returned context ends when
// ctx does or when Close begins; release gives the slot back.
func (b *Base[N]) Acquire(ctx context.Context) (opCtx context.Context, release func(), err error) {
	opCtx, release, err = b.slot.Acquire(ctx)
	if errors.Is(err, ErrClosed) {
		err = b.errf("%w", err)
	}
	return opCtx, release, err
}

// Closing is closed when Close begins: a long wait of the driver's own
// (a retry loop) ends on it.
func (b *Base[N]) Closing() <-chan struct{} { return b.slot.Closing() }

// ClusterInfo is the part of drivers.ClusterInfo the Base knows; the
// config also names the Docker daemon's version (docker-server), so that
// reports say where they ran.
func (b *Base[N]) ClusterInfo(db, version string, config map[string]string) drivers.ClusterInfo {
	if config == nil {
		config = map[string]string{}
	}
	if b.dockerVersion != "" {
		config["docker-server"] = b.dockerVersion
	}
	return drivers.ClusterInfo{DB: db, DBVersion: version, Image: b.Image, ImageID: b.ImageID, Config: config}
}

// DBVersion is the database's version: asked of the live nodes in turn
// until one tells it (a non-empty answer), then remembered. With no answer
// it returns "" and the last error.
func (b *Base[N]) DBVersion(ctx context.Context, ask func(ctx context.Context, n N) (string, error)) (string, error) {
	b.mu.Lock()
	version := b.dbVersion
	b.mu.Unlock()
	if version != "" {
		return version, nil
	}
	var lastErr error
	for _, n := range b.Live() {
		v, err := ask(ctx, n)
		if err != nil {
			lastErr = err
			continue
		}
		if v != "" {
			b.mu.Lock()
			b.dbVersion = v
			b.mu.Unlock()
			return v, nil
		}
	}
	return "", lastErr
}

// Open connects to Docker (sweeping what crashed runs left unless
// spec.Swept), resolves the image (choice's order; spec.Image overrides)
// and creates the run's networks under spec.RunID made valid. It starts
// no node.
func Open[N Member](ctx context.Context, driver string, spec drivers.ClusterSpec, choice docker.ImageChoice) (*Base[N], error) {
	logf := spec.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	e, err := docker.ConnectSwept(ctx, logf, spec.Swept)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", driver, err)
	}
	choice.Asked = spec.Image
	ref, id, err := e.ResolveImage(ctx, choice)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", driver, err)
	}
	if spec.Image == "" && choice.Official != "" && ref != choice.Official {
		logf("%s: %s is not available; using %s", driver, choice.Official, ref)
	}
	runID := docker.RunIDFrom(spec.RunID, driver)
	dc, err := e.NewCluster(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", driver, err)
	}
	b := &Base[N]{Driver: driver, Engine: e, Docker: dc, RunID: runID, Image: ref, ImageID: id, Logf: logf,
		StopGrace: 10 * time.Second, limits: limitsOf(spec)}
	if v, err := e.ServerVersion(ctx); err == nil {
		b.dockerVersion = v
	}
	return b, nil
}

// ErrClosed is returned by every call on a closed cluster.
var ErrClosed = errors.New("cluster is closed")

func (b *Base[N]) logf(format string, args ...any) {
	if b.Logf != nil {
		b.Logf(format, args...)
	}
}

func (b *Base[N]) errf(format string, args ...any) error {
	return fmt.Errorf(b.Driver+": "+format, args...)
}

// Closed reports whether Close was called.
func (b *Base[N]) Closed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Reserve adds nodes at the given indexes (0: the next free one), made by
// newNode(index) and removed until SetState says otherwise. Gaps below an
// index become removed placeholders, so the table keeps one entry per
// index.
func (b *Base[N]) Reserve(indexes []int, newNode func(index int) N) ([]N, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, b.errf("%w", ErrClosed)
	}
	out := make([]N, len(indexes))
	for i, idx := range indexes {
		if idx == 0 {
			idx = len(b.nodes) + 1
		}
		if idx <= len(b.nodes) {
			return nil, b.errf("node %d exists already", idx)
		}
		for len(b.nodes) < idx {
			n := newNode(len(b.nodes) + 1)
			k := n.kit()
			k.Index, k.Name, k.state = len(b.nodes)+1, "node"+strconv.Itoa(len(b.nodes)+1), StateRemoved
			b.nodes = append(b.nodes, n)
		}
		out[i] = b.nodes[idx-1]
	}
	return out, nil
}

// Launch runs start for every node at once (Docker serialises much of a
// container start, but the waits overlap) and joins the errors.
func Launch[N Member](ctx context.Context, ns []N, start func(ctx context.Context, n N) error) error {
	errs := make([]error, len(ns))
	var wg sync.WaitGroup
	for i, n := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = start(ctx, n)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Attach records the container a node runs in and marks it up.
func (b *Base[N]) Attach(n N, dn *docker.Node) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := n.kit()
	k.DN, k.state = dn, StateUp
}

// Node returns the member with this index (not removed).
func (b *Base[N]) Node(index int) (N, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var zero N
	if b.closed {
		return zero, b.errf("%w", ErrClosed)
	}
	if index < 1 || index > len(b.nodes) {
		return zero, b.errf("no node %d (nodes are 1..%d)", index, len(b.nodes))
	}
	n := b.nodes[index-1]
	if n.kit().state == StateRemoved {
		return zero, b.errf("node %d was removed", index)
	}
	return n, nil
}

// All returns every entry of the table, removed ones included, by index.
func (b *Base[N]) All() []N {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]N(nil), b.nodes...)
}

func (b *Base[N]) where(keep func(State) bool) []N {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []N
	for _, n := range b.nodes {
		if keep(n.kit().state) {
			out = append(out, n)
		}
	}
	return out
}

// Live are the nodes that are up (not down, paused or leaving), by index.
func (b *Base[N]) Live() []N { return b.where(func(s State) bool { return s == StateUp }) }

// Members are the nodes not removed (up, down, paused or leaving).
func (b *Base[N]) Members() []N { return b.where(func(s State) bool { return s != StateRemoved }) }

// State is what was done to n last.
func (b *Base[N]) State(n N) State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return n.kit().state
}

// SetState records what was done to n.
func (b *Base[N]) SetState(n N, s State) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n.kit().state = s
}

// NodeInfos lists the members as the report shows them.
func (b *Base[N]) NodeInfos(name, addr func(N) string) []drivers.NodeInfo {
	var out []drivers.NodeInfo
	for _, n := range b.Members() {
		r := b.NodeResources(n.kit().Index)
		out = append(out, drivers.NodeInfo{Index: n.kit().Index, Name: name(n), Address: addr(n), Up: b.State(n) == StateUp,
			CPUs: r.CPUs, MemoryBytes: r.MemoryBytes})
	}
	return out
}

// Exclusive runs op in the operation slot (Acquire): a membership change,
// a backup, anything that must not overlap another. An error taking the
// slot names the operation (verb).
func Exclusive[N Member, T any](ctx context.Context, b *Base[N], verb string, op func(ctx context.Context) (T, error)) (T, error) {
	ctx, release, err := b.Acquire(ctx)
	if err != nil {
		var zero T
		return zero, b.errf("%s: %w", verb, err)
	}
	defer release()
	return op(ctx)
}

// WithNode runs op on the member with this index in the operation slot:
// an error taking the slot names the operation (verb) and the node, a
// node that is not a member is refused before op runs.
func (b *Base[N]) WithNode(ctx context.Context, index int, verb string, op func(ctx context.Context, n N) error) error {
	ctx, release, err := b.Acquire(ctx)
	if err != nil {
		return b.errf("%s node%d: %w", verb, index, err)
	}
	defer release()
	n, err := b.Node(index)
	if err != nil {
		return err
	}
	return op(ctx, n)
}

// control runs one node control on a member (WithNode): it checks that
// the node's state allows the action (check returns why not), acts on its
// container, records the state it leaves and logs how long it took.
func (b *Base[N]) control(ctx context.Context, index int, verb string, check func(State) string,
	act func(ctx context.Context, n N) error, after func(State) State) error {
	return b.WithNode(ctx, index, verb, func(ctx context.Context, n N) error {
		if why := check(b.State(n)); why != "" {
			return b.errf("%s %s: %s", verb, n.kit().Name, why)
		}
		begin := time.Now()
		if err := act(ctx, n); err != nil {
			return b.errf("%s %s: %w", verb, n.kit().Name, err)
		}
		b.mu.Lock()
		n.kit().state = after(n.kit().state)
		b.mu.Unlock()
		b.logf("%s: %s %s took %s", b.Driver, verb, n.kit().Name, time.Since(begin).Round(time.Millisecond))
		return nil
	})
}

// The rules every driver's node controls share.
func mustRun(s State) string {
	if s == StateDown {
		return "the node is not running"
	}
	return ""
}

func becomes(s State) func(State) State { return func(State) State { return s } }

// KillNode implements drivers.NodeController: SIGKILL to the container
// (a paused one is thawed first). The node must be running.
func (b *Base[N]) KillNode(ctx context.Context, index int) error {
	return b.control(ctx, index, "kill", mustRun,
		func(ctx context.Context, n N) error { return n.kit().DN.Kill(ctx) }, becomes(StateDown))
}

// StopNode implements drivers.NodeController: SIGTERM, SIGKILL after
// StopGrace. The node must be running.
func (b *Base[N]) StopNode(ctx context.Context, index int) error {
	return b.control(ctx, index, "stop", mustRun,
		func(ctx context.Context, n N) error { return n.kit().DN.Stop(ctx, b.StopGrace) }, becomes(StateDown))
}

// StartNode implements drivers.NodeController: the same container starts
// again (same data, IP and host ports), waits until it is ready and runs
// AfterStart. A node that is running cannot be started; one whose
// container stopped by itself can. A node that does not come up is killed
// again and stays down.
func (b *Base[N]) StartNode(ctx context.Context, index int) error {
	return b.control(ctx, index, "start", func(State) string { return "" }, func(ctx context.Context, n N) error {
		dn := n.kit().DN
		if b.State(n) != StateDown {
			if st, err := dn.State(ctx); err == nil && st.Running {
				return errors.New("the node is already running")
			}
		}
		err := dn.Start(ctx)
		if err == nil && b.AfterStart != nil {
			err = b.AfterStart(ctx, n)
		}
		if err != nil {
			kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			_ = dn.Kill(kctx)
			cancel()
			b.SetState(n, StateDown)
			return err
		}
		return nil
	}, becomes(StateUp))
}

// PauseNode implements drivers.Pauser (docker pause). A node that is down
// cannot be paused.
func (b *Base[N]) PauseNode(ctx context.Context, index int) error {
	return b.control(ctx, index, "pause", mustRun,
		func(ctx context.Context, n N) error { return n.kit().DN.Pause(ctx) }, becomes(StatePaused))
}

// ResumeNode implements drivers.Pauser (docker unpause). A node that is
// down cannot be resumed; one leaving stays leaving.
func (b *Base[N]) ResumeNode(ctx context.Context, index int) error {
	return b.control(ctx, index, "resume", mustRun,
		func(ctx context.Context, n N) error { return n.kit().DN.Unpause(ctx) },
		func(s State) State {
			if s == StatePaused {
				return StateUp
			}
			return s
		})
}

// Partition implements drivers.Partitioner. Nodes in no group join the
// first group, and the largest group (the earliest of equals) stays on the
// run network: a database that gossips run-network IPs keeps its majority
// whole.
func (b *Base[N]) Partition(ctx context.Context, groups [][]int) error {
	_, err := Exclusive(ctx, b, "partition", func(ctx context.Context) (struct{}, error) {
		plan, err := b.PartitionPlan(groups)
		if err != nil {
			return struct{}{}, err
		}
		dgroups := make([][]*docker.Node, len(plan))
		for i, g := range plan {
			for _, n := range g {
				dgroups[i] = append(dgroups[i], n.kit().DN)
			}
		}
		if err := b.Docker.Partition(ctx, dgroups); err != nil {
			return struct{}{}, b.errf("%w", err)
		}
		return struct{}{}, nil
	})
	return err
}

// PartitionPlan resolves groups of indexes to members, adds the members
// in no group to the first group and puts the largest group first.
func (b *Base[N]) PartitionPlan(groups [][]int) ([][]N, error) {
	if len(groups) == 0 {
		return nil, b.errf("partition: no groups")
	}
	seen := map[int]bool{}
	plan := make([][]N, len(groups))
	for gi, g := range groups {
		for _, idx := range g {
			n, err := b.Node(idx)
			if err != nil {
				return nil, fmt.Errorf("partition: %w", err)
			}
			if seen[idx] {
				return nil, b.errf("partition: node %d is in two groups", idx)
			}
			seen[idx] = true
			plan[gi] = append(plan[gi], n)
		}
	}
	for _, n := range b.Members() {
		if !seen[n.kit().Index] {
			plan[0] = append(plan[0], n)
		}
	}
	return LargestFirst(plan), nil
}

// LargestFirst moves the largest group (the earliest of equals) to the
// front, keeping the others in order.
func LargestFirst[T any](groups [][]T) [][]T {
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
func (b *Base[N]) Heal(ctx context.Context) error {
	_, err := Exclusive(ctx, b, "heal", func(ctx context.Context) (struct{}, error) {
		if err := b.Docker.Heal(ctx); err != nil {
			return struct{}{}, b.errf("%w", err)
		}
		return struct{}{}, nil
	})
	return err
}

// Close implements drivers.Cluster: the operation in progress is asked to
// stop (and waited for, briefly), BeforeClose runs, then every container
// and network of the run goes. It is idempotent.
func (b *Base[N]) Close(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if release, err := b.slot.Shut(wctx); err == nil {
		defer release()
	}
	cancel()
	b.mu.Lock()
	b.closed = true
	for _, n := range b.nodes {
		if k := n.kit(); k.state != StateRemoved {
			k.state = StateDown
		}
	}
	b.mu.Unlock()
	if b.BeforeClose != nil {
		b.BeforeClose()
	}
	if err := b.Docker.Close(ctx); err != nil {
		return b.errf("%w", err)
	}
	return nil
}

// CloseAfterFailure removes everything after a failed start or restore,
// with a deadline of its own (ctx may be what failed), and logs what it
// could not remove.
func (b *Base[N]) CloseAfterFailure(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), docker.CloseTimeout+5*time.Second)
	defer cancel()
	if err := b.Close(cctx); err != nil {
		b.logf("%s: cleanup after a failed start: %v", b.Driver, err)
	}
}
