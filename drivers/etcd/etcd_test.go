package etcd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/drivertest"
)

// startTestCluster starts an embedded cluster of n members in a fresh
// directory and closes it when the test ends.
func startTestCluster(t *testing.T, n int, opts map[string]string) *embeddedCluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	begin := time.Now()
	cl, err := New().StartCluster(ctx, drivers.ClusterSpec{
		Provider: drivers.ProviderEmbedded,
		Nodes:    n,
		WorkDir:  t.TempDir(),
		RunID:    t.Name(),
		Options:  opts,
		Logf:     t.Logf,
	})
	if err != nil {
		t.Fatalf("StartCluster: %v", err)
	}
	t.Logf("cluster of %d started in %s", n, time.Since(begin).Round(time.Millisecond))
	c := cl.(*embeddedCluster)
	t.Cleanup(func() { drivertest.CloseCluster(t, c) })
	return c
}

func mustGet(t *testing.T, cli drivers.Client, key string, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	got, err := cli.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if string(got) != want {
		t.Fatalf("get %s = %q, want %q", key, got, want)
	}
}

// portFree reports whether addr can be listened on.
func portFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

func TestDriver(t *testing.T) {
	d := New()
	if d.Name() != "etcd" || d.Description() == "" || strings.Contains(d.Description(), "\n") {
		t.Fatalf("name %q description %q", d.Name(), d.Description())
	}
	if ps := d.Providers(); len(ps) != 2 || ps[0] != drivers.ProviderEmbedded || ps[1] != drivers.ProviderDocker {
		t.Fatalf("providers %v", ps)
	}
	// Capabilities come from the cluster types (drivers.CapabilitiesOf):
	// the embedded members run in this process and cannot be paused or
	// cut off; the containers can.
	emb, err := d.Plan(drivers.ProviderEmbedded, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if drivers.Supports(emb.Capabilities, drivers.CapPause) || drivers.Supports(emb.Capabilities, drivers.CapPartition) ||
		!drivers.Supports(emb.Capabilities, drivers.CapKill) || !drivers.Supports(emb.Capabilities, drivers.CapBackup) {
		t.Errorf("embedded capabilities %v", emb.Capabilities)
	}
	dock, err := d.Plan(drivers.ProviderDocker, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !drivers.Supports(dock.Capabilities, drivers.CapPause) || !drivers.Supports(dock.Capabilities, drivers.CapPartition) {
		t.Errorf("docker capabilities %v", dock.Capabilities)
	}
	if dock.Nodes != 3 || strings.Join(dock.Roles, ",") != "leader,follower" {
		t.Errorf("docker topology %+v", dock)
	}
	if _, err := d.Plan("k8s", 3, nil); !errors.Is(err, drivers.ErrNotSupported) {
		t.Errorf("unknown provider: %v", err)
	}
	var oe *drivers.OptionError
	if _, err := d.Plan(drivers.ProviderEmbedded, 3, map[string]string{"election-timeout-ms": "300", "heartbeat-interval-ms": "100"}); !errors.As(err, &oe) || oe.Name != "election-timeout-ms" {
		t.Errorf("election below 5 heartbeats: %v", err)
	}
	ib, ok := d.(drivers.ImageBuilder)
	if !ok || ib.DefaultImage() == "" {
		t.Fatalf("the driver is not an ImageBuilder with a default image")
	}
}

func TestStartClusterErrors(t *testing.T) {
	tests := []struct {
		name string
		spec drivers.ClusterSpec
		want string
		is   error
	}{
		{"unknown option", drivers.ClusterSpec{Nodes: 1, Options: map[string]string{"heartbeat-ms": "10"}},
			`unknown option "heartbeat-ms" (known: election-timeout-ms, heartbeat-interval-ms, snapshot-count)`, nil},
		{"not a number", drivers.ClusterSpec{Nodes: 1, Options: map[string]string{"snapshot-count": "many"}},
			"snapshot-count", nil},
		{"zero", drivers.ClusterSpec{Nodes: 1, Options: map[string]string{"heartbeat-interval-ms": "0"}},
			"want an integer from 1", nil},
		{"election too short", drivers.ClusterSpec{Nodes: 1, Options: map[string]string{"heartbeat-interval-ms": "100", "election-timeout-ms": "400"}},
			"at least 5 times", nil},
		{"no nodes", drivers.ClusterSpec{Nodes: 0}, "at least 1 node", nil},
		{"unknown provider", drivers.ClusterSpec{Nodes: 1, Provider: "k8s"}, "k8s", drivers.ErrNotSupported},
		{"docker no nodes", drivers.ClusterSpec{Nodes: 0, Provider: drivers.ProviderDocker}, "at least 1 node", nil},
		{"docker unknown option", drivers.ClusterSpec{Nodes: 1, Provider: drivers.ProviderDocker, Options: map[string]string{"x": "1"}},
			`unknown option "x"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.WorkDir = t.TempDir()
			tt.spec.Logf = t.Logf
			c, err := New().StartCluster(t.Context(), tt.spec)
			if err == nil {
				drivertest.CloseCluster(t, c)
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

func TestStartClusterTimeout(t *testing.T) {
	// A context that ends while the members start: an error, and nothing
	// is left running.
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	c, err := New().StartCluster(ctx, drivers.ClusterSpec{Nodes: 3, WorkDir: dir, Logf: t.Logf})
	if err == nil {
		drivertest.CloseCluster(t, c)
		t.Skip("the cluster started within 30ms")
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v is not a deadline", err)
	}
	// A goroutine of a member that was shutting down may still be on its
	// way out (seen "runnable" in goexit under load): wait for them, as
	// TestClose does, bounded.
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, g := etcdGoroutines()
		if n == 0 || strings.Contains(g, "abortPendingRead") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d etcd goroutines left, e.g.\n%s", n, g)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMapError(t *testing.T) {
	expired, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	ctx := t.Context()
	tests := []drivertest.ErrorCase{
		{Name: "grpc no leader", Ctx: ctx, Err: rpctypes.ErrGRPCNoLeader, Is: []error{drivers.ErrUnavailable}, Not: []error{context.DeadlineExceeded}},
		{Name: "etcd no leader", Ctx: ctx, Err: rpctypes.ErrNoLeader, Is: []error{drivers.ErrUnavailable}},
		{Name: "etcd stopped", Ctx: ctx, Err: rpctypes.ErrStopped, Is: []error{drivers.ErrUnavailable}},
		{Name: "etcd timeout", Ctx: ctx, Err: rpctypes.ErrTimeout, Is: []error{drivers.ErrUnavailable}},
		{Name: "transport", Ctx: ctx, Err: status.Error(codes.Unavailable, "connection refused"), Is: []error{drivers.ErrUnavailable}},
		{Name: "too many requests", Ctx: ctx, Err: rpctypes.ErrTooManyRequests, Is: []error{drivers.ErrUnavailable}},
		{Name: "grpc deadline", Ctx: expired, Err: status.Error(codes.DeadlineExceeded, "context deadline exceeded"), Is: []error{context.DeadlineExceeded}, Not: []error{drivers.ErrUnavailable}},
		{Name: "etcd deadline", Ctx: ctx, Err: rpctypes.ErrGRPCDeadlineExceeded, Is: []error{context.DeadlineExceeded}},
		{Name: "ctx deadline", Ctx: expired, Err: context.DeadlineExceeded, Is: []error{context.DeadlineExceeded}},
		{Name: "ctx canceled", Ctx: ctx, Err: context.Canceled, Is: []error{context.Canceled}, Not: []error{drivers.ErrUnavailable}},
		{Name: "other", Ctx: ctx, Err: rpctypes.ErrKeyNotFound, Not: []error{drivers.ErrUnavailable, context.DeadlineExceeded}},
	}
	drivertest.CheckErrorMapping(t, mapError, tests)
}

// etcdGoroutines counts goroutines running etcd server or client code, or
// serving or using a connection (net/http, gRPC), which only etcd does in
// this test binary.
func etcdGoroutines() (int, string) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	var first string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "go.etcd.io/etcd/server/") || strings.Contains(g, "go.etcd.io/etcd/client/v3") ||
			strings.Contains(g, "net/http.(*conn).serve") || strings.Contains(g, "google.golang.org/grpc") {
			n++
			if first == "" {
				first = g
			}
		}
	}
	return n, first
}

func TestConformance(t *testing.T) {
	c := startTestCluster(t, 3, nil)
	drivertest.Conformance(t, drivertest.Target{Driver: New(), Cluster: c,
		Spec: drivers.ClusterSpec{Provider: drivers.ProviderEmbedded, Nodes: 3}})
}

func TestRoundTrip(t *testing.T) {
	c := startTestCluster(t, 3, nil)
	cli := drivertest.NewClient(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.DB != "etcd" || info.DBVersion == "" || len(info.Nodes) != 3 ||
		info.Config["heartbeat-interval-ms"] != "100" || info.Config["election-timeout-ms"] != "1000" || info.Config["snapshot-count"] == "" {
		t.Fatalf("info %+v", info)
	}
	for i, n := range info.Nodes {
		if n.Index != i+1 || n.Name != "node"+strconv.Itoa(i+1) || !n.Up || !strings.HasPrefix(n.Address, "127.0.0.1:") {
			t.Errorf("node %+v", n)
		}
	}

	idx, err := c.LeaderIndex(ctx)
	if err != nil || idx < 1 || idx > 3 {
		t.Fatalf("leader %d, %v", idx, err)
	}
	drivertest.WaitSettled(t, c, 20*time.Second)

	// Close stops everything, twice is fine, and no etcd goroutine stays.
	if err := cli.Close(); err != nil {
		t.Errorf("client close: %v", err)
	}
	if err := cli.Close(); err != nil {
		t.Errorf("second client close: %v", err)
	}
	other := drivertest.NewClient(t, c) // closed by the cluster's Close
	begin := time.Now()
	drivertest.CloseCluster(t, c)
	t.Logf("close took %s", time.Since(begin).Round(time.Millisecond))
	drivertest.CloseCluster(t, c)
	if err := other.Put(ctx, "k", []byte("v")); err == nil {
		t.Error("put through a client of a closed cluster succeeded")
	}
	if _, err := c.NewClient(ctx); err == nil {
		t.Error("NewClient after Close succeeded")
	}
	if err := c.KillNode(ctx, 1); !errors.Is(err, errClosed) {
		t.Errorf("kill after close: %v", err)
	}
	for _, m := range c.members {
		if err := portFree(m.clientURL.Host); err != nil {
			t.Errorf("%s client port: %v", m.name, err)
		}
		if err := portFree(m.peerURL.Host); err != nil {
			t.Errorf("%s peer port: %v", m.name, err)
		}
	}
	// etcd's peer servers may keep a connection goroutine for up to its
	// 5 s read timeout after Close (net/http's abortPendingRead racing
	// etcd's timeoutConn, which resets the read deadline on every Read).
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, g := etcdGoroutines()
		if n == 0 {
			t.Logf("no etcd goroutine left %s after Close", time.Since(begin).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d etcd goroutines left after Close, e.g.:\n%s", n, g)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestKillLeader(t *testing.T) {
	c := startTestCluster(t, 3, nil)
	cli := drivertest.NewClient(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	drivertest.PutEventually(t, cli, "before", []byte("1"), 10*time.Second)

	// Load from 64 goroutines through one client while the leader dies.
	stop := make(chan struct{})
	var ok, unavailable, timeouts, other atomic.Int64
	var wg sync.WaitGroup
	var otherErr atomic.Value
	for g := range 64 {
		wg.Go(func() {
			value := []byte("value")
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				octx, ocancel := context.WithTimeout(ctx, 500*time.Millisecond)
				key := "load/" + strconv.Itoa(g)
				var err error
				if i%2 == 0 {
					err = cli.Put(octx, key, value)
				} else {
					_, err = cli.Get(octx, key)
				}
				ocancel()
				switch {
				case err == nil, errors.Is(err, drivers.ErrNotFound):
					ok.Add(1)
				case errors.Is(err, context.DeadlineExceeded):
					timeouts.Add(1)
				case errors.Is(err, drivers.ErrUnavailable):
					unavailable.Add(1)
				default:
					other.Add(1)
					otherErr.Store(err)
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)

	leader, err := c.LeaderIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	killed := c.members[leader-1]
	begin := time.Now()
	if err := c.KillNode(ctx, leader); err != nil {
		t.Fatalf("kill: %v", err)
	}
	killTook := time.Since(begin)
	tookPut := drivertest.PutEventually(t, cli, "after-kill", []byte("2"), 10*time.Second)
	t.Logf("kill node%d took %s; first put after it: %s after kill returned", leader, killTook.Round(time.Millisecond), tookPut.Round(time.Millisecond))
	fresh := drivertest.NewClient(t, c)
	drivertest.PutEventually(t, fresh, "fresh", []byte("3"), 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("load during kill: ok %d, unavailable %d, timeout %d, other %d", ok.Load(), unavailable.Load(), timeouts.Load(), other.Load())
	if other.Load() > 0 {
		t.Errorf("unclassified errors, e.g. %v", otherErr.Load())
	}

	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Nodes[leader-1].Up {
		t.Errorf("killed node reported up: %+v", info.Nodes[leader-1])
	}
	if err := c.KillNode(ctx, leader); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("kill of a killed node: %v", err)
	}
	if err := c.StopNode(ctx, leader); err == nil {
		t.Error("stop of a killed node succeeded")
	}
	if ok, detail, err := c.Settled(ctx); ok || err != nil || !strings.Contains(detail, killed.name) {
		t.Errorf("settled with a killed node: %v %q %v", ok, detail, err)
	}
	newLeader, err := c.LeaderIndex(ctx)
	if err != nil || newLeader == leader {
		t.Errorf("new leader %d (killed %d): %v", newLeader, leader, err)
	}
	for _, addr := range []string{killed.clientURL.Host, killed.peerURL.Host} {
		if err := portFree(addr); err != nil {
			t.Errorf("port of killed %s still taken: %v", killed.name, err)
		}
	}

	begin = time.Now()
	if err := c.StartNode(ctx, leader); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Logf("restart of node%d took %s", leader, time.Since(begin).Round(time.Millisecond))
	t.Logf("settled %s after restart", drivertest.WaitSettled(t, c, 20*time.Second).Round(time.Millisecond))
	mustGet(t, fresh, "after-kill", "2")
}

func TestStopStart(t *testing.T) {
	c := startTestCluster(t, 3, map[string]string{"heartbeat-interval-ms": "50", "election-timeout-ms": "500", "snapshot-count": "1000"})
	cli := drivertest.NewClient(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	info, _ := c.Info(ctx)
	if info.Config["election-timeout-ms"] != "500" || info.Config["snapshot-count"] != "1000" {
		t.Errorf("config %v", info.Config)
	}

	leader, err := c.LeaderIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := c.StopNode(ctx, leader); err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Logf("graceful stop of leader node%d took %s", leader, time.Since(begin).Round(time.Millisecond))
	t.Logf("first put after graceful stop: %s", drivertest.PutEventually(t, cli, "k", []byte("v"), 10*time.Second).Round(time.Millisecond))

	for _, tt := range []struct {
		name string
		op   func() error
		want string
	}{
		{"kill stopped", func() error { return c.KillNode(ctx, leader) }, "not running"},
		{"stop stopped", func() error { return c.StopNode(ctx, leader) }, "not running"},
		{"kill unknown", func() error { return c.KillNode(ctx, 9) }, "no node 9"},
		{"start unknown", func() error { return c.StartNode(ctx, 0) }, "no node 0"},
		{"start running", func() error { return c.StartNode(ctx, leader%3+1) }, "already running"},
	} {
		if err := tt.op(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}

	begin = time.Now()
	if err := c.StartNode(ctx, leader); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Logf("restart took %s", time.Since(begin).Round(time.Millisecond))
	drivertest.WaitSettled(t, c, 20*time.Second)
	if err := c.StartNode(ctx, leader); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("start of a running node: %v", err)
	}
	mustGet(t, cli, "k", "v")

	// Kill and restart at once: the restart waits for the killed server's
	// teardown and reuses its ports.
	other := leader%3 + 1
	begin = time.Now()
	if err := c.KillNode(ctx, other); err != nil {
		t.Fatalf("kill: %v", err)
	}
	killed := time.Since(begin)
	if err := c.StartNode(ctx, other); err != nil {
		t.Fatalf("start right after kill: %v", err)
	}
	t.Logf("kill node%d took %s, immediate restart %s", other, killed.Round(time.Millisecond), (time.Since(begin) - killed).Round(time.Millisecond))
	drivertest.WaitSettled(t, c, 20*time.Second)
}

func TestMembership(t *testing.T) {
	c := startTestCluster(t, 3, nil)
	cli := drivertest.NewClient(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	drivertest.PutEventually(t, cli, "k", []byte("v"), 10*time.Second)

	begin := time.Now()
	idx, err := c.AddNode(ctx)
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	if idx != 4 {
		t.Fatalf("added index %d, want 4", idx)
	}
	t.Logf("add took %s, settled %s later", time.Since(begin).Round(time.Millisecond), drivertest.WaitSettled(t, c, 20*time.Second).Round(time.Millisecond))
	info, _ := c.Info(ctx)
	if len(info.Nodes) != 4 || info.Nodes[3].Name != "node4" || !info.Nodes[3].Up {
		t.Fatalf("info after add %+v", info.Nodes)
	}
	// The new member serves the data.
	one, err := newEtcdClient([]string{c.members[3].endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	if resp, err := one.Get(ctx, "k"); err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("get on node4: %v %v", resp, err)
	}

	// Remove the leader: the hardest case.
	leader, err := c.LeaderIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	removed := c.members[leader-1]
	begin = time.Now()
	if err := c.RemoveNode(ctx, leader); err != nil {
		t.Fatalf("remove node%d: %v", leader, err)
	}
	t.Logf("remove of leader node%d took %s, settled %s later", leader, time.Since(begin).Round(time.Millisecond), drivertest.WaitSettled(t, c, 20*time.Second).Round(time.Millisecond))
	info, _ = c.Info(ctx)
	if len(info.Nodes) != 3 {
		t.Fatalf("info after remove %+v", info.Nodes)
	}
	for _, n := range info.Nodes {
		if n.Index == leader || !n.Up {
			t.Errorf("node after remove: %+v", n)
		}
	}
	for _, addr := range []string{removed.clientURL.Host, removed.peerURL.Host} {
		if err := portFree(addr); err != nil {
			t.Errorf("port of removed %s still taken: %v", removed.name, err)
		}
	}
	if err := c.KillNode(ctx, leader); err == nil || !strings.Contains(err.Error(), "removed") {
		t.Errorf("kill of a removed node: %v", err)
	}
	if err := c.RemoveNode(ctx, leader); err == nil {
		t.Error("second remove succeeded")
	}
	drivertest.PutEventually(t, cli, "k2", []byte("v2"), 10*time.Second)

	// Indexes are never reused.
	idx, err = c.AddNode(ctx)
	if err != nil || idx != 5 {
		t.Fatalf("second add: %d %v", idx, err)
	}
	drivertest.WaitSettled(t, c, 20*time.Second)
}

func TestBackupRestore(t *testing.T) {
	c := startTestCluster(t, 3, nil)
	cli := drivertest.NewClient(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	const keys = 200
	for i := range keys {
		if err := cli.Put(ctx, fmt.Sprintf("key/%03d", i), []byte(fmt.Sprintf("value-%d", i))); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}

	dir := filepath.Join(t.TempDir(), "backup")
	b, err := c.Backup(ctx, dir)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	t.Logf("backup %+v", b)
	fi, err := os.Stat(b.Path)
	if err != nil || fi.Size() != b.Bytes || b.Bytes == 0 || filepath.Base(b.Path) != "etcd-snapshot.db" {
		t.Fatalf("backup file %v %v, backup %+v", fi, err, b)
	}
	if rev, _ := strconv.Atoi(b.Meta["revision"]); rev < keys+1 || b.Meta["member"] == "" || b.Meta["keys"] != strconv.Itoa(keys) {
		t.Errorf("meta %v", b.Meta)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("backup dir holds %v", entries)
	}

	begin := time.Now()
	rc, err := c.Restore(ctx, b, drivers.ClusterSpec{
		Provider: drivers.ProviderEmbedded, Nodes: 3, WorkDir: t.TempDir(), RunID: "restored", Logf: t.Logf,
	})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	defer drivertest.CloseCluster(t, rc)
	t.Logf("restore took %s", time.Since(begin).Round(time.Millisecond))
	rcli, err := rc.NewClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rcli.Close()
	for i := range keys {
		mustGet(t, rcli, fmt.Sprintf("key/%03d", i), fmt.Sprintf("value-%d", i))
	}
	// The restored cluster is a separate, writable cluster.
	drivertest.PutEventually(t, rcli, "new", []byte("x"), 10*time.Second)
	if _, err := cli.Get(ctx, "new"); !errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("restored cluster writes reached the original: %v", err)
	}
	drivertest.WaitSettled(t, rc.(*embeddedCluster), 20*time.Second)
}
