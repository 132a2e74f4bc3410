package mem

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/evalrun/evalrun/drivers"
)

// errClosed: the cluster was closed.
var errClosed = fmt.Errorf("mem: cluster is closed: %w", drivers.ErrUnavailable)

const (
	// maxLog is how many entries the log keeps; beyond it the older half
	// is dropped and a node that still lacks some of them catches up
	// from a copy of the leader's map instead.
	maxLog = 1 << 17
	// waitPoll is how often a call that waits for a leader looks again.
	waitPoll = 5 * time.Millisecond
	// leaderWait caps how long a call waits for a leader to be elected.
	leaderWait = 10 * time.Second
)

type nodeState int

const (
	nodeUp      nodeState = iota
	nodeDown              // killed or stopped
	nodeRemoved           // taken out of the cluster; its index is not reused
)

// node is one member. Everything in it is guarded by cluster.mu.
type node struct {
	index int
	name  string
	state nodeState
	// paused is non-nil while the node is paused; Resume closes it.
	paused chan struct{}
	group  int // partition group; every node is in group 0 when healed
	// recv counts the log entries the node holds (an absolute index: the
	// log's entry i is the i-th write ever appended); applied those of
	// them applied to kv.
	recv, applied int64
	kv            map[string][]byte
	// diverged: the node holds entries the log no longer has (a leader
	// killed before it replicated them) or lacks entries the log dropped:
	// it catches up from a copy of the leader's map.
	diverged bool
}

func (n *node) reachable() bool { return n.state == nodeUp && n.paused == nil }

// entry is one write of the log. Its value is never modified.
type entry struct {
	key   string
	value []byte // nil for a delete
	at    time.Time
}

// cluster is a running mem cluster.
type cluster struct {
	opts    options
	logf    func(format string, args ...any)
	closing chan struct{} // closed by Close: waits end

	mu        sync.Mutex
	closed    bool
	nodes     []*node // nodes[i] has index i+1; removed nodes stay
	log       []entry // entries base+1 .. base+len(log)
	base      int64
	leader    int       // 1-based; 0 while there is none
	lostAt    time.Time // when the last leader was lost
	term      int
	rng       *rand.Rand // the writes lose-acked-writes drops
	dropped   int64      // writes lose-acked-writes dropped
	truncated int64      // acknowledged entries a new leader did not have
	// slow holds the degraded nodes by index (degrade.go).
	slow map[int]*slowNode
}

var (
	_ drivers.Cluster          = (*cluster)(nil)
	_ drivers.NodeController   = (*cluster)(nil)
	_ drivers.Pauser           = (*cluster)(nil)
	_ drivers.Partitioner      = (*cluster)(nil)
	_ drivers.Membership       = (*cluster)(nil)
	_ drivers.Settler          = (*cluster)(nil)
	_ drivers.Roles            = (*cluster)(nil)
	_ drivers.BackupRestorer   = (*cluster)(nil)
	_ drivers.GaugeReporter    = (*cluster)(nil)
	_ drivers.ReplicaInspector = (*cluster)(nil)
)

// start starts a cluster of spec.Nodes nodes, each holding data (nil:
// empty). Node 1 leads.
func start(ctx context.Context, spec drivers.ClusterSpec, data map[string][]byte) (*cluster, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mem: start: %w", err)
	}
	if spec.Nodes < 1 || spec.Nodes > maxNodes {
		return nil, fmt.Errorf("mem: %d nodes: want 1 to %d", spec.Nodes, maxNodes)
	}
	if spec.Provider != drivers.ProviderEmbedded && spec.Provider != "" {
		return nil, fmt.Errorf("mem: provider %q: %w", spec.Provider, drivers.ErrNotSupported)
	}
	opts, err := parseOptions(spec.Options)
	if err != nil {
		return nil, err
	}
	if err := drivers.RefuseResources("mem", spec); err != nil {
		return nil, err // mem models no machine: its nodes share the evalrun process
	}
	logf := spec.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	c := &cluster{opts: opts, logf: logf, closing: make(chan struct{}), leader: 1, term: 1,
		rng: rand.New(rand.NewPCG(uint64(opts.bugSeed), 0))}
	for i := 1; i <= spec.Nodes; i++ {
		c.nodes = append(c.nodes, &node{index: i, name: nodeName(i), kv: maps.Clone(data)})
		if c.nodes[i-1].kv == nil {
			c.nodes[i-1].kv = map[string][]byte{}
		}
	}
	logf("mem: %d nodes ready (bug: %s)", spec.Nodes, opts.bug)
	return c, nil
}

func nodeName(i int) string { return "node" + strconv.Itoa(i) }

// last is the index of the log's newest entry.
func (c *cluster) last() int64 { return c.base + int64(len(c.log)) }

func (c *cluster) entryAt(i int64) *entry { return &c.log[i-c.base-1] }

// majority is how many of the members (the nodes not removed) make a
// quorum.
func (c *cluster) majority() int { return c.members()/2 + 1 }

// hasQuorum: the nodes of group that are reachable make a majority.
func (c *cluster) hasQuorum(group int) bool {
	k := 0
	for _, n := range c.nodes {
		if n.reachable() && n.group == group {
			k++
		}
	}
	return k >= c.majority()
}

// validLeader returns the leader while it is valid; when it no longer is,
// it records the loss (the election timeout runs from now) and returns nil.
func (c *cluster) validLeader(now time.Time) *node {
	if c.leader == 0 {
		return nil
	}
	l := c.nodes[c.leader-1]
	if l.reachable() && c.hasQuorum(l.group) {
		return l
	}
	c.leader, c.lostAt = 0, now
	c.logf("mem: %s lost the leadership", l.name)
	return nil
}

// handOver ends the leadership of the leader now, without an election
// timeout (a graceful stop, a removal), once its followers hold all it
// has.
func (c *cluster) handOver(now time.Time) {
	if l := c.leaderNode(); l != nil {
		for _, n := range c.nodes {
			if n != l && n.reachable() && n.group == l.group {
				c.deliver(l, n, now, 0)
			}
		}
	}
	c.leader, c.lostAt = 0, now.Add(-c.opts.election)
}

func (c *cluster) leaderNode() *node {
	if c.leader == 0 {
		return nil
	}
	return c.nodes[c.leader-1]
}

// leaderNow returns the valid leader, electing one when the election
// timeout since the last one was lost has passed; nil when there is none.
func (c *cluster) leaderNow(now time.Time) *node {
	if l := c.validLeader(now); l != nil {
		return l
	}
	if now.Before(c.lostAt.Add(c.opts.election)) {
		return nil
	}
	return c.elect(now)
}

// elect makes the reachable node of a quorum that holds the most of the
// log the leader (the lowest index among equals). Entries it lacks leave
// the log: in an honest cluster none was acknowledged.
func (c *cluster) elect(now time.Time) *node {
	var best *node
	for _, n := range c.nodes {
		if !n.reachable() || n.diverged || !c.hasQuorum(n.group) {
			continue
		}
		if best == nil || n.recv > best.recv {
			best = n
		}
	}
	if best == nil {
		return nil
	}
	if cut := c.last() - best.recv; cut > 0 {
		c.truncated += cut
		c.log = c.log[:best.recv-c.base]
		c.logf("mem: %s elected without the last %d entries of the log (acknowledged, now lost)", best.name, cut)
		for _, n := range c.nodes {
			if n.recv > best.recv {
				n.diverged = true
			}
		}
	}
	c.apply(best, now, 0)
	c.leader = best.index
	c.term++
	c.logf("mem: %s elected leader (term %d)", best.name, c.term)
	return best
}

// deliver sends n the entries it lacks that the leader appended at least
// delay ago (a copy of the leader's map when the log lacks them), and
// applies what is due.
func (c *cluster) deliver(l, n *node, now time.Time, delay time.Duration) {
	if n.diverged || n.recv < c.base || n.recv > c.last() {
		n.kv = maps.Clone(l.kv)
		n.recv, n.applied, n.diverged = l.applied, l.applied, false
	}
	for n.recv < c.last() && !c.entryAt(n.recv+1).at.After(now.Add(-delay)) {
		n.recv++
	}
	c.apply(n, now, c.opts.applyDelay())
}

// apply applies the entries n holds that were appended at least delay ago.
func (c *cluster) apply(n *node, now time.Time, delay time.Duration) {
	for n.applied < n.recv {
		if n.applied < c.base {
			return // caught up by deliver from a copy
		}
		e := c.entryAt(n.applied + 1)
		if e.at.After(now.Add(-delay)) {
			return
		}
		if e.value == nil {
			delete(n.kv, e.key)
		} else {
			n.kv[e.key] = e.value
		}
		n.applied++
	}
}

// advance brings every node the leader reaches up to date as of now, by
// the cluster's delays. Every call that reads or changes the cluster
// calls it first.
func (c *cluster) advance(now time.Time) {
	l := c.leaderNode()
	if l == nil || !l.reachable() {
		return
	}
	for _, n := range c.nodes {
		if n != l && n.reachable() && n.group == l.group {
			c.deliver(l, n, now, c.opts.replicationDelay())
		}
	}
}

// compact drops the older half of a full log; nodes that lacked some of it
// catch up from a copy.
func (c *cluster) compact() {
	if len(c.log) < maxLog {
		return
	}
	drop := len(c.log) / 2
	c.base += int64(drop)
	c.log = slices.Clone(c.log[drop:])
	for _, n := range c.nodes {
		if n.applied < c.base {
			n.diverged = true
		}
	}
}

// lookup returns node index (not removed), under mu.
func (c *cluster) lookup(index int) (*node, error) {
	if index < 1 || index > len(c.nodes) {
		return nil, fmt.Errorf("mem: no node %d (nodes are 1..%d)", index, len(c.nodes))
	}
	n := c.nodes[index-1]
	if n.state == nodeRemoved {
		return nil, fmt.Errorf("mem: %s was removed from the cluster", n.name)
	}
	return n, nil
}

// locked runs f under mu after advancing the cluster to now.
func (c *cluster) locked(f func(now time.Time) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errClosed
	}
	now := time.Now()
	c.advance(now)
	return f(now)
}

// onNode runs f on node index under mu.
func (c *cluster) onNode(ctx context.Context, verb string, index int, f func(n *node, now time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem: %s node%d: %w", verb, index, err)
	}
	err := c.locked(func(now time.Time) error {
		n, err := c.lookup(index)
		if err != nil {
			return err
		}
		if err := f(n, now); err != nil {
			return fmt.Errorf("mem: %s %s: %w", verb, n.name, err)
		}
		c.logf("mem: %s %s", verb, n.name)
		return nil
	})
	return err
}

// waitLeader waits (within ctx and leaderWait) for a leader and runs f
// with it under mu.
func (c *cluster) waitLeader(ctx context.Context, f func(l *node, now time.Time) error) error {
	t := time.NewTimer(leaderWait)
	defer t.Stop()
	for {
		var l *node
		err := c.locked(func(now time.Time) error {
			if l = c.leaderNow(now); l != nil {
				return f(l, now)
			}
			return nil
		})
		if err != nil || l != nil {
			return err
		}
		select {
		case <-time.After(waitPoll):
		case <-ctx.Done():
			return fmt.Errorf("mem: no leader: %w", ctx.Err())
		case <-t.C:
			return fmt.Errorf("mem: no leader after %s (no quorum): %w", leaderWait, drivers.ErrUnavailable)
		case <-c.closing:
			return errClosed
		}
	}
}

// Info implements drivers.Cluster.
func (c *cluster) Info(ctx context.Context) (drivers.ClusterInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	info := drivers.ClusterInfo{DB: Name, DBVersion: "1 (in-memory reference store, not a database)", Config: c.opts.config()}
	for _, n := range c.nodes {
		if n.state != nodeRemoved {
			info.Nodes = append(info.Nodes, drivers.NodeInfo{Index: n.index, Name: n.name, Address: Address, Up: n.state == nodeUp})
		}
	}
	return info, nil
}

// Address is every node's address: a node has no listener.
const Address = "in-process"

// NewClient implements drivers.Cluster.
func (c *cluster) NewClient(ctx context.Context) (drivers.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &client{c: c}, nil
}

// Close implements drivers.Cluster: operations in flight and later ones
// fail. It is idempotent.
func (c *cluster) Close(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.closing)
	}
	return nil
}
