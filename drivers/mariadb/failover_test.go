package mariadb

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
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/scenarios"
)

// The driver's own view of a failover: the primary killed under writes,
// the candidate promoted, writes back on it; the old primary started
// again either rejoins as a replica or is left out with its errant
// transactions named; then a switchover hands the role back (to node1
// when it rejoined) and the old primary follows.
func TestPromoteAndRejoin(t *testing.T) {
	t.Parallel()
	c, cli, ctx := asyncCluster(t, 3*time.Minute)
	w := startWriter(ctx, cli, "fo", 3*time.Millisecond, 100000)
	time.Sleep(time.Second)
	if err := c.Switchover(ctx, 2); err != nil {
		t.Fatalf("switchover to node2: %v", err)
	}
	roles, _ := c.NodeRoles(ctx)
	if fmt.Sprint(roles[rolePrimary]) != "[2]" {
		t.Fatalf("after a switchover to node2: roles %v", roles)
	}
	if err := c.Switchover(ctx, 1); err != nil {
		t.Fatalf("switchover back to node1: %v", err)
	}
	drivertest.WaitSettled(t, c, time.Minute)
	if err := c.Promote(ctx, 2); err == nil || !strings.Contains(err.Error(), "node1, the primary, is up") {
		t.Errorf("promote with the primary up: %v", err)
	}
	if err := c.KillNode(ctx, 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	cand, err := c.Candidate(ctx)
	if err != nil || (cand != 2 && cand != 3) {
		t.Fatalf("candidate %d, %v", cand, err)
	}
	t0 := time.Now()
	if err := c.Promote(ctx, cand); err != nil {
		t.Fatalf("promote node%d: %v", cand, err)
	}
	promoted := time.Since(t0)
	back := drivertest.PutEventually(t, cli, "after-promote", []byte("v"), 10*time.Second)
	acked, failed, last := w.finish()
	t.Logf("promoted node%d in %s, a write acknowledged %s later; writer: %d acknowledged, %d failed (last: %v)",
		cand, promoted.Round(time.Millisecond), back.Round(time.Millisecond), acked, failed, last)
	roles, err = c.NodeRoles(ctx)
	if err != nil || fmt.Sprint(roles[rolePrimary]) != fmt.Sprint([]int{cand}) {
		t.Fatalf("roles after the promotion: %v, %v", roles, err)
	}
	err = c.StartNode(ctx, 1)
	roles, _ = c.NodeRoles(ctx)
	switch {
	case err == nil:
		t.Logf("node1 rejoined as a replica; roles %v", roles)
		if !slices.Contains(roles[roleReplica], 1) {
			t.Errorf("node1 rejoined but roles say %v", roles)
		}
		drivertest.WaitSettled(t, c, time.Minute)
		if err := c.Switchover(ctx, 1); err != nil {
			t.Fatalf("switchover back to node1: %v", err)
		}
		drivertest.PutEventually(t, cli, "after-switchover", []byte("v"), 10*time.Second)
		drivertest.WaitSettled(t, c, time.Minute)
		roles, _ = c.NodeRoles(ctx)
		if fmt.Sprint(roles[rolePrimary]) != "[1]" || !slices.Contains(roles[roleReplica], cand) {
			t.Errorf("roles after switching back: %v", roles)
		}
	case strings.Contains(err.Error(), "node1 has errant transactions 0-1-") && strings.Contains(err.Error(), "left out of replication"):
		t.Logf("node1 left out: %v; roles %v", err, roles)
		if slices.Contains(roles[roleReplica], 1) {
			t.Errorf("node1 left out but a replica: %v", roles)
		}
		ok, detail, err := c.Settled(ctx)
		if ok || !strings.Contains(detail, "errant transactions") || err != nil {
			t.Errorf("settled %v (%q, %v) with node1 left out", ok, detail, err)
		}
	default:
		t.Fatalf("start node1: %v", err)
	}
}

// asyncCluster starts a cluster of 3 with asynchronous replication, a
// client, and a context the test has within.
func asyncCluster(t *testing.T, within time.Duration) (*cluster, drivers.Client, context.Context) {
	t.Helper()
	c := startTestCluster(t, needDocker(t), 3, nil)
	ctx, cancel := context.WithTimeout(t.Context(), within)
	t.Cleanup(cancel)
	return c, drivertest.NewClient(t, c), ctx
}

// failoverOf is the operational entry of the run's failover step.
func failoverOf(t *testing.T, rep *model.Report, step string) model.Operational {
	t.Helper()
	for _, o := range rep.Operational {
		if o.Step == step {
			ms := int64(-2)
			if o.FailoverMs != nil {
				ms = *o.FailoverMs
			}
			t.Logf("%s node%d: failover_ms %d, unavailable %v, detail %q", o.Step, o.Node, ms, deref(o.UnavailableMs), o.Detail)
			if o.Kind != "failover" || o.FailoverMs == nil || *o.FailoverMs < 0 {
				t.Errorf("%s: %+v: want kind failover with failover_ms", step, o)
			}
			return o
		}
	}
	t.Fatalf("no operational entry for %s", step)
	return model.Operational{}
}

// deref is *p, or -2 for a number the report leaves out (nil), for logs.
func deref(p *int64) int64 {
	if p == nil {
		return -2
	}
	return *p
}

// The built-in failover scenarios through the runner, their timeline
// scaled to half (as --duration does; the step timeouts are not scaled):
// kill the primary under load, promote the most advanced replica, start
// the old primary. With asynchronous replication acknowledged writes may
// be lost: the read-back counts them (the test requires only that it
// checked, and that writes work after the failover); with semi-synchronous
// replication (AFTER_SYNC) none may be lost.
func TestScenarioFailover(t *testing.T) {
	runID := needDocker(t)
	t.Parallel()
	plan, err := scenarios.Load("failover")
	if err != nil {
		t.Fatal(err)
	}
	scaled := plan.Duration / 2
	scale := float64(scaled) / float64(plan.Duration)
	for _, tc := range []struct {
		name     string
		semiSync bool
	}{
		{"async", false},
		{"semi-sync", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plan := plan.Scaled(scaled)
			if tc.semiSync { // what --option semi-sync=on does
				plan.Cluster.Options[OptSemiSync] = "on"
			}
			rep, _ := drivertest.RunPlan(t, New(), runID+"-"+tc.name, plan, scale, 5*time.Minute)
			if want := map[bool]string{false: "off", true: "on"}[tc.semiSync]; rep.Driver.Config[OptSemiSync] != want {
				t.Fatalf("config %v: want semi-sync %v", rep.Driver.Config, tc.semiSync)
			}
			byStep := map[string]model.Event{}
			for _, e := range rep.Events {
				byStep[e.Step] = e
			}
			promote, start := byStep["promote"], byStep["start"]
			if promote.Outcome != "ok" || (promote.Node != 2 && promote.Node != 3) || byStep["kill"].Node != 1 || start.Node != 1 {
				t.Fatalf("kill %+v, promote %+v, start %+v", byStep["kill"], promote, start)
			}
			fo := failoverOf(t, rep, "promote")
			rejoined := start.Outcome == "ok"
			if !rejoined && !strings.Contains(string(start.Outcome), "node1 has errant transactions 0-1-") {
				t.Errorf("start of the old primary: %s", start.Outcome)
			}
			s := rep.Safety
			t.Logf("semi-sync %v: failover_ms %d; acknowledged %d keys (%d writes), lost %d, stale %d; old primary rejoined: %v (%s)",
				tc.semiSync, deref(fo.FailoverMs), s.Acknowledged, s.AcknowledgedWrites, s.Lost, s.Stale, rejoined, start.Outcome)
			if !s.Checked || s.Acknowledged == 0 {
				t.Errorf("safety not checked: %+v", s)
			}
			if tc.semiSync && (s.Lost != 0 || s.Stale != 0) {
				t.Errorf("semi-sync (AFTER_SYNC) failover lost %d and made stale %d acknowledged writes; want none", s.Lost, s.Stale)
			}
			// while the old primary rejoins, writes go to the new primary:
			// none may find it unavailable; a busy machine may time out a
			// few, or the database answer one (other: a deadlock, say), but
			// not more than 1 in 100
			for _, p := range rep.Phases {
				w := p.Ops["write"]
				if p.Name == "rejoin" && (w.Count == 0 || w.ErrorsByClass["unavailable"] > 0 || w.Errors*100 > w.Count) {
					t.Errorf("phase rejoin: writes %+v; want them acknowledged by the new primary (none unavailable, under 1%% failed)", w)
				}
			}
		})
	}
}

// Switchover through the runner under load, there and back (node1 must
// have become a replica to take the role back): no acknowledged write may
// be lost.
func TestScenarioSwitchover(t *testing.T) {
	runID := needDocker(t)
	t.Parallel()
	rep, _ := drivertest.RunScenario(t, New(), runID, `name: switchover
cluster:
  nodes: 3
workload: {mix: {read: 50, write: 45, delete: 5}, keys: 2000, value_size: 256, rate: 400, concurrency: 32}
steps:
  - phase: baseline
    sleep: 5s
  - phase: to-replica
    switchover: replica
  - sleep: 5s
  - phase: back
    switchover: 1
  - sleep: 5s
  - wait-settled: 1m
  - verify:
`, 4*time.Minute)
	byStep := drivertest.EventsByStep(t, rep)
	if byStep["switchover"].Node != 1 {
		t.Errorf("the second switchover went to node%d, want node1", byStep["switchover"].Node)
	}
	var first model.Event
	for _, e := range rep.Events {
		if e.Step == "switchover" {
			first = e
			break
		}
	}
	if first.Node != 2 && first.Node != 3 {
		t.Errorf("switchover: replica went to node%d", first.Node)
	}
	failoverOf(t, rep, "switchover")
	s := rep.Safety
	t.Logf("safety: acknowledged %d keys (%d writes), verified %d, lost %d, stale %d", s.Acknowledged, s.AcknowledgedWrites, s.Verified, s.Lost, s.Stale)
	if !s.Checked || s.Acknowledged == 0 || s.Lost != 0 || s.Stale != 0 {
		t.Errorf("a switchover lost acknowledged writes: %+v", s)
	}
}

// An asynchronous failover that loses acknowledged writes, made certain:
// the replicas stop fetching, the primary acknowledges writes, dies, and
// a replica is promoted. The writes are gone from the new primary, and
// the old primary, started again, holds them as errant transactions: it
// is left out of replication with their GTIDs named, plays no role, and
// the cluster does not count as settled.
func TestPromoteLosesUnreplicatedWrites(t *testing.T) {
	t.Parallel()
	c, cli, ctx := asyncCluster(t, 2*time.Minute)
	drivertest.WaitSettled(t, c, time.Minute)
	stopFetchingBehind(ctx, t, c, 2, 3)
	const unreplicated = 5
	for i := range unreplicated {
		if err := cli.Put(ctx, fmt.Sprintf("unreplicated/%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.KillNode(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if cand, err := c.Candidate(ctx); err != nil || cand != 2 {
		t.Fatalf("candidate node%d (%v), want node2: it received all node3 did", cand, err)
	}
	if err := c.Promote(ctx, 2); err != nil {
		t.Fatal(err)
	}
	for i := range unreplicated {
		if _, err := cli.Get(ctx, fmt.Sprintf("unreplicated/%d", i)); !errors.Is(err, drivers.ErrNotFound) {
			t.Errorf("unreplicated/%d after the failover: %v, want not found (lost)", i, err)
		}
	}
	err := c.StartNode(ctx, 1)
	if err == nil || !strings.Contains(err.Error(), "node1 has errant transactions 0-1-") || !strings.Contains(err.Error(), "that node2 (the primary) lacks; left out of replication") {
		t.Fatalf("start of the old primary: %v, want its errant transactions named", err)
	}
	t.Logf("start node1: %v", err)
	var n int
	if _, err := fmt.Sscanf(err.Error()[strings.Index(err.Error(), "(")+1:], "%d transactions", &n); err != nil || n < unreplicated {
		t.Errorf("errant transactions counted %d (%v), want at least the %d writes", n, err, unreplicated)
	}
	roles, _ := c.NodeRoles(ctx)
	if fmt.Sprint(roles) != "map[primary:[2] replica:[3]]" {
		t.Errorf("roles with node1 left out: %v", roles)
	}
	if ok, detail, _ := c.Settled(ctx); ok || !strings.Contains(detail, "errant") {
		t.Errorf("settled %v (%s) with node1 left out", ok, detail)
	}
	if got := c.readTargets(0, readAny); slices.Contains(got, 1) {
		t.Errorf("reads may go to node1, left out: %v", got)
	}
	drivertest.PutEventually(t, cli, "after", []byte("v"), 10*time.Second)
}

// stopFetchingBehind stops the IO threads of replicas ahead and behind
// (ahead last) so that ahead has received every transaction behind has,
// whatever the primary writes meanwhile (the driver's heartbeat commits
// every 100 ms): behind stops first, ahead applies what behind received,
// then stops. Promoted, ahead leaves behind nothing errant.
func stopFetchingBehind(ctx context.Context, t *testing.T, c *cluster, ahead, behind int) {
	t.Helper()
	a, b := mustNode(t, c, ahead), mustNode(t, c, behind)
	if err := execAdmin(ctx, b, "STOP SLAVE IO_THREAD"); err != nil {
		t.Fatal(err)
	}
	st, err := showSlaveStatus(ctx, b)
	if err != nil || st == nil {
		t.Fatalf("%s: slave status %v, %v", b.Name, st, err)
	}
	if err := waitApplied(ctx, a, st["Gtid_IO_Pos"], 30*time.Second); err != nil {
		t.Fatalf("%s did not apply what %s received: %v", a.Name, b.Name, err)
	}
	if err := execAdmin(ctx, a, "STOP SLAVE IO_THREAD"); err != nil {
		t.Fatal(err)
	}
	sa, err := showSlaveStatus(ctx, a)
	if err != nil || sa == nil {
		t.Fatalf("%s: slave status %v, %v", a.Name, sa, err)
	}
	t.Logf("IO threads stopped: %s received %s, %s received %s", b.Name, st["Gtid_IO_Pos"], a.Name, sa["Gtid_IO_Pos"])
}
