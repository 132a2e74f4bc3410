package redis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/driverkit"
	"github.com/evalrun/evalrun/internal/drivertest"
)

// TestCluster runs one 3+3 cluster (cluster-node-timeout 2000, appendonly
// yes) through the driver's operations in turn: they build on each other,
// so a failing step ends the test.
func TestCluster(t *testing.T) {
	runID := needDocker(t)
	t.Parallel()
	opts := map[string]string{"cluster-node-timeout": "2000", "appendonly": "yes"}
	c := startTestCluster(t, runID, 3, opts)
	cli := drivertest.NewClient(t, c)
	conformance := func(t *testing.T, c *cluster, _ drivers.Client) {
		drivertest.Conformance(t, drivertest.Target{Driver: New(), Cluster: c,
			Spec: drivers.ClusterSpec{Provider: drivers.ProviderDocker, Nodes: 3, Options: opts}})
	}
	for _, step := range []struct {
		name string
		f    func(t *testing.T, c *cluster, cli drivers.Client)
	}{
		{"conformance", conformance},
		{"basics", testBasics},
		{"pause", testPause},
		{"stop-start", testStopStart},
		{"failover", testFailover},
		{"membership", testMembership},
		{"backup-restore", testBackupRestore},
		{"close", testClose},
	} {
		if !t.Run(step.name, func(t *testing.T) { step.f(t, c, cli) }) {
			return
		}
	}
}

func testBasics(t *testing.T, c *cluster, cli drivers.Client) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("info: %+v", info)
	if info.DB != "redis" || info.DBVersion == "" || len(info.Nodes) != 6 || info.Image == "" || info.ImageID == "" ||
		info.Config["cluster-node-timeout"] != "2000" || info.Config["replicas"] != "1" || info.Config["appendonly"] != "true" {
		t.Fatalf("info %+v", info)
	}
	for i, n := range info.Nodes {
		if n.Index != i+1 || n.Name != "node"+strconv.Itoa(i+1) || !n.Up || !strings.HasPrefix(n.Address, "127.0.0.1:") {
			t.Errorf("node %+v", n)
		}
	}

	leader, err := leaderOf(ctx, c)
	if err != nil || leader < 1 || leader > 3 {
		t.Fatalf("leader %d: %v", leader, err)
	}
	t.Logf("settled after %s", drivertest.WaitSettled(t, c, 30*time.Second))
}

// crc16 is Redis Cluster's key hash (CRC16-CCITT/XMODEM); keys here have no
// hash tags.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func keySlot(key string) int { return int(crc16(key)) % numSlots }

func TestKeySlot(t *testing.T) {
	// Values from CLUSTER KEYSLOT.
	for key, want := range map[string]int{"foo": 12182, "bar": 5061, "123456789": 12739} {
		if got := keySlot(key); got != want {
			t.Errorf("slot(%s) = %d, want %d", key, got, want)
		}
	}
}

func testPause(t *testing.T, c *cluster, cli drivers.Client) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	// Pause a replica (a paused master would be failed over): the cluster
	// keeps serving, Settled says why it is not at rest.
	replica := replicaIndex(t, c)
	if err := c.PauseNode(ctx, replica); err != nil {
		t.Fatal(err)
	}
	if ok, detail, err := c.Settled(ctx); ok || err != nil || !strings.Contains(detail, "paused") {
		t.Errorf("settled with a paused node: %v %q %v", ok, detail, err)
	}
	drivertest.PutEventually(t, cli, "during-pause", []byte("1"), 10*time.Second)
	if err := c.ResumeNode(ctx, replica); err != nil {
		t.Fatal(err)
	}
	t.Logf("node%d paused and resumed; settled %s later", replica, drivertest.WaitSettled(t, c, 30*time.Second).Round(time.Millisecond))
}

// replicaIndex returns a live replica.
func replicaIndex(t *testing.T, c *cluster) int {
	t.Helper()
	for _, n := range c.Live() {
		if slots, err := c.ownSlots(t.Context(), n); err == nil && slots == 0 {
			return n.Index
		}
	}
	t.Fatal("no replica")
	return 0
}

func testStopStart(t *testing.T, c *cluster, cli drivers.Client) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	r := replicaIndex(t, c)
	t0 := time.Now()
	if err := c.StopNode(ctx, r); err != nil {
		t.Fatal(err)
	}
	t.Logf("graceful stop of replica node%d took %s", r, time.Since(t0).Round(time.Millisecond))
	info, _ := c.Info(ctx)
	if info.Nodes[r-1].Up {
		t.Errorf("stopped node reported up: %+v", info.Nodes[r-1])
	}
	drivertest.PutEventually(t, cli, "during-stop", []byte("1"), 10*time.Second)
	t0 = time.Now()
	if err := c.StartNode(ctx, r); err != nil {
		t.Fatal(err)
	}
	t.Logf("node%d started in %s, settled %s later", r, time.Since(t0).Round(time.Millisecond), drivertest.WaitSettled(t, c, 60*time.Second).Round(time.Millisecond))
}

// testFailover kills the master of slot 0 under a write load on its slots
// and measures the failover: from the first failed write to the first
// successful one on those slots. Writes acknowledged by the dead master
// but not replicated are lost (Redis replicates asynchronously): counted,
// not forbidden.
func testFailover(t *testing.T, c *cluster, cli drivers.Client) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	leader, err := leaderOf(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	victim, _ := c.Node(leader)
	view, err := c.clusterNodes(ctx, victim)
	if err != nil {
		t.Fatal(err)
	}
	var mine nodeLine
	for _, l := range view {
		if l.myself() {
			mine = l
		}
	}
	// Keys served by the victim.
	var keys []string
	for i := 0; len(keys) < 16; i++ {
		if k := fmt.Sprintf("fo:%d", i); mine.owns(keySlot(k)) {
			keys = append(keys, k)
		}
	}
	type keyState struct {
		acked int // last acknowledged value
	}
	states := make([]keyState, len(keys))
	var firstErr, recovered time.Time
	var mu sync.Mutex
	var errCount, okAfter int
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var killAt time.Time
	for w := range keys {
		wg.Go(func() {
			for seq := 1; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				octx, ocancel := context.WithTimeout(ctx, 500*time.Millisecond)
				err := cli.Put(octx, keys[w], []byte(strconv.Itoa(seq)))
				ocancel()
				now := time.Now()
				mu.Lock()
				if err == nil {
					states[w].acked = seq
					if !firstErr.IsZero() {
						okAfter++
						if recovered.IsZero() {
							recovered = now
						}
					}
				} else {
					errCount++
					if firstErr.IsZero() && !killAt.IsZero() {
						firstErr = now
					}
					if !errors.Is(err, drivers.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("unclassified error: %v", err)
					}
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	killAt = time.Now()
	mu.Unlock()
	if err := c.KillNode(ctx, leader); err != nil {
		t.Fatalf("kill: %v", err)
	}
	t.Logf("killed node%d (master of slot 0) in %s", leader, time.Since(killAt).Round(time.Millisecond))
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		done := !recovered.IsZero() && okAfter > 50
		mu.Unlock()
		if done {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if firstErr.IsZero() || recovered.IsZero() {
		t.Fatalf("no failover seen: first error %v, recovered %v", firstErr, recovered)
	}
	failover := recovered.Sub(firstErr)
	t.Logf("failover after kill -9 of a master (cluster-node-timeout 2000): first error %s after the kill, writes on its slots back %s after the first error (%s after the kill); %d failed writes",
		firstErr.Sub(killAt).Round(time.Millisecond), failover.Round(time.Millisecond), recovered.Sub(killAt).Round(time.Millisecond), errCount)
	if failover > 20*time.Second {
		t.Errorf("failover took %s", failover)
	}
	newLeader, err := leaderOf(ctx, c)
	if err != nil || newLeader == leader {
		t.Errorf("leader after failover: %d (killed %d), %v", newLeader, leader, err)
	}
	// Writes the dead master acknowledged but did not replicate are lost
	// (asynchronous replication: counted, not a failure of the test).
	lost := 0
	held := make([]int, len(keys)) // what each key held after the failover
	for w, k := range keys {
		v, err := cli.Get(ctx, k)
		if err != nil {
			t.Fatalf("get %s: %v", k, err)
		}
		if held[w], _ = strconv.Atoi(string(v)); held[w] < states[w].acked {
			lost++
		}
	}
	t.Logf("keys whose last acknowledged write was lost across the failover: %d of %d", lost, len(keys))
	if ok, detail, _ := c.Settled(ctx); ok || !strings.Contains(detail, "down") {
		t.Errorf("settled with a killed node: %v %q", ok, detail)
	}
	info, _ := c.Info(ctx)
	if info.Nodes[leader-1].Up {
		t.Errorf("killed node reported up: %+v", info.Nodes[leader-1])
	}

	t0 := time.Now()
	if err := c.StartNode(ctx, leader); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Logf("node%d restarted in %s; settled %s later", leader, time.Since(t0).Round(time.Millisecond), drivertest.WaitSettled(t, c, 60*time.Second).Round(time.Millisecond))
	if slots, err := c.ownSlots(ctx, victim); err != nil || slots != 0 {
		t.Errorf("the former master serves %d slots (%v), want a replica", slots, err)
	}
	// The restart loses nothing more: every key still holds what it held
	// after the failover, or a later write (a write that failed may still
	// have been applied). A write the failover lost stays lost: the old
	// master rejoins as a replica of the new one.
	for w, k := range keys {
		octx, ocancel := context.WithTimeout(ctx, 5*time.Second)
		v, err := cli.Get(octx, k)
		ocancel()
		if got, _ := strconv.Atoi(string(v)); err != nil || got < held[w] {
			t.Errorf("after the restart %s = %q (%v), held %d after the failover (last acknowledged %d)", k, v, err, held[w], states[w].acked)
		}
	}
}

// writeKeys writes n keys prefix:i = value-i and fails the test on error.
func writeKeys(t *testing.T, cli drivers.Client, prefix string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for i := range n {
		k := fmt.Sprintf("%s:%d", prefix, i)
		if err := cli.Put(ctx, k, []byte("value-"+k)); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
}

// checkKeys reads the keys writeKeys wrote. A read that finds its node
// unavailable is tried again for up to 5 s: a client's slot map may still
// name a node just removed (go-redis learns the new map when that read
// fails, and the driver asks it to reload then), and what is checked here
// is that every key keeps its value.
func checkKeys(t *testing.T, cli drivers.Client, prefix string, n int) {
	t.Helper()
	bad := 0
	for i := range n {
		k := fmt.Sprintf("%s:%d", prefix, i)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		v, err := cli.Get(ctx, k)
		for try := 0; try < 50 && errors.Is(err, drivers.ErrUnavailable) && ctx.Err() == nil; try++ {
			time.Sleep(100 * time.Millisecond)
			v, err = cli.Get(ctx, k)
		}
		cancel()
		if err != nil || string(v) != "value-"+k {
			if bad < 5 {
				t.Errorf("get %s = %q, %v", k, v, err)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d keys wrong", bad, n)
	}
}

func testMembership(t *testing.T, c *cluster, cli drivers.Client) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	writeKeys(t, cli, "mem", 500)

	t0 := time.Now()
	idx, err := c.AddNode(ctx)
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	added := time.Since(t0)
	settled := drivertest.WaitSettled(t, c, 2*time.Minute)
	info, _ := c.Info(ctx)
	t.Logf("add-node: node%d joined with %s slots (%s keys) in %s, settled %s later", idx, info.Config["last-rebalance-slots-moved"],
		info.Config["last-rebalance-keys-moved"], added.Round(time.Millisecond), settled.Round(time.Millisecond))
	if idx != 7 || len(info.Nodes) != 7 {
		t.Fatalf("added node %d, nodes %+v", idx, info.Nodes)
	}
	n7, _ := c.Node(idx)
	if slots, err := c.ownSlots(ctx, n7); err != nil || slots < numSlots/5 {
		t.Errorf("new master serves %d slots (%v)", slots, err)
	}
	if moved, _ := strconv.Atoi(info.Config["last-rebalance-slots-moved"]); moved < numSlots/5 {
		t.Errorf("slots moved %d", moved)
	}
	checkKeys(t, cli, "mem", 500)

	// Remove an original master that serves slots.
	var victim *node
	for _, n := range c.Live() {
		if slots, _ := c.ownSlots(ctx, n); slots > 0 && n.Index <= 3 {
			victim = n
			break
		}
	}
	if victim == nil {
		t.Fatal("no original master with slots")
	}
	t0 = time.Now()
	if err := c.RemoveNode(ctx, victim.Index); err != nil {
		t.Fatalf("remove node%d: %v", victim.Index, err)
	}
	removed := time.Since(t0)
	settled = drivertest.WaitSettled(t, c, 2*time.Minute)
	info, _ = c.Info(ctx)
	t.Logf("remove-node: node%d drained (%s slots, %s keys) and removed in %s, settled %s later", victim.Index,
		info.Config["last-rebalance-slots-moved"], info.Config["last-rebalance-keys-moved"], removed.Round(time.Millisecond), settled.Round(time.Millisecond))
	if len(info.Nodes) != 6 {
		t.Fatalf("nodes after remove: %+v", info.Nodes)
	}
	for _, n := range info.Nodes {
		if n.Index == victim.Index {
			t.Errorf("removed node still listed: %+v", n)
		}
	}
	if err := c.KillNode(ctx, victim.Index); err == nil || !strings.Contains(err.Error(), "removed") {
		t.Errorf("kill of a removed node: %v", err)
	}
	if err := c.RemoveNode(ctx, victim.Index); err == nil {
		t.Error("second remove succeeded")
	}
	checkKeys(t, cli, "mem", 500)

	// Remove a replica: no slots to move.
	r := replicaIndex(t, c)
	t0 = time.Now()
	if err := c.RemoveNode(ctx, r); err != nil {
		t.Fatalf("remove replica node%d: %v", r, err)
	}
	t.Logf("remove-node: replica node%d removed in %s, settled %s later", r, time.Since(t0).Round(time.Millisecond), drivertest.WaitSettled(t, c, time.Minute).Round(time.Millisecond))
	if info, _ := c.Info(ctx); len(info.Nodes) != 5 {
		t.Fatalf("nodes after removing a replica: %+v", info.Nodes)
	}
	checkKeys(t, cli, "mem", 500)
}

func testBackupRestore(t *testing.T, c *cluster, cli drivers.Client) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	const keys = 1000
	writeKeys(t, cli, "br", keys)

	dir := filepath.Join(t.TempDir(), "backup")
	t0 := time.Now()
	b, err := c.Backup(ctx, dir)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	t.Logf("backup in %s: %d bytes, meta %v", time.Since(t0).Round(time.Millisecond), b.Bytes, b.Meta)
	if b.Path != dir || b.Bytes <= 0 || b.Meta["masters"] != "3" {
		t.Fatalf("backup %+v", b)
	}
	m, err := readManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, mm := range m.Masters {
		fi, err := os.Stat(filepath.Join(dir, mm.File))
		if err != nil || fi.Size() != mm.Bytes {
			t.Errorf("%s: %v %v", mm.File, fi, err)
		}
		sum += mm.Bytes
	}
	if sum != b.Bytes {
		t.Errorf("bytes %d, files %d", b.Bytes, sum)
	}
	// Writes after the backup are not in it.
	drivertest.PutEventually(t, cli, "after-backup", []byte("x"), 10*time.Second)

	// The runner passes the run's own id: the restore must pick another.
	t0 = time.Now()
	rc, err := c.Restore(ctx, b, drivers.ClusterSpec{Provider: drivers.ProviderDocker, Nodes: 3, RunID: c.RunID,
		Options: map[string]string{"cluster-node-timeout": "2000", "appendonly": "yes"}, WorkDir: t.TempDir(), Logf: t.Logf})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	t.Cleanup(func() { drivertest.CloseCluster(t, rc) })
	restoreTime := time.Since(t0)
	r := rc.(*cluster)
	if r.RunID == c.RunID || !strings.HasPrefix(r.RunID, c.RunID) {
		t.Errorf("restored run id %q", r.RunID)
	}
	rcli := drivertest.NewClient(t, rc)
	t0 = time.Now()
	checkKeys(t, rcli, "br", keys)
	checkKeys(t, rcli, "mem", 500)
	t.Logf("restore of %d bytes into a fresh 3+3 cluster in %s; %d keys read back in %s", b.Bytes, restoreTime.Round(time.Millisecond), keys+500, time.Since(t0).Round(time.Millisecond))
	if _, err := rcli.Get(ctx, "after-backup"); !errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("a write after the backup is in the restored cluster: %v", err)
	}
	// Same layout: each restored master serves the slots of its backup.
	for i, mm := range m.Masters {
		n, _ := r.Node(i + 1)
		view, err := r.clusterNodes(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range view {
			if l.myself() && formatRanges(l.slots) != mm.Slots {
				t.Errorf("restored %s serves %s, backup of %s served %s", n.Name, formatRanges(l.slots), mm.Name, mm.Slots)
			}
		}
	}
	for _, n := range r.Live() {
		var v map[string]string
		err := r.withAdmin(ctx, n, func(ctx context.Context, cl *goredis.Client) error {
			var err error
			v, err = cl.ConfigGet(ctx, "appendonly").Result()
			return err
		})
		if err != nil || v["appendonly"] != "yes" {
			t.Errorf("restored %s: appendonly %v, %v", n.Name, v, err)
		}
	}
	drivertest.PutEventually(t, rcli, "new", []byte("x"), 10*time.Second)
	if _, err := cli.Get(ctx, "new"); !errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("restored cluster writes reached the original: %v", err)
	}
	t.Logf("restored cluster settled %s after the checks", drivertest.WaitSettled(t, r, time.Minute).Round(time.Millisecond))
	drivertest.CloseCluster(t, rc)
}

func testClose(t *testing.T, c *cluster, cli drivers.Client) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	other := drivertest.NewClient(t, c)
	t0 := time.Now()
	drivertest.CloseCluster(t, c)
	t.Logf("close took %s", time.Since(t0).Round(time.Millisecond))
	drivertest.CloseCluster(t, c)
	if err := other.Put(ctx, "k", []byte("v")); err == nil {
		t.Error("put through a client of a closed cluster succeeded")
	}
	if _, err := c.NewClient(ctx); err == nil {
		t.Error("NewClient after Close succeeded")
	}
	if err := c.KillNode(ctx, 2); !errors.Is(err, driverkit.ErrClosed) {
		t.Errorf("kill after close: %v", err)
	}
	if _, err := c.Info(ctx); !errors.Is(err, driverkit.ErrClosed) {
		t.Errorf("info after close: %v", err)
	}
}

// TestSmallCluster: fewer than 3 masters, which redis-cli --cluster create
// refuses: the driver assigns the slots itself.
func TestSmallCluster(t *testing.T) {
	runID := needDocker(t)
	t.Parallel()
	c := startTestCluster(t, runID, 2, map[string]string{"replicas": "0", "cluster-node-timeout": "2000"})
	cli := drivertest.NewClient(t, c)
	writeKeys(t, cli, "small", 100)
	checkKeys(t, cli, "small", 100)
	drivertest.WaitSettled(t, c, 30*time.Second)
	info, err := c.Info(t.Context())
	if err != nil || len(info.Nodes) != 2 || info.Config["replicas"] != "0" {
		t.Fatalf("info %+v %v", info, err)
	}
	for _, n := range c.Live() {
		if slots, err := c.ownSlots(t.Context(), n); err != nil || slots != numSlots/2 {
			t.Errorf("%s serves %d slots (%v)", n.Name, slots, err)
		}
	}
}

// TestImageOverrideMissing: --image names an image that is neither local
// nor pullable: a clear error, nothing left behind.
func TestImageOverrideMissing(t *testing.T) {
	runID := needDocker(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, err := New().StartCluster(ctx, drivers.ClusterSpec{Provider: drivers.ProviderDocker, Nodes: 3, RunID: runID,
		Image: "evalrun-test/no-such-redis:0", Logf: t.Logf})
	if err == nil {
		drivertest.CloseCluster(t, c)
		t.Fatal("started with a missing image")
	}
	if !strings.Contains(err.Error(), "evalrun-test/no-such-redis:0") {
		t.Errorf("error does not name the image: %v", err)
	}
	t.Logf("error: %v", err)
}

// leaderOf is the node the cluster names leader (the master of slot 0).
func leaderOf(ctx context.Context, c *cluster) (int, error) {
	roles, err := c.NodeRoles(ctx)
	if err != nil {
		return 0, err
	}
	if len(roles[roleLeader]) != 1 {
		return 0, fmt.Errorf("roles %v name no single leader", roles)
	}
	return roles[roleLeader][0], nil
}
