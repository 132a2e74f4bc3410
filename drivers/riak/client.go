package riak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"
	_ "unsafe" // go:linkname, to quiet riak-go-client's logger

	riakgo "github.com/basho/riak-go-client"

	"github.com/evalrun/evalrun/drivers"
)

// riak-go-client logs every failed dial and health check to os.Stderr
// through package-level loggers with no exported setter; a node that is
// down on purpose would fill the terminal. They are pointed at io.Discard
// once (RIAK_GO_CLIENT_DEBUG=1 keeps them).
//
//go:linkname riakLogger github.com/basho/riak-go-client.logger
var riakLogger *log.Logger

//go:linkname riakErrLogger github.com/basho/riak-go-client.errLogger
var riakErrLogger *log.Logger

var quietOnce sync.Once

func quietRiakClient() {
	quietOnce.Do(func() {
		if os.Getenv("RIAK_GO_CLIENT_DEBUG") != "" {
			return
		}
		riakLogger = log.New(io.Discard, "", 0)
		riakErrLogger = log.New(io.Discard, "", 0)
	})
}

// Client connection settings.
const (
	clientMaxConns    = 256
	clientConnTimeout = 2 * time.Second
	clientHealthEvery = 500 * time.Millisecond
	clientAttempts    = 2 // a second node when the first fails to answer
)

// client spreads operations over the cluster's live nodes through
// riak-go-client's Cluster, with a NodeManager of evalrun's own
// (servingManager) so that it can say which node coordinated each
// operation (drivers.ServingClient).
type client struct {
	opts     options
	rc       *riakgo.Cluster
	mgr      *servingManager
	onClose  func(*client)
	mu       sync.Mutex
	nodes    map[int]*riakgo.Node // by node index
	closed   bool
	siblings atomic.Int64
}

var (
	_ drivers.Client         = (*client)(nil)
	_ drivers.ServingClient  = (*client)(nil)
	_ drivers.SiblingCounter = (*client)(nil)
	_ drivers.StrictReader   = (*client)(nil)
	_ drivers.ReadDescriber  = (*client)(nil)
)

// nodeExecute is riak-go-client's (*Node).execute: it sends cmd on one of
// the node's connections and reports whether the node executed it. The
// library exports no way for a NodeManager of one's own to run a command
// on the node it picked (its own manager calls this unexported method).
//
//go:linkname nodeExecute github.com/basho/riak-go-client.(*Node).execute
func nodeExecute(n *riakgo.Node, cmd riakgo.Command) (bool, error)

// servingManager is a riakgo.NodeManager: round robin over the nodes, a
// node that cannot take the command (its health check is failing, no free
// connection) skipped, the node that failed the previous attempt avoided,
// as riak-go-client's default manager does. It differs in two ways: it
// records the node that executed each command, and it tries each node at
// most once per attempt (the default manager loops without end when every
// node is down and its round robin index started at 0, burning a core
// until a node comes back, even after the Cluster is stopped).
type servingManager struct {
	next   atomic.Uint64
	mu     sync.Mutex
	index  map[*riakgo.Node]int // node index, set by the client
	served map[riakgo.Command]int
}

func newServingManager() *servingManager {
	return &servingManager{index: map[*riakgo.Node]int{}, served: map[riakgo.Command]int{}}
}

var errNoNode = errors.New("no node to execute on")

// ExecuteOnNode implements riakgo.NodeManager.
func (m *servingManager) ExecuteOnNode(nodes []*riakgo.Node, cmd riakgo.Command, previous *riakgo.Node) (bool, error) {
	if len(nodes) == 0 {
		return false, errNoNode
	}
	start := m.next.Add(1)
	err := errNoNode
	for i := range len(nodes) {
		n := nodes[(start+uint64(i))%uint64(len(nodes))]
		if len(nodes) > 1 && n == previous {
			continue
		}
		executed, xerr := nodeExecute(n, cmd)
		err = xerr
		m.mu.Lock()
		m.served[cmd] = m.index[n] // the last node tried, executed or not
		m.mu.Unlock()
		if executed {
			return true, err
		}
	}
	return false, err
}

// setIndex names node n by the cluster's node index (0 forgets it).
func (m *servingManager) setIndex(n *riakgo.Node, index int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if index == 0 {
		delete(m.index, n)
		return
	}
	m.index[n] = index
}

// take returns and forgets the node index that executed cmd last (0 when
// no node was tried).
func (m *servingManager) take(cmd riakgo.Command) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.served[cmd]
	delete(m.served, cmd)
	return i
}

// peek returns the node index cmd was last sent to, keeping it.
func (m *servingManager) peek(cmd riakgo.Command) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.served[cmd]
}

func newRiakNode(addr string) (*riakgo.Node, error) {
	return riakgo.NewNode(&riakgo.NodeOptions{
		RemoteAddress:       addr,
		MinConnections:      1,
		MaxConnections:      clientMaxConns,
		ConnectTimeout:      clientConnTimeout,
		RequestTimeout:      30 * time.Second, // operations carry their own deadline
		HealthCheckInterval: clientHealthEvery,
	})
}

// startRiakCluster starts a riak-go-client Cluster of nodes run by mgr.
func startRiakCluster(nodes []*riakgo.Node, mgr *servingManager, attempts byte) (*riakgo.Cluster, error) {
	rc, err := riakgo.NewCluster(&riakgo.ClusterOptions{Nodes: nodes, NoDefaultNode: true, NodeManager: mgr, ExecutionAttempts: attempts})
	if err != nil {
		return nil, err
	}
	if err := rc.Start(); err != nil {
		return nil, err
	}
	return rc, nil
}

// NewClient implements drivers.Cluster.
func (c *cluster) NewClient(ctx context.Context) (drivers.Client, error) {
	return c.newClient(ctx)
}

func (c *cluster) newClient(ctx context.Context) (*client, error) {
	quietRiakClient()
	cl := &client{opts: c.opts, nodes: map[int]*riakgo.Node{}, mgr: newServingManager(), onClose: c.clients.Remove}
	var rnodes []*riakgo.Node
	for _, n := range c.Live() {
		rn, err := newRiakNode(n.pbAddr())
		if err != nil {
			return nil, fmt.Errorf("riak: client for %s: %w", n.Name, err)
		}
		cl.nodes[n.Index] = rn
		cl.mgr.setIndex(rn, n.Index)
		rnodes = append(rnodes, rn)
	}
	if len(rnodes) == 0 {
		return nil, errors.New("riak: no node is up for a client")
	}
	rc, err := startRiakCluster(rnodes, cl.mgr, clientAttempts)
	if err != nil {
		return nil, fmt.Errorf("riak: client: %w", err)
	}
	cl.rc = rc
	if err := c.clients.Add(cl); err != nil {
		_ = rc.Stop()
		return nil, errClosed
	}
	return cl, nil
}

func (c *cluster) eachClient(f func(*client)) {
	for _, cl := range c.clients.Snapshot() {
		f(cl)
	}
}

// addToClients makes every open client use a new node.
func (c *cluster) addToClients(n *node) {
	c.eachClient(func(cl *client) {
		rn, err := newRiakNode(n.pbAddr())
		if err != nil {
			c.Logf("riak: client for %s: %v", n.Name, err)
			return
		}
		cl.mu.Lock()
		defer cl.mu.Unlock()
		if cl.closed || cl.nodes[n.Index] != nil {
			return
		}
		cl.mgr.setIndex(rn, n.Index)
		if err := cl.rc.AddNode(rn); err != nil {
			cl.mgr.setIndex(rn, 0)
			c.Logf("riak: client: add %s: %v", n.Name, err)
			return
		}
		cl.nodes[n.Index] = rn
	})
}

// dropFromClients stops every open client from using a node that leaves.
func (c *cluster) dropFromClients(n *node) {
	c.eachClient(func(cl *client) {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		rn := cl.nodes[n.Index]
		if cl.closed || rn == nil {
			return
		}
		if err := cl.rc.RemoveNode(rn); err != nil {
			c.Logf("riak: client: remove %s: %v", n.Name, err)
			return
		}
		delete(cl.nodes, n.Index)
		// Its index stays known: a command in flight on it still says so.
	})
}

// execute runs cmd and waits for it or for ctx, and returns the node that
// executed it (on failure, the last node tried; 0 when none was).
// riak-go-client takes no context: the command also carries ctx's
// deadline as its server-side timeout, and an abandoned command finishes
// in the background.
func (cl *client) execute(ctx context.Context, cmd riakgo.Command) (int, error) {
	done := make(chan riakgo.Command, 1) // buffered: an abandoned command must not block
	a := &riakgo.Async{Command: cmd, Done: done}
	if err := cl.rc.ExecuteAsync(a); err != nil {
		return 0, unavailable(err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		// The abandoned command's entry is dropped when it completes.
		node := cl.mgr.peek(cmd) // the node it was sent to, if any yet
		go func() { <-done; cl.mgr.take(cmd) }()
		return node, ctx.Err()
	}
	node := cl.mgr.take(cmd)
	err := a.Error
	if err == nil {
		err = cmd.Error()
	}
	if err != nil {
		if ctx.Err() != nil {
			return node, ctx.Err()
		}
		return node, unavailable(err)
	}
	return node, nil
}

// unavailable wraps a client error as drivers.ErrUnavailable, keeping the
// cause reachable with errors.Is/As (a refused connection, a timeout).
func unavailable(err error) error {
	return fmt.Errorf("riak: %w: %w", drivers.ErrUnavailable, err)
}

// serverTimeout is the timeout a request asks Riak to honour: what is left
// of ctx, so Riak gives up about when the caller does.
func serverTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 10*time.Millisecond {
			return d
		}
		return 10 * time.Millisecond
	}
	return 0
}

// Put implements drivers.Client: a blind write (no vector clock). With
// allow_mult=false the last write wins; with allow_mult=true concurrent
// blind writes become siblings.
func (cl *client) Put(ctx context.Context, key string, value []byte) error {
	_, err := cl.PutServed(ctx, key, value)
	return err
}

// PutServed implements drivers.ServingClient.
func (cl *client) PutServed(ctx context.Context, key string, value []byte) (int, error) {
	v := make([]byte, len(value)) // the caller reuses value
	copy(v, value)
	b := riakgo.NewStoreValueCommandBuilder().
		WithBucketType(cl.opts.bucketType).WithBucket(cl.opts.bucket).WithKey(key).
		WithContent(&riakgo.Object{Value: v, ContentType: "application/octet-stream"}).
		WithW(cl.opts.w.pb).WithPw(cl.opts.pw.pb)
	if t := serverTimeout(ctx); t > 0 {
		b = b.WithTimeout(t)
	}
	cmd, err := b.Build()
	if err != nil {
		return 0, fmt.Errorf("riak: put %s: %w", key, err)
	}
	return cl.execute(ctx, cmd)
}

// Get implements drivers.Client. A read that returns siblings is counted
// (SiblingReads) and resolved to the most recently modified one (not found
// when that one is a delete's tombstone).
func (cl *client) Get(ctx context.Context, key string) ([]byte, error) {
	v, _, err := cl.fetch(ctx, key, cl.opts.r.pb, cl.opts.pr.pb, cl.opts.notFoundOK)
	return v, err
}

// GetServed implements drivers.ServingClient.
func (cl *client) GetServed(ctx context.Context, key string) ([]byte, int, error) {
	return cl.fetch(ctx, key, cl.opts.r.pb, cl.opts.pr.pb, cl.opts.notFoundOK)
}

// ReadSettings implements drivers.ReadDescriber.
func (cl *client) ReadSettings() string {
	return fmt.Sprintf("r=%s, pr=%s, notfound_ok=%t, basic_quorum=false (n_val %d)", cl.opts.r.name, cl.opts.pr.name, cl.opts.notFoundOK, cl.opts.nval)
}

// GetStrict implements drivers.StrictReader: every primary replica must
// answer (pr=all), each not-found counts as an answer (notfound_ok=true),
// and Riak merges every value it got (r=all). So it answers not found only
// when all n_val primaries hold nothing, whatever order the replies come
// in. The obvious "r=all, notfound_ok=false" does not: Riak stops at the
// first not-found (its fail threshold is n - r + 1 = 1) and answers not
// found even when the replicas still to reply hold the value.
func (cl *client) GetStrict(ctx context.Context, key string) ([]byte, error) {
	v, _, err := cl.fetch(ctx, key, quorumAll, quorumAll, true)
	return v, err
}

// StrictReadSettings implements drivers.StrictReader.
func (cl *client) StrictReadSettings() string {
	return "r=all, pr=all, notfound_ok=true: every primary replica answers, and a value on any of them counts"
}

func (cl *client) fetch(ctx context.Context, key string, r, pr uint32, notFoundOK bool) ([]byte, int, error) {
	b := riakgo.NewFetchValueCommandBuilder().
		WithBucketType(cl.opts.bucketType).WithBucket(cl.opts.bucket).WithKey(key).
		WithR(r).WithPr(pr).WithNotFoundOk(notFoundOK).WithBasicQuorum(false)
	if t := serverTimeout(ctx); t > 0 {
		b = b.WithTimeout(t)
	}
	cmd, err := b.Build()
	if err != nil {
		return nil, 0, fmt.Errorf("riak: get %s: %w", key, err)
	}
	node, err := cl.execute(ctx, cmd)
	if err != nil {
		return nil, node, err
	}
	resp := cmd.(*riakgo.FetchValueCommand).Response
	if resp == nil || resp.IsNotFound {
		return nil, node, drivers.ErrNotFound
	}
	v, siblings := resolveSiblings(resp.Values)
	if siblings {
		cl.siblings.Add(1)
	}
	if v == nil {
		return nil, node, drivers.ErrNotFound
	}
	return v.Value, node, nil
}

// resolveSiblings picks the most recently modified sibling; a tombstone
// (a delete) that is newest means the key is gone (nil). siblings reports
// whether Riak returned more than one value.
func resolveSiblings(values []*riakgo.Object) (best *riakgo.Object, siblings bool) {
	for _, o := range values {
		if o == nil {
			continue
		}
		if best == nil || o.LastModified.After(best.LastModified) {
			best = o
		}
	}
	if best != nil && best.IsTombstone {
		best = nil
	}
	return best, len(values) > 1
}

// Delete implements drivers.Client.
func (cl *client) Delete(ctx context.Context, key string) error {
	_, err := cl.DeleteServed(ctx, key)
	return err
}

// DeleteServed implements drivers.ServingClient.
func (cl *client) DeleteServed(ctx context.Context, key string) (int, error) {
	b := riakgo.NewDeleteValueCommandBuilder().
		WithBucketType(cl.opts.bucketType).WithBucket(cl.opts.bucket).WithKey(key).
		WithW(cl.opts.w.pb).WithPw(cl.opts.pw.pb).WithR(cl.opts.r.pb).WithPr(cl.opts.pr.pb)
	if t := serverTimeout(ctx); t > 0 {
		b = b.WithTimeout(t)
	}
	cmd, err := b.Build()
	if err != nil {
		return 0, fmt.Errorf("riak: delete %s: %w", key, err)
	}
	return cl.execute(ctx, cmd)
}

// SiblingReads implements drivers.SiblingCounter.
func (cl *client) SiblingReads() int64 { return cl.siblings.Load() }

// Close implements drivers.Client.
func (cl *client) Close() error {
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		return nil
	}
	cl.closed = true
	cl.mu.Unlock()
	if cl.onClose != nil {
		cl.onClose(cl)
	}
	return cl.rc.Stop()
}

// storeBucketProps sets n_val, allow_mult and notfound_ok on the bucket
// (used with the default bucket type).
func (cl *client) storeBucketProps(ctx context.Context) error {
	cmd, err := riakgo.NewStoreBucketPropsCommandBuilder().
		WithBucketType(cl.opts.bucketType).WithBucket(cl.opts.bucket).
		WithNVal(uint32(cl.opts.nval)).WithAllowMult(cl.opts.allowMult).WithNotFoundOk(cl.opts.notFoundOK).
		Build()
	if err != nil {
		return fmt.Errorf("riak: bucket properties: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := cl.execute(ctx, cmd); err != nil {
		return fmt.Errorf("riak: set bucket properties: %w", err)
	}
	return nil
}

// serverInfo asks the node at addr for its Riak version over Protocol
// Buffers.
func serverInfo(ctx context.Context, addr string) (string, error) {
	quietRiakClient()
	rn, err := newRiakNode(addr)
	if err != nil {
		return "", err
	}
	mgr := newServingManager()
	rc, err := startRiakCluster([]*riakgo.Node{rn}, mgr, 1)
	if err != nil {
		return "", err
	}
	defer func() { _ = rc.Stop() }()
	cl := &client{rc: rc, mgr: mgr}
	cmd := &riakgo.GetServerInfoCommand{}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cl.execute(ctx, cmd); err != nil {
		return "", err
	}
	if cmd.Response == nil {
		return "", errors.New("riak: no server info")
	}
	return cmd.Response.ServerVersion, nil
}
