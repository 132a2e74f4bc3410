package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/clientset"
	"github.com/evalrun/evalrun/internal/driverkit"
	"github.com/evalrun/evalrun/internal/servedby"
)

// Client tuning. Operations carry their own deadline (the scenario's
// timeout); these only keep a dead or frozen node from holding a worker
// beyond it.
const (
	clientDialTimeout   = time.Second
	clientReadTimeout   = time.Second
	clientWriteTimeout  = time.Second
	clientPoolTimeout   = time.Second
	clientPoolSize      = 64 // per node
	clientMaxRedirects  = 3
	clientStateInterval = 2 * time.Second        // periodic CLUSTER SLOTS reload
	reloadEvery         = 250 * time.Millisecond // at most one error-triggered reload per this
	staleRetries        = 5                      // retries of an op routed to a removed node
)

// errNoRoute: a node address the host cannot reach (no published port).
var errNoRoute = errors.New("no published port for this node address")

// addrMapper translates an address nodes use among themselves
// ("172.20.0.3:6379") to the published one the host dials
// ("127.0.0.1:23456"); docker.Cluster.HostAddr is one.
type addrMapper func(internal string) (string, bool)

// hostDialer returns a go-redis Dialer that never dials a container IP: an
// address on 127.0.0.1 (the seeds) is dialled as is, any other is mapped
// with m, and an address m does not know (a removed node) is an error
// wrapping drivers.ErrUnavailable, reported to unknown (if not nil) first.
func hostDialer(m addrMapper, timeout time.Duration, unknown func()) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		target, err := mapAddr(m, addr)
		if err != nil {
			if unknown != nil {
				unknown()
			}
			return nil, err
		}
		return d.DialContext(ctx, network, target)
	}
}

// mapAddr is the address translation of hostDialer.
func mapAddr(m addrMapper, addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("redis: bad node address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
		return addr, nil
	}
	if m != nil {
		if a, ok := m(addr); ok {
			return a, nil
		}
	}
	return "", fmt.Errorf("redis: dial %s: %w (%w)", addr, errNoRoute, drivers.ErrUnavailable)
}

// clusterClientOptions are the go-redis options of a drivers.Client;
// unknown is called when the slot map names a node the host cannot reach.
func clusterClientOptions(seeds []string, m addrMapper, unknown func()) *goredis.ClusterOptions {
	return &goredis.ClusterOptions{
		Addrs:                 seeds,
		Dialer:                hostDialer(m, clientDialTimeout, unknown),
		MaxRedirects:          clientMaxRedirects,
		ReadOnly:              false, // reads go to masters
		RouteByLatency:        false,
		RouteRandomly:         false,
		Protocol:              2,
		DisableIdentity:       true,
		DialTimeout:           clientDialTimeout,
		DialerRetries:         1,
		DialerRetryTimeout:    50 * time.Millisecond,
		ReadTimeout:           clientReadTimeout,
		WriteTimeout:          clientWriteTimeout,
		ContextTimeoutEnabled: true,
		PoolSize:              clientPoolSize,
		PoolTimeout:           clientPoolTimeout,
		// go-redis retries CLUSTERDOWN, TRYAGAIN, LOADING and connection
		// errors up to MaxRedirects times: keep those retries short, so an
		// unavailable cluster fails operations fast (MOVED/ASK redirects are
		// followed at once).
		MinRetryBackoff:            4 * time.Millisecond,
		MaxRetryBackoff:            32 * time.Millisecond,
		FailingTimeoutSeconds:      2,
		ClusterStateReloadInterval: clientStateInterval,
		MaintNotificationsConfig:   &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}

// client is a drivers.Client on a go-redis ClusterClient.
type client struct {
	cc         *goredis.ClusterClient
	lastReload atomic.Int64 // unix nanos of the last error-triggered reload
	tracked    clientset.Tracked
	// nodes maps a node address of the slot map to its index (served.go);
	// nil: the client does not say which node served.
	nodes *servedby.Index[string]
}

var _ drivers.Client = (*client)(nil)

// newClient opens a client on seeds; nodeOf, when not nil, gives the
// index of the node at an address of the slot map (0: none).
func newClient(seeds []string, m addrMapper, nodeOf func(addr string) int) *client {
	c := &client{}
	if nodeOf != nil {
		c.nodes = servedby.New(nodeOf)
	}
	// A slot map that names a node without a published port is stale (the
	// node was removed): reload it while go-redis retries the command.
	c.cc = goredis.NewClusterClient(clusterClientOptions(seeds, m, func() { c.reload(context.Background()) }))
	return c
}

// Put implements drivers.Client (SET). go-redis writes the value to the
// connection before Set returns, so value is not kept.
func (c *client) Put(ctx context.Context, key string, value []byte) error {
	err := c.retryStale(ctx, func() error { return c.cc.Set(ctx, key, value, 0).Err() })
	if err != nil {
		return c.fail(ctx, "put", err)
	}
	return nil
}

// ReadSettings implements drivers.ReadDescriber.
func (c *client) ReadSettings() string {
	return "GET on the master that owns the key's slot (no reads from replicas)"
}

// Get implements drivers.Client (GET); a missing key is drivers.ErrNotFound.
func (c *client) Get(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	err := c.retryStale(ctx, func() error {
		var err error
		b, err = c.cc.Get(ctx, key).Bytes()
		return err
	})
	if errors.Is(err, goredis.Nil) {
		return nil, drivers.ErrNotFound
	}
	if err != nil {
		return nil, c.fail(ctx, "get", err)
	}
	return b, nil
}

// Delete implements drivers.Client (DEL); deleting a missing key is fine.
func (c *client) Delete(ctx context.Context, key string) error {
	err := c.retryStale(ctx, func() error { return c.cc.Del(ctx, key).Err() })
	if err != nil {
		return c.fail(ctx, "delete", err)
	}
	return nil
}

// retryStale runs op and, while it fails because the slot map names a node
// the host cannot reach (a removed node: nothing was sent), retries it a
// few times as the reload the dialer asked for lands.
func (c *client) retryStale(ctx context.Context, op func() error) error {
	err := op()
	for i := 1; i <= staleRetries && err != nil && errors.Is(err, errNoRoute); i++ {
		if sleepCtx(ctx, time.Duration(i)*10*time.Millisecond) != nil {
			break
		}
		err = op()
	}
	return err
}

// Close implements drivers.Client. It is idempotent.
func (c *client) Close() error { return c.tracked.Close(c.cc.Close) }

// fail maps err and, when it may mean the slot map changed (a failover, a
// node gone), asks go-redis to reload the slot map: go-redis reloads by
// itself only on MOVED/ASK, which a dead master never sends. Reloads are
// rate-limited (reloadEvery) and run in the background.
func (c *client) fail(ctx context.Context, op string, err error) error {
	mapped := mapError(ctx, op, err)
	if errors.Is(mapped, drivers.ErrUnavailable) || errors.Is(mapped, context.DeadlineExceeded) {
		c.reload(ctx)
	}
	return mapped
}

// reload asks go-redis to reload the slot map in the background, at most
// once per reloadEvery.
func (c *client) reload(ctx context.Context) {
	now := time.Now().UnixNano()
	last := c.lastReload.Load()
	if now-last >= int64(reloadEvery) && c.lastReload.CompareAndSwap(last, now) && c.cc != nil {
		c.cc.ReloadState(context.WithoutCancel(ctx))
	}
}

// unavailablePrefixes are Redis error replies that mean "cannot serve this
// now": the cluster is down or has no master for the slot, a slot is
// migrating (multi-key), the replica lost its master, the node is loading
// its dataset, a write reached a former master, redirects ran out.
var unavailablePrefixes = []string{"CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "LOADING", "READONLY", "MOVED", "ASK", "NOREPLICAS", "BUSY"}

// mapError classifies an error of go-redis for the recorder:
//   - the caller's deadline, an i/o timeout (a frozen node) -> wraps
//     context.DeadlineExceeded; cancellation -> context.Canceled;
//   - CLUSTERDOWN, TRYAGAIN, MASTERDOWN, LOADING (and READONLY, MOVED/ASK
//     after the last redirect), connection refused/reset, EOF, a closed pool
//     or client, a node address that has no published port ->
//     wraps drivers.ErrUnavailable.
//
// The original error stays in the chain.
func mapError(ctx context.Context, op string, err error) error {
	return driverkit.MapError(ctx, "redis "+op, err, isUnavailable)
}

func isUnavailable(err error) bool {
	if driverkit.ConnectionError(err) || errors.Is(err, goredis.ErrClosed) || errors.Is(err, goredis.ErrPoolTimeout) {
		return true
	}
	var re goredis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, p := range unavailablePrefixes {
			if strings.HasPrefix(msg, p+" ") || msg == p {
				return true
			}
		}
		return false
	}
	msg := err.Error()
	for _, p := range unavailablePrefixes {
		if strings.HasPrefix(msg, p+" ") {
			return true
		}
	}
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "broken pipe") || strings.Contains(msg, "use of closed network connection") ||
		strings.Contains(msg, "client is closed")
}
