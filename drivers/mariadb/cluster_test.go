package mariadb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/drivertest"
)

// TestCluster runs one cluster of 3 (node1 the primary, nodes 2 and 3
// replicas) through the driver's operations in turn: they build on each
// other, so a failing step ends the test.
func TestCluster(t *testing.T) {
	runID := needDocker(t)
	t.Parallel()
	c := startTestCluster(t, runID, 3, nil)
	cli := drivertest.NewClient(t, c)
	conformance := func(t *testing.T, c *cluster, _ drivers.Client) {
		drivertest.Conformance(t, drivertest.Target{Driver: New(), Cluster: c,
			Spec: drivers.ClusterSpec{Provider: drivers.ProviderDocker, Nodes: 3}})
	}
	for _, step := range []struct {
		name string
		f    func(t *testing.T, c *cluster, cli drivers.Client)
	}{
		{"conformance", conformance},
		{"basics", testBasics},
		{"replicas-refuse-writes", testReplicasRefuseWrites},
		{"kill-replica", testKillReplica},
		{"pause-replica", testPauseReplica},
		{"read-from-replicas", testReadFromReplicas},
		{"restart-primary", testRestartPrimary},
		{"close", testClose},
	} {
		if !t.Run(step.name, func(t *testing.T) { step.f(t, c, cli) }) {
			return
		}
	}
}

func testBasics(t *testing.T, c *cluster, _ drivers.Client) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("info: %+v", info)
	if info.DB != "mariadb" || !strings.HasPrefix(info.DBVersion, "10.11.") || info.Image == "" || info.ImageID == "" ||
		len(info.Nodes) != 3 || info.Config[OptReadFrom] != "primary" || info.Config[OptSemiSync] != "false" ||
		info.Config[OptBufferPool] != "128M" {
		t.Errorf("info %+v", info)
	}
	roles, err := c.NodeRoles(ctx)
	if err != nil || fmt.Sprint(roles[rolePrimary]) != "[1]" || fmt.Sprint(roles[roleReplica]) != "[2 3]" {
		t.Errorf("roles %v, %v", roles, err)
	}
	t.Logf("settled after %s", drivertest.WaitSettled(t, c, 30*time.Second))
	for _, name := range []string{"node2", "node3"} {
		if lag, ok := gaugeOf(ctx, t, c, "lag_s."+name); !ok || lag < 0 || lag > 1 {
			t.Errorf("lag_s.%s = %v (reported: %v), want 0..1 s on a quiet cluster", name, lag, ok)
		}
		if sbm, ok := gaugeOf(ctx, t, c, "seconds_behind_master."+name); !ok || sbm != 0 {
			t.Errorf("seconds_behind_master.%s = %v (reported: %v)", name, sbm, ok)
		}
	}
}

// gaugeOf is one gauge's value now.
func gaugeOf(ctx context.Context, t *testing.T, c *cluster, name string) (float64, bool) {
	t.Helper()
	gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	gs, err := c.Gauges(gctx)
	if err != nil {
		t.Logf("gauges: %v", err)
		return 0, false
	}
	for _, g := range gs {
		if g.Name == name {
			return g.Value, true
		}
	}
	return 0, false
}

// A write that reaches a replica fails as unavailable: the harness's
// account cannot bypass read_only.
func testReplicasRefuseWrites(t *testing.T, c *cluster, _ drivers.Client) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r, err := c.Node(2)
	if err != nil {
		t.Fatal(err)
	}
	cl := newClient(map[int]string{2: r.addr()}, c.password, readOpts(readPrimary), fixedRoute{primary: 2, live: []int{2}}, nil)
	defer cl.Close()
	err = cl.Put(ctx, "on-a-replica", []byte("v"))
	if !errors.Is(err, drivers.ErrUnavailable) || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("put on a replica: %v, want unavailable (read-only)", err)
	}
}

// writer puts keys prefix/0, prefix/1, ... every interval until stopped,
// at most limit of them.
type writer struct {
	stop   context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	acked  int
	failed int
	last   error
}

func startWriter(ctx context.Context, cli drivers.Client, prefix string, interval time.Duration, limit int) *writer {
	ctx, cancel := context.WithCancel(ctx)
	w := &writer{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; i < limit && ctx.Err() == nil; i++ {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := cli.Put(pctx, prefix+"/"+strconv.Itoa(i), []byte("value-"+strconv.Itoa(i)))
			cancel()
			w.mu.Lock()
			if err == nil {
				w.acked++
			} else if ctx.Err() == nil {
				w.failed++
				w.last = err
			}
			w.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(interval):
			}
		}
	}()
	return w
}

// finish stops the writer and returns what it did.
func (w *writer) finish() (acked, failed int, last error) {
	w.stop()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked, w.failed, w.last
}

// Killing a replica does not stop writes on the primary; started again, it
// resumes replication by itself and catches up.
func testKillReplica(t *testing.T, c *cluster, cli drivers.Client) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	w := startWriter(ctx, cli, "kill-replica", 10*time.Millisecond, 5000)
	time.Sleep(time.Second)
	if err := c.KillNode(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if ok, detail, err := c.Settled(ctx); ok || err != nil || !strings.Contains(detail, "node3 is down") {
		t.Errorf("settled with a replica down: %v %q %v", ok, detail, err)
	}
	time.Sleep(2 * time.Second)
	t0 := time.Now()
	if err := c.StartNode(ctx, 3); err != nil {
		t.Fatal(err)
	}
	started := time.Since(t0)
	caughtUp := drivertest.WaitSettled(t, c, 60*time.Second)
	acked, failed, last := w.finish()
	t.Logf("node3 killed for 2 s under writes: start took %s, caught up %s later; %d writes acknowledged, %d failed",
		started.Round(time.Millisecond), caughtUp.Round(time.Millisecond), acked, failed)
	if failed > 0 || acked == 0 {
		t.Errorf("writes to the primary while a replica was down: %d acknowledged, %d failed (last: %v)", acked, failed, last)
	}
}

// A paused replica falls behind: its lag grows past a second while it is
// frozen and drains below a second once it is resumed.
func testPauseReplica(t *testing.T, c *cluster, cli drivers.Client) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	w := startWriter(ctx, cli, "pause-replica", 10*time.Millisecond, 5000)
	defer func() { _, _, _ = w.finish() }()                           // the test judges the lag, not the writes
	if lag, ok := gaugeOf(ctx, t, c, "lag_s.node2"); !ok || lag > 1 { // also the sample a paused node's lag counts from
		t.Fatalf("lag_s.node2 before the pause: %v (%v)", lag, ok)
	}
	if err := c.PauseNode(ctx, 2); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	var lag float64
	for i := 0; i < 100 && time.Since(paused) < 10*time.Second; i++ {
		if v, ok := gaugeOf(ctx, t, c, "lag_s.node2"); ok {
			lag = v
			if lag > 1 {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lag <= 1 {
		t.Errorf("lag_s.node2 %.3f s %s into the pause, want > 1 s", lag, time.Since(paused).Round(time.Millisecond))
	}
	time.Sleep(time.Second)
	lagAtResume, _ := gaugeOf(ctx, t, c, "lag_s.node2")
	if err := c.ResumeNode(ctx, 2); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	var first, drained float64 = -1, -1
	for i := 0; i < 300 && time.Since(resumed) < 30*time.Second; i++ {
		if v, ok := gaugeOf(ctx, t, c, "lag_s.node2"); ok {
			if first < 0 {
				first = v
			}
			if v < 1 {
				drained = v
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if drained < 0 {
		t.Fatalf("lag_s.node2 not below 1 s 30 s after the resume")
	}
	acked, failed, last := w.finish()
	t.Logf("node2 paused %s: lag_s %.2f s at the resume; first sample after it %.3f s, below 1 s (%.3f s) %s after it; writes %d acknowledged, %d failed",
		resumed.Sub(paused).Round(time.Millisecond), lagAtResume, first, drained, time.Since(resumed).Round(time.Millisecond), acked, failed)
	if failed > 0 {
		t.Errorf("%d writes failed while a replica was paused (last: %v)", failed, last)
	}
	drivertest.WaitSettled(t, c, 60*time.Second)
}

// Once settled, reads from the replicas see every acknowledged write.
func testReadFromReplicas(t *testing.T, c *cluster, cli drivers.Client) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	const n = 100
	for i := range n {
		if err := cli.Put(ctx, fmt.Sprintf("replicated/%d", i), []byte(fmt.Sprintf("v%d", i))); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if err := cli.Delete(ctx, "replicated/0"); err != nil {
		t.Fatal(err)
	}
	drivertest.WaitSettled(t, c, 30*time.Second)
	addrs := map[int]string{}
	for _, m := range c.Members() {
		addrs[m.Index] = m.addr()
	}
	rc := newClient(addrs, c.password, readOpts(readReplicas), c, &c.lags)
	defer rc.Close()
	if _, err := rc.Get(ctx, "replicated/0"); !errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("a deleted key on a replica: %v", err)
	}
	for i := 1; i < n; i++ {
		v, err := rc.Get(ctx, fmt.Sprintf("replicated/%d", i))
		if want := fmt.Sprintf("v%d", i); err != nil || string(v) != want {
			t.Fatalf("replica read %d: %q, %v; want %q", i, v, err, want)
		}
	}
}

// A restarted primary stays the primary; the replicas reconnect by
// themselves.
func testRestartPrimary(t *testing.T, c *cluster, cli drivers.Client) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := c.StopNode(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := cli.Put(ctx, "primary-down", []byte("v")); !errors.Is(err, drivers.ErrUnavailable) {
		t.Errorf("put with the primary down: %v, want unavailable", err)
	}
	if err := c.StartNode(ctx, 1); err != nil {
		t.Fatal(err)
	}
	took := drivertest.PutEventually(t, cli, "primary-back", []byte("v"), 30*time.Second)
	settled := drivertest.WaitSettled(t, c, 60*time.Second)
	roles, err := c.NodeRoles(ctx)
	if err != nil || fmt.Sprint(roles[rolePrimary]) != "[1]" {
		t.Errorf("roles after the restart: %v, %v", roles, err)
	}
	t.Logf("primary stopped and started: writes back %s after the start, settled %s later", took.Round(time.Millisecond), settled.Round(time.Millisecond))
}

func testClose(t *testing.T, c *cluster, cli drivers.Client) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		t.Errorf("second close: %v", err)
	}
	if _, err := c.NewClient(ctx); err == nil {
		t.Error("NewClient after Close")
	}
	if err := cli.Put(ctx, "after-close", []byte("v")); err == nil {
		t.Error("put after Close")
	}
	if _, err := c.Gauges(ctx); err == nil {
		t.Error("gauges after Close")
	}
}

// With semi-sync on, the primary waits for a replica's acknowledgement;
// with no replica to answer, a commit waits semi-sync-timeout and the
// primary falls back to asynchronous replication.
func TestSemiSync(t *testing.T) {
	runID := needDocker(t)
	t.Parallel()
	c := startTestCluster(t, runID, 2, map[string]string{OptSemiSync: "on", OptSemiSyncTimeout: "1s"})
	cli := drivertest.NewClient(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	primary, err := c.Node(1)
	if err != nil {
		t.Fatal(err)
	}
	status := func(name string) string {
		var k, v string
		if err := primary.admin.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE ?", name).Scan(&k, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	// the replica's semi-sync connection may come up just after formation
	for i := 0; i < 50 && status("Rpl_semi_sync_master_clients") != "1"; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	before, _ := strconv.Atoi(status("Rpl_semi_sync_master_yes_tx"))
	for i := range 20 {
		if err := cli.Put(ctx, fmt.Sprintf("semi/%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := strconv.Atoi(status("Rpl_semi_sync_master_yes_tx"))
	if st := status("Rpl_semi_sync_master_status"); st != "ON" || after-before < 20 {
		t.Errorf("semi-sync status %s, %d transactions acknowledged by a replica, want >= 20", st, after-before)
	}
	if err := c.KillNode(ctx, 2); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := cli.Put(ctx, "semi/alone", []byte("v")); err != nil {
		t.Fatal(err)
	}
	waited := time.Since(t0)
	t1 := time.Now()
	if err := cli.Put(ctx, "semi/async", []byte("v")); err != nil {
		t.Fatal(err)
	}
	next := time.Since(t1)
	t.Logf("semi-sync: %d commits acknowledged by the replica; with it killed the first commit took %s (the heartbeat's commit was already waiting), the next %s",
		after-before, waited.Round(time.Millisecond), next.Round(time.Millisecond))
	if st, offs := status("Rpl_semi_sync_master_status"), status("Rpl_semi_sync_master_no_times"); st != "OFF" || offs == "0" {
		t.Errorf("without a replica: semi-sync status %s, switched off %s times; want OFF after a timeout", st, offs)
	}
	// bounds with room for a loaded machine (tests run in parallel): the
	// first wait is the 1 s option's, far from the 10 s default; the next
	// commit does not wait for a timeout again
	if waited > 4*time.Second || next >= time.Second {
		t.Errorf("first commit without a replica took %s (want about the 1 s timeout, not the 10 s default), the next %s (want asynchronous, under the timeout)", waited, next)
	}
	if err := c.StartNode(ctx, 2); err != nil {
		t.Fatal(err)
	}
	drivertest.WaitSettled(t, c, 60*time.Second)
	for i := 0; i < 100 && status("Rpl_semi_sync_master_status") != "ON"; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if st := status("Rpl_semi_sync_master_status"); st != "ON" {
		t.Errorf("semi-sync status %s after the replica caught up, want ON", st)
	}
}
