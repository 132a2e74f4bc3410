package riak

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/runner"
	"github.com/evalrun/evalrun/internal/testdocker"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/reports/render"
	"github.com/evalrun/evalrun/scenarios"
)

// The integration tests run shortened scenarios through the runner against
// real Riak clusters in Docker. They need an image: EVALRUN_RIAK_IMAGE must
// name one that exists (`evalrun images build riak --release DIR` makes
// evalrun/riak:<version>); otherwise they skip and say why. Ring size 16
// and transfer-limit 8 keep handoff to a few minutes.

const imageEnv = "EVALRUN_RIAK_IMAGE"

// needRiak returns the image and the test's run-id prefix, or skips.
func needRiak(t *testing.T) (image, runID string) {
	t.Helper()
	image = os.Getenv(imageEnv)
	if image == "" {
		t.Skipf("skipping the Riak integration test: %s is not set; build an image with "+
			"`evalrun images build riak --release DIR` (a Riak release) and set %s=evalrun/riak:<version>", imageEnv, imageEnv)
	}
	e, prefix := testdocker.Need(t, "riak")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, ok, err := e.ImageID(ctx, image); err != nil {
		t.Fatal(err)
	} else if !ok {
		t.Skipf("skipping the Riak integration test: %s=%s names no local image; build it with `evalrun images build riak --release DIR`", imageEnv, image)
	}
	return image, prefix
}

// runYAML runs a scenario given as YAML and checks what every report must
// show. strict: no acknowledged write may be lost or stale (n_val 3 with
// quorum reads and writes and no partition); scenarios with a partition
// may see Riak resolve concurrent writes to an older value, which the
// report must count but the test cannot forbid.
func runYAML(t *testing.T, text string, limit time.Duration, strict bool) *model.Report {
	t.Helper()
	image, runID := needRiak(t)
	plan, err := scenarios.Parse("test:"+t.Name(), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	d := New()
	if _, err := scenarios.Check(plan, d, drivers.ProviderDocker); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	t0 := time.Now()
	rep, err := runner.Run(ctx, runner.Options{
		Plan: plan, TimeScale: 1, Driver: d, Provider: drivers.ProviderDocker,
		RunID: runID, Version: "test", Logf: t.Logf, TeardownTimeout: 90 * time.Second, Image: image,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Logf("run took %s (timeline %d ms, preload %d ms)", time.Since(t0).Round(time.Second), rep.Run.DurationMs, rep.Load.PreloadMs)
	for _, ev := range rep.Events {
		t.Logf("event %-12s node %d at %6d ms..%6d ms: %s %s", ev.Step, ev.Node, ev.StartMs, ev.EndMs, ev.Outcome, ev.Detail)
	}
	for _, o := range rep.Operational {
		t.Logf("operational %s", fmtOp(o))
	}
	t.Logf("safety %+v", rep.Safety)
	if !rep.Complete {
		t.Fatalf("report incomplete: %s", rep.Incomplete)
	}
	if rep.Driver.DB != "riak" || rep.Driver.DBVersion == "" || rep.Driver.Image != image || rep.Driver.ImageID == "" {
		t.Errorf("driver %+v", rep.Driver)
	}
	for _, k := range []string{OptNVal, OptR, OptW, OptPR, OptPW, OptAllowMult, OptNotFoundOK, OptBucketType} {
		if rep.Driver.Config[k] == "" {
			t.Errorf("report config lacks %s: %v", k, rep.Driver.Config)
		}
	}
	for _, ev := range rep.Events {
		if ev.Outcome != "ok" {
			t.Errorf("step %s (line %d): %s %s", ev.Step, ev.Line, ev.Outcome, ev.Detail)
		}
	}
	var ops int64
	for _, p := range rep.Phases {
		ops += p.Total.Count
		if p.Total.ErrorsByClass["other"] > 0 {
			t.Errorf("phase %s: unclassified errors %v", p.Name, p.Total.ErrorsByClass)
		}
	}
	if ops == 0 || rep.Load.Issued == 0 {
		t.Errorf("no operations: %+v", rep.Load)
	}
	s := rep.Safety
	if !s.Checked || s.Acknowledged == 0 || s.Verified+s.Lost+s.Stale+s.QuorumNotFound+s.Unconfirmed+s.Unreadable != s.Acknowledged {
		t.Errorf("final verify: %+v", s)
	}
	if s.Unreadable != 0 {
		t.Errorf("%d acknowledged keys unreadable at the end", s.Unreadable)
	}
	if strict && (s.Lost != 0 || s.Stale != 0) {
		t.Errorf("acknowledged writes lost %d, stale %d (lost %v, stale %v)", s.Lost, s.Stale, s.LostKeys, s.StaleKeys)
	}
	return rep
}

func fmtOp(o model.Operational) string {
	p := func(v *int64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprint(*v)
	}
	return fmt.Sprintf("%s node %d (%s) at %d ms: first error %s ms, unavailable %s ms, recovery %s ms, duration %s ms, bytes %s, handoff %s ms (%s partitions) %s",
		o.Step, o.Node, o.Kind, o.AtMs, p(o.TimeToFirstErrorMs), p(o.UnavailableMs), p(o.RecoveryToBaselineMs),
		p(o.DurationMs), p(o.Bytes), p(o.HandoffMs), p(o.HandoffPartitions), o.Detail)
}

func opOf(t *testing.T, rep *model.Report, step string) model.Operational {
	t.Helper()
	for _, o := range rep.Operational {
		if o.Step == step {
			return o
		}
	}
	t.Fatalf("no operational entry for %s: %+v", step, rep.Operational)
	return model.Operational{}
}

const testWorkload = `
workload:
  mix: {read: 50, write: 45, delete: 5}
  keys: 2000
  value_size: 256
  rate: 200
  concurrency: 32
  timeout: 2s
  seed: 1
  preload: true
`

// TestNodeLoss kills the claimant and restarts it, pauses and resumes a
// node, cuts one node off and heals, on 3 nodes with allow_mult, and checks
// that the report carries the fault numbers, the hinted handoff after each
// return and the sibling reads.
func TestNodeLoss(t *testing.T) {
	rep := runYAML(t, `
name: riak-node-loss
cluster:
  nodes: 3
  options: {ring-size: "16", transfer-limit: "8", vnode-inactivity-timeout: "10s", allow_mult: "true"}
`+testWorkload+`
steps:
  - phase: baseline
    sleep: 15s
  - phase: kill
    kill: leader
  - sleep: 15s
  - phase: restart
    start: down
  - sleep: 20s
  - phase: pause
    pause: 2
  - sleep: 10s
  - resume: 2
  - sleep: 15s
  - phase: partition
    partition: [[1], [2, 3]]
  - sleep: 10s
  - heal:
  - sleep: 20s
  - wait-settled: 10m
  - verify: {}
`, 25*time.Minute, false)
	kill := opOf(t, rep, "kill")
	if kill.TimeToFirstErrorMs == nil || kill.UnavailableMs == nil || kill.RecoveryToBaselineMs == nil {
		t.Errorf("kill: fault numbers missing: %s", fmtOp(kill))
	}
	if rep.Safety.Siblings == 0 {
		t.Errorf("allow_mult with blind writes made no sibling reads: %+v", rep.Safety)
	}
	for _, step := range []string{"start", "resume", "heal"} {
		o := opOf(t, rep, step)
		if o.HandoffPartitions == nil || o.HandoffMs == nil {
			t.Errorf("%s: hinted handoff not tracked to its end: %s", step, fmtOp(o))
		}
	}
}

// TestRebalance joins a fourth node, makes an original member leave, then
// kills a member and force-removes it, waiting for the handoffs, and
// checks the handoff numbers. Until the force-remove no acknowledged write
// may be lost or stale; after it Riak may read some keys as not found
// until read repair (the replicas of a dead node are gone): the report
// counts that, the test does not forbid it.
func TestRebalance(t *testing.T) {
	rep := runYAML(t, `
name: riak-rebalance
cluster:
  nodes: 3
  options: {ring-size: "16", transfer-limit: "8", vnode-inactivity-timeout: "10s"}
`+testWorkload+`
steps:
  - phase: baseline
    sleep: 15s
  - phase: add
    add-node:
  - wait-settled: 12m
  - sleep: 5s
  - phase: leave
    remove-node: 1
  - wait-settled: 12m
  - sleep: 5s
  - verify: {}
  - phase: force-remove
    kill: 2
  - sleep: 5s
  - remove-node: 2
  - wait-settled: 12m
  - sleep: 5s
  - verify: {}
`, 45*time.Minute, false)
	var removes []model.Operational
	for _, o := range rep.Operational {
		switch o.Step {
		case "add-node":
			if o.Node != 4 {
				t.Errorf("added node %d, want 4", o.Node)
			}
			fallthrough
		case "remove-node":
			if o.DurationMs == nil || *o.DurationMs <= 0 {
				t.Errorf("%s: no duration until settled: %s", o.Step, fmtOp(o))
			}
			if o.HandoffMs == nil || o.HandoffPartitions == nil || *o.HandoffPartitions <= 0 {
				t.Errorf("%s: handoff not reported: %s", o.Step, fmtOp(o))
			}
			if o.Step == "remove-node" {
				removes = append(removes, o)
			}
		}
	}
	if len(removes) != 2 {
		t.Errorf("remove-node entries: %d, want 2 (a leave and a force-remove)", len(removes))
	}
	// The handoff gauge is in the windows while data moves, and the HTML
	// page plots it.
	sampled, most := 0, 0.0
	for _, w := range rep.Windows {
		if v, ok := w.Gauges[GaugeHandoffPartitions]; ok {
			sampled++
			most = max(most, v)
		}
	}
	if sampled < 10 || most <= 0 {
		t.Errorf("%s: %d windows carry it, at most %v partitions (the cluster moved partitions three times)", GaugeHandoffPartitions, sampled, most)
	}
	if page, err := render.HTML(rep); err != nil || !strings.Contains(string(page), "Cluster gauges over time") {
		t.Errorf("the HTML page draws no gauge plot: %v", err)
	}
	v := rep.Safety.Verifications
	if len(v) == 0 || v[0].Step != "verify" || v[0].Checked == 0 || v[0].Lost != 0 || v[0].Unreadable != 0 {
		t.Errorf("read-back after the join and the leave: %+v", v)
	}
	if len(v) > 0 && v[0].Stale != 0 {
		// Seen once here (1 of 2,000 keys, 1 of 2 runs on 2026-12-01):
		// with pr=0 a quorum read may pick replicas that missed a write
		// during the ownership handoff. The report counts it; the replica
		// evidence of the final read-back says where the value is.
		t.Logf("after the join and the leave %d keys read stale (reported, not forbidden)", v[0].Stale)
	}
	// every stale key the final read-back listed has its replicas read
	want := min(int(rep.Safety.Stale), 10)
	got := 0
	for _, e := range rep.Safety.Evidence {
		if e.Verdict != "stale" {
			continue
		}
		got++
		if e.InspectError != "" || len(e.Replicas) == 0 {
			t.Errorf("stale %s: no replica evidence: %+v", e.Key, e)
		}
		var holds []string
		for _, r := range e.Replicas {
			holds = append(holds, fmt.Sprintf("%s %s: %s", r.Partition, r.Node, r.Holds))
		}
		t.Logf("stale %s: %s", e.Key, strings.Join(holds, "; "))
	}
	if got != want {
		t.Errorf("evidence for %d stale keys, want %d", got, want)
	}
}

// TestBackupRestore takes a rolling cold backup under load, restores it
// into a fresh cluster with the same node names and verifies it there:
// nothing acknowledged before the backup may be missing.
func TestBackupRestore(t *testing.T) {
	rep := runYAML(t, `
name: riak-backup-restore
cluster:
  nodes: 3
  options: {ring-size: "16", transfer-limit: "8", vnode-inactivity-timeout: "10s"}
`+testWorkload+`
steps:
  - phase: baseline
    sleep: 10s
  - phase: backup
    backup: {timeout: 10m}
  - sleep: 5s
  - phase: restore
    restore: {timeout: 10m}
  - sleep: 5s
  - verify: {}
`, 30*time.Minute, false)
	b := opOf(t, rep, "backup")
	if b.Bytes == nil || *b.Bytes <= 0 || b.DurationMs == nil {
		t.Errorf("backup: %s", fmtOp(b))
	}
	var restored *model.Verification
	for i, v := range rep.Safety.Verifications {
		if v.Target == "restored" {
			restored = &rep.Safety.Verifications[i]
		}
	}
	if restored == nil {
		t.Fatalf("no verification of the restored cluster: %+v", rep.Safety.Verifications)
	}
	// The backup's promise: every write acknowledged before it began is in
	// the restored cluster. (The source cluster may end with a few stale
	// keys: its nodes restarted one by one under load, and Riak resolves
	// writes taken by fallbacks by timestamp.)
	if restored.Checked == 0 || restored.Lost != 0 || restored.Unreadable != 0 {
		t.Errorf("restored cluster: %+v", *restored)
	}
	if !strings.Contains(rep.Driver.Config["backup-method"], "cold copy") {
		t.Errorf("config %v", rep.Driver.Config)
	}
}
