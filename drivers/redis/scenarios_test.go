package redis

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/drivertest"
	"github.com/evalrun/evalrun/internal/runner"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/scenarios"
)

// These tests run built-in scenarios, shortened to about 28 s, through the
// runner against 3+3 Redis clusters in Docker (cluster-node-timeout 2000),
// and check the reports.

const scenarioLength = 28 * time.Second

func runScenario(t *testing.T, name string) *model.Report {
	return runScenarioImage(t, name, "")
}

// runScenarioImage runs a scenario; image is --image ("" for the default).
func runScenarioImage(t *testing.T, name, image string) *model.Report {
	t.Helper()
	runID := needDocker(t)
	plan, err := scenarios.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	d := New()
	if _, err := scenarios.Check(plan, d, drivers.ProviderDocker); err != nil {
		t.Fatal(err)
	}
	plan = plan.Scaled(scenarioLength)
	plan.Workload.Rate = 300
	plan.Workload.Keys = 1000
	plan.Cluster.Options = map[string]string{OptNodeTimeout: "2000"}
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	t0 := time.Now()
	rep, err := runner.Run(ctx, runner.Options{
		Plan: plan, TimeScale: float64(scenarioLength) / float64(plan.Duration), Driver: d, Provider: drivers.ProviderDocker,
		RunID: runID, Version: "test", Logf: t.Logf, TeardownTimeout: 40 * time.Second, Image: image,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Logf("%s: run took %s (timeline %d ms, preload %d ms)", name, time.Since(t0).Round(time.Millisecond), rep.Run.DurationMs, rep.Load.PreloadMs)
	if !rep.Complete {
		t.Fatalf("report incomplete: %s", rep.Incomplete)
	}
	checkReport(t, rep)
	// a repository (evalrun/redis) asks for our image of the current recipe
	if image != "" && rep.Driver.Image != image && !strings.HasPrefix(rep.Driver.Image, image+":") {
		t.Errorf("ran image %q, asked %q", rep.Driver.Image, image)
	}
	return rep
}

// checkReport checks what every scenario's report must show.
func checkReport(t *testing.T, rep *model.Report) {
	t.Helper()
	if rep.Driver.DB != "redis" || rep.Driver.DBVersion == "" || rep.Driver.Image == "" || rep.Driver.ImageID == "" {
		t.Errorf("driver %+v", rep.Driver)
	}
	if rep.Driver.Config[OptNodeTimeout] != "2000" || rep.Driver.Config[OptReplicas] != "1" || rep.Driver.Config[OptAppendOnly] != "false" {
		t.Errorf("config %v", rep.Driver.Config)
	}
	var ops, errs int64
	for _, p := range rep.Phases {
		ops += p.Total.Count
		errs += p.Total.Errors
		for class := range p.Total.ErrorsByClass {
			if class == "other" {
				t.Errorf("phase %s: unclassified errors: %v", p.Name, p.Total.ErrorsByClass)
			}
		}
	}
	if ops < int64(float64(rep.Run.DurationMs)/1000*rep.Workload.TargetRate*0.8) {
		t.Errorf("only %d ops in %d ms at %v ops/s", ops, rep.Run.DurationMs, rep.Workload.TargetRate)
	}
	if rep.Load.Intended != rep.Load.Issued+rep.Load.Missed {
		t.Errorf("intended %d != issued %d + missed %d", rep.Load.Intended, rep.Load.Issued, rep.Load.Missed)
	}
	s := rep.Safety
	if !s.Checked || s.Acknowledged == 0 || s.AcknowledgedWrites == 0 {
		t.Errorf("safety not checked: %+v", s)
	}
	for _, e := range rep.Events {
		if e.Outcome != "ok" {
			t.Errorf("event %s (line %d) failed: %s %s", e.Step, e.Line, e.Outcome, e.Detail)
		}
	}
	t.Logf("ops %d (errors %d), missed %d; safety: acknowledged %d keys (%d writes), verified %d, lost %d %v, stale %d, unreadable %d, not-found reads %d",
		ops, errs, rep.Load.Missed, s.Acknowledged, s.AcknowledgedWrites, s.Verified, s.Lost, s.LostKeys, s.Stale, s.Unreadable, s.NotFoundReads)
	for _, e := range rep.Events {
		t.Logf("event %-12s node %d at %6d ms, %5d ms: %s %s", e.Step, e.Node, e.StartMs, e.EndMs-e.StartMs, e.Outcome, e.Detail)
	}
	for _, p := range rep.Phases {
		t.Logf("phase %-12s %6d ops, %5d errors %v, p50 %d us, p99 %d us, max %d us", p.Name, p.Total.Count, p.Total.Errors,
			p.Total.ErrorsByClass, p.Total.P50Us, p.Total.P99Us, p.Total.MaxUs)
	}
	for _, o := range rep.Operational {
		t.Logf("operational %s", describeOp(o))
	}
}

func describeOp(o model.Operational) string {
	v := func(p *int64) any {
		if p == nil {
			return "-"
		}
		return *p
	}
	return o.Step + " (" + o.Kind + ")" + fmt.Sprintf(" node %d at %d ms: first error %v ms, unavailable %v ms, back to baseline p99 %v ms, duration %v ms, bytes %v %s",
		o.Node, o.AtMs, v(o.TimeToFirstErrorMs), v(o.UnavailableMs), v(o.RecoveryToBaselineMs), v(o.DurationMs), v(o.Bytes), o.Detail)
}

func findOp(rep *model.Report, step string) (model.Operational, bool) {
	for _, o := range rep.Operational {
		if o.Step == step {
			return o, true
		}
	}
	return model.Operational{}, false
}

func phaseErrors(rep *model.Report, name string) int64 {
	for _, p := range rep.Phases {
		if p.Name == name {
			return p.Total.Errors
		}
	}
	return -1
}

func TestScenarioNodeLoss(t *testing.T) {
	t.Parallel()
	rep := runScenario(t, "node-loss")
	kill, ok := findOp(rep, "kill")
	if !ok {
		t.Fatalf("no kill in the operational numbers: %+v", rep.Operational)
	}
	if kill.Node < 1 || kill.Node > 3 {
		t.Errorf("killed node %d, want a master (1..3)", kill.Node)
	}
	if kill.TimeToFirstErrorMs == nil || *kill.TimeToFirstErrorMs < 0 || kill.UnavailableMs == nil || kill.RecoveryToBaselineMs == nil {
		t.Errorf("kill entry incomplete: %+v", kill)
	}
	if _, ok := findOp(rep, "start"); !ok {
		t.Errorf("no start (recovery) entry: %+v", rep.Operational)
	}
	if phaseErrors(rep, "fault") <= 0 {
		t.Errorf("no errors in the fault phase: the kill went unnoticed")
	}
	// Redis replicates asynchronously: a failover may lose acknowledged
	// writes. Reported, not forbidden.
	t.Logf("node-loss: unavailable %v ms after killing master node%d; acknowledged writes lost: %d keys, stale: %d",
		*kill.UnavailableMs, kill.Node, rep.Safety.Lost, rep.Safety.Stale)
}

func TestScenarioRebalance(t *testing.T) {
	t.Parallel()
	rep := runScenario(t, "rebalance")
	for _, step := range []string{"add-node", "remove-node"} {
		o, ok := findOp(rep, step)
		if !ok || o.DurationMs == nil || *o.DurationMs <= 0 {
			t.Errorf("%s: %+v", step, o)
			continue
		}
		t.Logf("rebalance: %s took %d ms until settled", step, *o.DurationMs)
	}
	if rep.Safety.Lost != 0 {
		t.Errorf("slot migration lost %d acknowledged keys: %v", rep.Safety.Lost, rep.Safety.LostKeys)
	}
}

func TestScenarioPartition(t *testing.T) {
	t.Parallel()
	rep := runScenario(t, "partition")
	for _, step := range []string{"partition", "heal"} {
		if _, ok := findOp(rep, step); !ok {
			t.Errorf("no %s entry: %+v", step, rep.Operational)
		}
	}
	t.Logf("partition: %d errors while partitioned, %d after the heal; lost %d, stale %d",
		phaseErrors(rep, "partitioned"), phaseErrors(rep, "healed"), rep.Safety.Lost, rep.Safety.Stale)
}

func TestScenarioBackupRestore(t *testing.T) {
	t.Parallel()
	// --image names the offline image's repository (built if missing).
	rep := runScenarioImage(t, "backup-restore", offlineRepo)
	b, ok := findOp(rep, "backup")
	if !ok || b.Bytes == nil || *b.Bytes <= 0 || b.DurationMs == nil {
		t.Fatalf("backup: %+v", b)
	}
	r, ok := findOp(rep, "restore")
	if !ok || r.DurationMs == nil || *r.DurationMs <= 0 {
		t.Fatalf("restore: %+v", r)
	}
	var restored *model.Verification
	for i, v := range rep.Safety.Verifications {
		if v.Target == "restored" {
			restored = &rep.Safety.Verifications[i]
		}
	}
	if restored == nil || restored.Checked == 0 || restored.Lost != 0 || restored.Verified != restored.Checked {
		t.Errorf("restored verification: %+v", restored)
	}
	t.Logf("backup-restore: backup %d bytes in %d ms, restore in %d ms; restored verification %+v", *b.Bytes, *b.DurationMs, *r.DurationMs, restored)
}

// Every node a 3+3 cluster starts is addressable (kill: 4 is a replica),
// and a step may name a role Redis declares (pause: replica): issue 11.
func TestScenarioReplicaSteps(t *testing.T) {
	runID := needDocker(t)
	t.Parallel()
	rep, top := drivertest.RunScenario(t, New(), runID, `name: replica-steps
cluster:
  nodes: 3
  options: {replicas: 1, cluster-node-timeout: 2000}
workload: {mix: {read: 50, write: 50}, keys: 500, rate: 200, concurrency: 8}
steps:
  - sleep: 3s
  - kill: 4
  - sleep: 3s
  - start: 4
  - wait-settled: 1m
  - pause: replica
  - sleep: 3s
  - resume: down
  - wait-settled: 1m
  - verify:
`, 5*time.Minute)
	if top.Nodes != 6 {
		t.Fatalf("3 masters with a replica each: %d nodes", top.Nodes)
	}
	byStep := drivertest.EventsByStep(t, rep)
	if byStep["kill"].Node != 4 || byStep["start"].Node != 4 {
		t.Errorf("kill and start of node 4: %+v, %+v", byStep["kill"], byStep["start"])
	}
	// the replicas of a 3+3 cluster are nodes 4..6 (no failover happened:
	// only a replica was killed)
	if p := byStep["pause"]; p.Node < 4 || p.Node > 6 || byStep["resume"].Node != p.Node {
		t.Errorf("pause: replica paused node %d, resume: down resumed node %d", p.Node, byStep["resume"].Node)
	}
	if rep.Safety.Lost != 0 || rep.Safety.Stale != 0 {
		t.Errorf("lost %d, stale %d", rep.Safety.Lost, rep.Safety.Stale)
	}
}
