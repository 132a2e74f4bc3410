package etcd

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/docker"
	"github.com/evalrun/evalrun/internal/drivertest"
	"github.com/evalrun/evalrun/internal/testdocker"
)

// These tests run real containers. They skip when Docker is unreachable,
// and under -short. Every test asserts at its end that nothing labelled
// with its run ids is left.

// dockerEngine connects to Docker or skips the test.
func dockerEngine(t *testing.T) *docker.Engine {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: starts Docker containers (not with -short)")
	}
	return testdocker.Engine(t)
}

// startDockerCluster starts a docker cluster of n members whose cleanup
// closes it (twice: Close is idempotent) and checks that nothing is left.
func startDockerCluster(t *testing.T, e *docker.Engine, n int, opts map[string]string) *dockerCluster {
	t.Helper()
	runID := testdocker.RunID(t, "etcd")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute) // a cold image build included
	defer cancel()
	t.Cleanup(func() { testdocker.AssertNoLeftovers(t, e, runID) })
	begin := time.Now()
	cl, err := New().StartCluster(ctx, drivers.ClusterSpec{
		Provider: drivers.ProviderDocker, Nodes: n, WorkDir: t.TempDir(), RunID: runID, Options: opts, Logf: t.Logf,
	})
	if err != nil {
		t.Fatalf("StartCluster: %v", err)
	}
	t.Logf("docker cluster of %d started in %s", n, time.Since(begin).Round(time.Millisecond))
	c := cl.(*dockerCluster)
	t.Cleanup(func() {
		t0 := time.Now()
		drivertest.CloseCluster(t, c)
		t.Logf("Close took %s", time.Since(t0).Round(time.Millisecond))
		drivertest.CloseCluster(t, c)
	})
	return c
}

// memberClient is a clientv3 client on one member's published endpoint.
func memberClient(t *testing.T, c *dockerCluster, index int) *clientv3.Client {
	t.Helper()
	m, err := c.Node(index)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := newEtcdClient([]string{m.endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func leaderOf(t *testing.T, c *dockerCluster) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	idx, err := c.LeaderIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// TestDockerCluster runs one 3-member cluster through every capability of
// the docker provider, one after the other.
func TestDockerCluster(t *testing.T) {
	e := dockerEngine(t)
	t.Parallel()
	c := startDockerCluster(t, e, 3, nil)
	cli := drivertest.NewClient(t, c)

	t.Run("conformance", func(t *testing.T) {
		drivertest.Conformance(t, drivertest.Target{Driver: New(), Cluster: c,
			Spec: drivers.ClusterSpec{Provider: drivers.ProviderDocker, Nodes: 3}})
	})
	t.Run("info", func(t *testing.T) {
		info, err := c.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if info.DB != "etcd" || !regexp.MustCompile(`^3\.\d+\.\d+`).MatchString(info.DBVersion) ||
			info.Image == "" || info.ImageID == "" || len(info.Nodes) != 3 || info.Config["image"] != info.Image ||
			info.Config[optElection] != "1000" {
			t.Fatalf("info %+v", info)
		}
		for _, n := range info.Nodes {
			if !n.Up || !strings.HasPrefix(n.Address, "127.0.0.1:") || n.Name != fmt.Sprintf("node%d", n.Index) {
				t.Errorf("node %+v", n)
			}
		}
		t.Logf("etcd %s, image %s (%s)", info.DBVersion, info.Image, info.ImageID)
	})

	t.Run("put-get-delete", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if err := cli.Put(ctx, "k1", []byte("v1")); err != nil {
			t.Fatal(err)
		}
		if v, err := cli.Get(ctx, "k1"); err != nil || string(v) != "v1" {
			t.Fatalf("get: %q %v", v, err)
		}
		if err := cli.Delete(ctx, "k1"); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Get(ctx, "k1"); !errors.Is(err, drivers.ErrNotFound) {
			t.Fatalf("get after delete: %v", err)
		}
		// Sequential latency through the published ports, for the log.
		const n = 100
		puts, gets := make([]time.Duration, n), make([]time.Duration, n)
		for i := range n {
			t0 := time.Now()
			if err := cli.Put(ctx, fmt.Sprintf("lat/%d", i), []byte("v")); err != nil {
				t.Fatal(err)
			}
			puts[i] = time.Since(t0)
			t0 = time.Now()
			if _, err := cli.Get(ctx, fmt.Sprintf("lat/%d", i)); err != nil {
				t.Fatal(err)
			}
			gets[i] = time.Since(t0)
		}
		slices.Sort(puts)
		slices.Sort(gets)
		t.Logf("sequential put p50 %s p99 %s, linearizable get p50 %s p99 %s", puts[n/2].Round(10*time.Microsecond),
			puts[n*99/100].Round(10*time.Microsecond), gets[n/2].Round(10*time.Microsecond), gets[n*99/100].Round(10*time.Microsecond))
	})

	t.Run("kill-leader", func(t *testing.T) {
		leader := leaderOf(t, c)
		t0 := time.Now()
		if err := c.KillNode(t.Context(), leader); err != nil {
			t.Fatal(err)
		}
		killed := time.Since(t0)
		took := drivertest.PutEventually(t, cli, "after-kill", []byte("x"), 10*time.Second)
		t.Logf("killed leader node%d in %s; first successful put %s after the kill returned",
			leader, killed.Round(time.Millisecond), took.Round(time.Millisecond))
		if took > 10*time.Second {
			t.Errorf("put took %s after the leader was killed", took)
		}
		if nl := leaderOf(t, c); nl == leader {
			t.Errorf("node%d still leads after it was killed", nl)
		}
		if ok, detail, _ := c.Settled(t.Context()); ok || !strings.Contains(detail, "not running") {
			t.Errorf("settled with a member down: %v %q", ok, detail)
		}
		t0 = time.Now()
		if err := c.StartNode(t.Context(), leader); err != nil {
			t.Fatal(err)
		}
		t.Logf("restarted node%d: ready in %s, settled %s later", leader, time.Since(t0).Round(time.Millisecond),
			drivertest.WaitSettled(t, c, time.Minute).Round(time.Millisecond))
		if v, err := cli.Get(t.Context(), "after-kill"); err != nil || string(v) != "x" {
			t.Fatalf("get after restart: %q %v", v, err)
		}
	})

	t.Run("stop-start", func(t *testing.T) {
		follower := leaderOf(t, c)%3 + 1
		t0 := time.Now()
		if err := c.StopNode(t.Context(), follower); err != nil {
			t.Fatal(err)
		}
		stopped := time.Since(t0)
		if err := c.StartNode(t.Context(), follower); err != nil {
			t.Fatal(err)
		}
		t.Logf("graceful stop of node%d took %s, start %s", follower, stopped.Round(time.Millisecond),
			(time.Since(t0) - stopped).Round(time.Millisecond))
		if stopped > 8*time.Second {
			t.Errorf("stop took %s: etcd did not stop on SIGTERM", stopped)
		}
		drivertest.WaitSettled(t, c, time.Minute)
	})

	t.Run("pause-resume", func(t *testing.T) {
		follower := leaderOf(t, c)%3 + 1
		if err := c.PauseNode(t.Context(), follower); err != nil {
			t.Fatal(err)
		}
		took := drivertest.PutEventually(t, cli, "while-paused", []byte("p"), 10*time.Second)
		t.Logf("node%d paused; a put took %s", follower, took.Round(time.Millisecond))
		if ok, detail, _ := c.Settled(t.Context()); ok || !strings.Contains(detail, "paused") {
			t.Errorf("settled with a member paused: %v %q", ok, detail)
		}
		if err := c.ResumeNode(t.Context(), follower); err != nil {
			t.Fatal(err)
		}
		t.Logf("resumed node%d; settled after %s", follower, drivertest.WaitSettled(t, c, time.Minute).Round(time.Millisecond))
	})

	t.Run("partition", func(t *testing.T) {
		// Make node1 the leader, then cut it off.
		leader := leaderOf(t, c)
		if leader != 1 {
			m1, _ := c.Node(1)
			lc := memberClient(t, c, leader)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			_, err := lc.MoveLeader(ctx, m1.id)
			cancel()
			if err != nil {
				t.Fatalf("move leader to node1: %v", err)
			}
			if l := leaderOf(t, c); l != 1 {
				t.Fatalf("leader is node%d after moving it to node1", l)
			}
		}
		c1, c2, c3 := memberClient(t, c, 1), memberClient(t, c, 2), memberClient(t, c, 3)
		t0 := time.Now()
		if err := c.Partition(t.Context(), [][]int{{1}, {2, 3}}); err != nil {
			t.Fatal(err)
		}
		t.Logf("partition took %s", time.Since(t0).Round(time.Millisecond))
		t0 = time.Now()
		var err error
		var took time.Duration
		for i := 0; i < 60 && time.Since(t0) < 20*time.Second; i++ {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			_, err = c2.Put(ctx, "majority", "m")
			cancel()
			if err == nil {
				took = time.Since(t0)
				break
			}
		}
		if err != nil {
			t.Fatalf("writes through node2 fail after the partition: %v", err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		_, err3 := c3.Put(ctx, "majority3", "m")
		cancel()
		if err3 != nil {
			t.Errorf("write through node3 failed: %v", err3)
		}
		t1 := time.Now()
		ctx, cancel = context.WithTimeout(t.Context(), 2*time.Second)
		_, err1 := c1.Put(ctx, "minority", "x")
		if err1 == nil {
			t.Errorf("a write through the isolated node1 succeeded")
		} else {
			err1 = mapError(ctx, "put", err1)
		}
		cancel()
		t.Logf("majority write through node2 succeeded %s after the partition; write through node1 failed after %s: %v",
			took.Round(time.Millisecond), time.Since(t1).Round(time.Millisecond), err1)
		if l := leaderOf(t, c); l == 1 {
			t.Errorf("node1 still counts as leader")
		} else {
			t.Logf("new leader node%d", l)
		}
		t0 = time.Now()
		if err := c.Heal(t.Context()); err != nil {
			t.Fatal(err)
		}
		healed := time.Since(t0)
		t.Logf("heal took %s; settled %s later", healed.Round(time.Millisecond), drivertest.WaitSettled(t, c, time.Minute).Round(time.Millisecond))
		// node1 rejoins with a higher term (etcd 3.4: no pre-vote), which
		// may cost one more election: retry for a while.
		var resp *clientv3.GetResponse
		for i := 0; i < 10; i++ {
			ctx, cancel = context.WithTimeout(t.Context(), 3*time.Second)
			resp, err = c1.Get(ctx, "majority")
			cancel()
			if err == nil {
				break
			}
		}
		if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "m" {
			t.Fatalf("node1 after heal: %v %v", resp, err)
		}
	})

	t.Run("membership", func(t *testing.T) {
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		idx, err := c.AddNode(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if idx != 4 {
			t.Errorf("new node index %d", idx)
		}
		added := time.Since(t0)
		t.Logf("added node%d in %s; settled %s later", idx, added.Round(time.Millisecond), drivertest.WaitSettled(t, c, time.Minute).Round(time.Millisecond))
		c4 := memberClient(t, c, 4)
		gctx, gcancel := context.WithTimeout(t.Context(), 5*time.Second)
		resp, err := c4.Get(gctx, "majority")
		gcancel()
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("read through the new member: %v %v", resp, err)
		}
		t0 = time.Now()
		if err := c.RemoveNode(ctx, 1); err != nil {
			t.Fatal(err)
		}
		t.Logf("removed node1 in %s; settled %s later", time.Since(t0).Round(time.Millisecond), drivertest.WaitSettled(t, c, time.Minute).Round(time.Millisecond))
		info, _ := c.Info(t.Context())
		if len(info.Nodes) != 3 || info.Nodes[0].Index != 2 || info.Nodes[2].Index != 4 {
			t.Errorf("nodes after add 4 / remove 1: %+v", info.Nodes)
		}
		if err := c.KillNode(t.Context(), 1); err == nil {
			t.Errorf("killing a removed node succeeded")
		}
		if n := c.Docker.Node("node1"); n != nil {
			t.Errorf("node1's container is still known")
		}
		if err := tryPut(t, cli, "after-membership", []byte("y")); err != nil {
			t.Errorf("put after membership changes: %v", err)
		}
	})

	t.Run("backup-restore", func(t *testing.T) {
		const n = 300
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		for i := range n {
			if err := cli.Put(ctx, fmt.Sprintf("bk/%04d", i), []byte(fmt.Sprintf("value-%d", i))); err != nil {
				t.Fatal(err)
			}
		}
		t0 := time.Now()
		b, err := c.Backup(ctx, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Restore(ctx, b, drivers.ClusterSpec{Provider: drivers.ProviderEmbedded, Nodes: 3,
			WorkDir: t.TempDir(), RunID: c.RunID}); !errors.Is(err, drivers.ErrNotSupported) {
			t.Errorf("restoring a docker backup into the embedded provider: %v", err)
		}
		t.Logf("backup: %d bytes in %s, meta %v", b.Bytes, time.Since(t0).Round(time.Millisecond), b.Meta)
		t0 = time.Now()
		// The same run id, as the runner passes it: the restore picks its own.
		rc, err := c.Restore(ctx, b, drivers.ClusterSpec{Provider: drivers.ProviderDocker, Nodes: 3,
			WorkDir: t.TempDir(), RunID: c.RunID, Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		restored := time.Since(t0)
		defer drivertest.CloseCluster(t, rc)
		rcl, err := rc.NewClient(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer rcl.Close()
		for i := range n {
			v, err := rcl.Get(ctx, fmt.Sprintf("bk/%04d", i))
			if err != nil || string(v) != fmt.Sprintf("value-%d", i) {
				t.Fatalf("restored bk/%04d: %q %v", i, v, err)
			}
		}
		for _, k := range []string{"after-kill", "while-paused", "majority", "after-membership"} {
			if _, err := rcl.Get(ctx, k); err != nil {
				t.Errorf("restored %s: %v", k, err)
			}
		}
		rinfo, _ := rc.Info(ctx)
		t.Logf("restored into run %s (%d members, etcd %s) in %s; read back %d keys",
			rc.(*dockerCluster).RunID, len(rinfo.Nodes), rinfo.DBVersion, restored.Round(time.Millisecond), n)
		// A restored member restarts on its data, without restoring again.
		rdc := rc.(*dockerCluster)
		if err := rdc.KillNode(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if err := rdc.StartNode(ctx, 2); err != nil {
			t.Fatal(err)
		}
		drivertest.WaitSettled(t, rdc, time.Minute)
		// Writes to the restored cluster do not reach the original.
		if err := rcl.Put(ctx, "only-restored", []byte("r")); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Get(ctx, "only-restored"); !errors.Is(err, drivers.ErrNotFound) {
			t.Errorf("original cluster sees the restored cluster's write: %v", err)
		}
	})
}

// TestDockerStartErrors: a missing image, or a context that ends while
// the members start, fails the start and leaves nothing behind.
func TestDockerStartErrors(t *testing.T) {
	e := dockerEngine(t)
	t.Parallel()
	t.Run("missing image", func(t *testing.T) {
		runID := testdocker.RunID(t, "etcd")
		t.Cleanup(func() { testdocker.AssertNoLeftovers(t, e, runID) })
		_, err := New().StartCluster(t.Context(), drivers.ClusterSpec{Provider: drivers.ProviderDocker, Nodes: 1,
			WorkDir: t.TempDir(), RunID: runID, Image: "evalrun-test/no-such-etcd:0", Logf: t.Logf})
		if err == nil || !strings.Contains(err.Error(), "no-such-etcd") {
			t.Fatalf("start with a missing image: %v", err)
		}
		t.Logf("error: %v", err)
	})
	t.Run("deadline", func(t *testing.T) {
		// Resolve (or build) the image first, so the deadline falls on the
		// start of the members.
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
		defer cancel()
		if _, _, err := e.ResolveImage(ctx, imageChoice(t.Logf)); err != nil {
			t.Fatal(err)
		}
		runID := testdocker.RunID(t, "etcd")
		t.Cleanup(func() { testdocker.AssertNoLeftovers(t, e, runID) })
		ctx, cancel = context.WithTimeout(t.Context(), 2500*time.Millisecond)
		defer cancel()
		begin := time.Now()
		c, err := New().StartCluster(ctx, drivers.ClusterSpec{Provider: drivers.ProviderDocker, Nodes: 3,
			WorkDir: t.TempDir(), RunID: runID, Logf: t.Logf})
		if err == nil {
			drivertest.CloseCluster(t, c)
			t.Skip("the cluster started within 2.5 s")
		}
		if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") {
			t.Errorf("error %v does not say the deadline passed", err)
		}
		t.Logf("failed after %s: %v", time.Since(begin).Round(time.Millisecond), err)
	})
}

// tryPut retries a Put for up to 15 s and returns the last error.
func tryPut(t *testing.T, cli drivers.Client, key string, value []byte) error {
	_, err := drivertest.TryPut(t.Context(), cli, key, value, 15*time.Second)
	return err
}
