package mem

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/drivertest"
)

// startMem starts a cluster of n nodes with options and a client.
func startMem(t *testing.T, n int, options map[string]string) (*cluster, drivers.Client) {
	t.Helper()
	c := drivertest.StartCluster(t, New(), drivers.ClusterSpec{Provider: drivers.ProviderEmbedded, Nodes: n, Options: options})
	return c.(*cluster), drivertest.NewClient(t, c)
}

func TestPlanOptions(t *testing.T) {
	for _, tt := range []struct {
		name    string
		nodes   int
		options map[string]string
		bad     string // the option the error names; "" for none
		err     bool
	}{
		{name: "defaults", nodes: 3},
		{name: "every knob", nodes: 5, options: map[string]string{"election-timeout": "1s", "op-latency": "50us", "bug": "lose-acked-writes", "bug-rate": "0.2", "bug-seed": "7"}},
		{name: "stale reads", nodes: 3, options: map[string]string{"bug": "stale-reads", "bug-lag": "2s"}},
		{name: "unknown option", nodes: 3, options: map[string]string{"bugs": "stale-reads"}, bad: "bugs"},
		{name: "unknown bug", nodes: 3, options: map[string]string{"bug": "eat-data"}, bad: "bug"},
		{name: "rate out of range", nodes: 3, options: map[string]string{"bug": "lose-acked-writes", "bug-rate": "1.5"}, bad: "bug-rate"},
		{name: "rate without its bug", nodes: 3, options: map[string]string{"bug-rate": "0.5"}, bad: "bug-rate"},
		{name: "lag without its bug", nodes: 3, options: map[string]string{"bug": "lose-acked-writes", "bug-lag": "1s"}, bad: "bug-lag"},
		{name: "no nodes", nodes: 0, err: true},
		{name: "too many nodes", nodes: maxNodes + 1, err: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			top, err := New().Plan(drivers.ProviderEmbedded, tt.nodes, tt.options)
			var oe *drivers.OptionError
			switch {
			case tt.bad != "":
				if !errors.As(err, &oe) || oe.Name != tt.bad {
					t.Fatalf("got %v, want an option error naming %s", err, tt.bad)
				}
			case tt.err:
				if err == nil {
					t.Fatal("no error")
				}
			case err != nil:
				t.Fatal(err)
			case top.Nodes != tt.nodes || !slices.Equal(top.Roles, []string{RoleLeader, RoleFollower}):
				t.Errorf("topology %+v", top)
			}
		})
	}
	if _, err := New().Plan(drivers.ProviderDocker, 3, nil); !errors.Is(err, drivers.ErrNotSupported) {
		t.Errorf("docker provider: %v", err)
	}
}

func TestConformance(t *testing.T) {
	spec := drivers.ClusterSpec{Provider: drivers.ProviderEmbedded, Nodes: 3}
	drivertest.Conformance(t, drivertest.Target{Driver: New(), Spec: spec, Cluster: drivertest.StartCluster(t, New(), spec)})
}

// put writes key=value through cli within a second.
func put(t *testing.T, cli drivers.Client, key, value string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	return cli.Put(ctx, key, []byte(value))
}

// get reads key through cli within d.
func get(t *testing.T, cli drivers.Client, key string, d time.Duration) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	v, err := cli.Get(ctx, key)
	return string(v), err
}

func leaderOf(t *testing.T, c *cluster) int {
	t.Helper()
	roles, err := c.NodeRoles(t.Context())
	if err != nil || len(roles[RoleLeader]) != 1 {
		t.Fatalf("roles %v, %v", roles, err)
	}
	return roles[RoleLeader][0]
}

// TestKillLeader: during the election every operation is unavailable;
// then a follower leads with every acknowledged write, and the killed
// node returns with its own.
func TestKillLeader(t *testing.T) {
	c, cli := startMem(t, 3, map[string]string{"election-timeout": "1s"})
	for i := range 20 {
		if err := put(t, cli, fmt.Sprintf("k%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	old := leaderOf(t, c)
	if err := c.KillNode(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	if err := put(t, cli, "during", "v"); !errors.Is(err, drivers.ErrUnavailable) {
		t.Errorf("put during the election: %v, want unavailable", err)
	}
	if err := c.KillNode(t.Context(), old); err == nil {
		t.Error("a dead node was killed again")
	}
	drivertest.PutEventually(t, cli, "after", []byte("v"), 5*time.Second)
	if now := leaderOf(t, c); now == old {
		t.Errorf("the killed node %d still leads", old)
	}
	for i := range 20 {
		if v, err := get(t, cli, fmt.Sprintf("k%d", i), time.Second); err != nil || v != "v" {
			t.Errorf("k%d after the kill: %q, %v", i, v, err)
		}
	}
	if err := c.StartNode(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	drivertest.WaitSettled(t, c, 5*time.Second)
	c.mu.Lock()
	n := c.nodes[old-1]
	_, has := n.kv["after"]
	c.mu.Unlock()
	if !has {
		t.Errorf("node%d did not catch up on its return", old)
	}
}

// TestPauseBlocks: an operation sent to a paused node waits for its
// context; after resume the node serves again.
func TestPauseBlocks(t *testing.T) {
	c, cli := startMem(t, 3, nil)
	if err := c.PauseNode(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	timedOut := 0
	for i := range 3 { // one of three operations goes to node 2
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		err := cli.Put(ctx, fmt.Sprintf("p%d", i), []byte("v"))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			timedOut++
		} else if err != nil {
			t.Errorf("put %d: %v", i, err)
		}
	}
	if timedOut != 1 {
		t.Errorf("%d of 3 puts waited for their deadline, want the one sent to the paused node", timedOut)
	}
	done := make(chan error, 3)
	for i := range 3 {
		go func() { done <- put(t, cli, fmt.Sprintf("q%d", i), "v") }()
	}
	if err := c.ResumeNode(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := <-done; err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("put around the resume: %v", err)
		}
	}
	drivertest.WaitSettled(t, c, 5*time.Second)
	if err := c.ResumeNode(t.Context(), 2); err == nil {
		t.Error("resumed a node that is not paused")
	}
}

// TestPartitionMinority: the minority side answers unavailable, the
// majority serves (after electing when the leader was cut off).
func TestPartitionMinority(t *testing.T) {
	c, cli := startMem(t, 3, map[string]string{"election-timeout": "50ms"})
	if err := c.Partition(t.Context(), [][]int{{1}, {2, 3}}); err != nil {
		t.Fatal(err)
	}
	drivertest.PutEventually(t, cli, "majority", []byte("v"), 5*time.Second)
	var unavailable, ok int
	for i := range 30 {
		switch err := put(t, cli, fmt.Sprintf("m%d", i), "v"); {
		case err == nil:
			ok++
		case errors.Is(err, drivers.ErrUnavailable) && strings.Contains(err.Error(), "node1"):
			unavailable++
		default:
			t.Errorf("put %d: %v", i, err)
		}
	}
	if unavailable != 10 || ok != 20 {
		t.Errorf("%d unavailable, %d ok: want node1's 10 unavailable", unavailable, ok)
	}
	if ok, why, _ := c.Settled(t.Context()); ok || !strings.Contains(why, "partitioned") {
		t.Errorf("settled %v (%s) while partitioned", ok, why)
	}
	if err := c.Heal(t.Context()); err != nil {
		t.Fatal(err)
	}
	drivertest.WaitSettled(t, c, 5*time.Second)
	for i := range 3 {
		if v, err := get(t, cli, "majority", time.Second); err != nil || v != "v" {
			t.Errorf("read %d after heal: %q, %v", i, v, err)
		}
	}
}

func TestMembershipAndBackup(t *testing.T) {
	c, cli := startMem(t, 3, nil)
	for i := range 10 {
		if err := put(t, cli, fmt.Sprintf("k%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := c.AddNode(t.Context())
	if err != nil || idx != 4 {
		t.Fatalf("add: %d, %v", idx, err)
	}
	if err := c.RemoveNode(t.Context(), leaderOf(t, c)); err != nil {
		t.Fatal(err)
	}
	info, _ := c.Info(t.Context())
	if len(info.Nodes) != 3 {
		t.Errorf("nodes after add and remove: %+v", info.Nodes)
	}
	drivertest.WaitSettled(t, c, 5*time.Second)
	b, err := c.Backup(t.Context(), t.TempDir())
	if err != nil || b.Bytes <= 0 || b.Meta[drivers.MetaSource] == "" {
		t.Fatalf("backup %+v, %v", b, err)
	}
	if err := put(t, cli, "after-backup", "v"); err != nil {
		t.Fatal(err)
	}
	r, err := c.Restore(t.Context(), b, drivers.ClusterSpec{Provider: drivers.ProviderEmbedded, Nodes: 3, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drivertest.CloseCluster(t, r) })
	rcli := drivertest.NewClient(t, r)
	for i := range 10 {
		if v, err := get(t, rcli, fmt.Sprintf("k%d", i), time.Second); err != nil || v != "v" {
			t.Errorf("restored k%d: %q, %v", i, v, err)
		}
	}
	if _, err := get(t, rcli, "after-backup", time.Second); !errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("a write after the backup is in the restore: %v", err)
	}
}

// TestBugModes proves each defect at the driver's level, step by step.
func TestBugModes(t *testing.T) {
	t.Run("ack-before-replicate loses the tail on a leader kill", func(t *testing.T) {
		c, cli := startMem(t, 3, map[string]string{"bug": "ack-before-replicate", "bug-lag": "1m", "election-timeout": "0s"})
		if err := put(t, cli, "k", "acked"); err != nil {
			t.Fatal(err)
		}
		if err := c.KillNode(t.Context(), leaderOf(t, c)); err != nil {
			t.Fatal(err)
		}
		if v, err := get(t, cli, "k", 2*time.Second); !errors.Is(err, drivers.ErrNotFound) {
			t.Errorf("after the kill: %q, %v; want the acknowledged write lost", v, err)
		}
	})
	t.Run("ack-before-replicate hands the tail over on a stop", func(t *testing.T) {
		c, cli := startMem(t, 3, map[string]string{"bug": "ack-before-replicate", "bug-lag": "1m"})
		if err := put(t, cli, "k", "acked"); err != nil {
			t.Fatal(err)
		}
		if err := c.StopNode(t.Context(), leaderOf(t, c)); err != nil {
			t.Fatal(err)
		}
		if v, err := get(t, cli, "k", 2*time.Second); err != nil || v != "acked" {
			t.Errorf("after the stop: %q, %v", v, err)
		}
	})
	t.Run("stale-reads serves followers' old values", func(t *testing.T) {
		_, cli := startMem(t, 3, map[string]string{"bug": "stale-reads", "bug-lag": "1m"})
		if err := put(t, cli, "k", "new"); err != nil {
			t.Fatal(err)
		}
		found := 0
		for range 3 { // one read in three reaches the leader
			if v, err := get(t, cli, "k", time.Second); err == nil && v == "new" {
				found++
			}
		}
		if found != 1 {
			t.Errorf("%d of 3 reads saw the acknowledged value, want only the leader's", found)
		}
		v, err := cli.(drivers.StrictReader).GetStrict(t.Context(), "k")
		if err != nil || string(v) != "new" {
			t.Errorf("strict read: %q, %v", v, err)
		}
	})
	t.Run("lose-acked-writes drops acknowledged writes", func(t *testing.T) {
		_, cli := startMem(t, 3, map[string]string{"bug": "lose-acked-writes", "bug-rate": "0.5"})
		lost := 0
		for i := range 100 {
			key := fmt.Sprintf("k%d", i)
			if err := put(t, cli, key, "v"); err != nil {
				t.Fatal(err)
			}
			if _, err := get(t, cli, key, time.Second); errors.Is(err, drivers.ErrNotFound) {
				lost++
			}
		}
		if lost < 20 || lost > 80 {
			t.Errorf("%d of 100 acknowledged writes lost at rate 0.5", lost)
		}
	})
}

// TestOperationsRespectDeadlines: a paused cluster's operations end with
// their context, and Close ends the waits.
func TestOperationsRespectDeadlines(t *testing.T) {
	c, cli := startMem(t, 1, nil)
	if err := c.PauseNode(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, cli, "k", 20*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("get on a paused node: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := get(t, cli, "k", time.Minute); done <- err }()
	if err := c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, drivers.ErrUnavailable) {
			t.Errorf("get after close: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("close did not end a waiting get")
	}
}

func TestDescriptionSaysNotADatabase(t *testing.T) {
	if d := New().Description(); !strings.Contains(d, "not a database") || !strings.Contains(d, "in-memory reference store") {
		t.Errorf("description %q", d)
	}
}

// TestLatencyAndGauges: op-latency delays every operation; a follower
// that applies late reports its lag, a caught-up one 0.
func TestLatencyAndGauges(t *testing.T) {
	c, cli := startMem(t, 3, map[string]string{"op-latency": "30ms", "bug": "stale-reads", "bug-lag": "1m"})
	info, err := c.Info(t.Context())
	if cfg := info.Config; err != nil || cfg["bug"] != "stale-reads" || cfg["bug-lag"] != "1m0s" || cfg["op-latency"] != "30ms" {
		t.Errorf("config %v, %v", cfg, err)
	} else if _, ok := cfg["bug-rate"]; ok {
		t.Errorf("config %v reports bug-rate, which stale-reads does not use", cfg)
	}
	t0 := time.Now()
	if err := put(t, cli, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took < 30*time.Millisecond {
		t.Errorf("a put took %s with op-latency 30ms", took)
	}
	time.Sleep(time.Millisecond) // the entry is at least this old
	gs, err := c.Gauges(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	lag := map[string]float64{}
	for _, g := range gs {
		lag[g.Name] = g.Value
	}
	if len(lag) != 3 || lag["lag_s.node1"] != 0 || lag["lag_s.node2"] <= 0 || lag["lag_s.node3"] <= 0 {
		t.Errorf("gauges %v: want the leader node1 at 0, the followers behind", gs)
	}
}

// TestCatchUpPastTheLog: a node down while the log outgrew maxLog lacks
// entries the log dropped; on its return it catches up from a copy of
// the leader's map.
func TestCatchUpPastTheLog(t *testing.T) {
	c, cli := startMem(t, 3, nil)
	if err := c.KillNode(t.Context(), 3); err != nil {
		t.Fatal(err)
	}
	for i := range maxLog + 10 {
		if err := put(t, cli, fmt.Sprintf("k%d", i%1000), fmt.Sprintf("v%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.mu.Lock()
	base := c.base
	c.mu.Unlock()
	if base == 0 {
		t.Fatalf("the log of %d entries was not compacted", maxLog+10)
	}
	if err := c.StartNode(t.Context(), 3); err != nil {
		t.Fatal(err)
	}
	drivertest.WaitSettled(t, c, 5*time.Second)
	keys := []string{"k0", "k9", "k999"}
	reps, err := c.InspectReplicas(t.Context(), keys)
	if err != nil {
		t.Fatal(err)
	}
	for _, kr := range reps {
		if len(kr.Replicas) != 3 {
			t.Fatalf("%s: %+v", kr.Key, kr.Replicas)
		}
		for _, r := range kr.Replicas {
			if !r.Found || string(r.Header) != string(kr.Replicas[0].Header) {
				t.Errorf("%s on %s: %+v; node1 holds %q", kr.Key, r.Node, r, kr.Replicas[0].Header)
			}
		}
	}
}
