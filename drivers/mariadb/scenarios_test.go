package mariadb

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/internal/drivertest"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/reports/render"
	"github.com/evalrun/evalrun/scenarios"
)

// A scenario through the runner: a replica paused and resumed (a role and
// "down" as targets), then node 2 killed and started again, under load.
// The report's windows carry the replicas' lag.
func TestScenarioReplicaFaults(t *testing.T) {
	runID := needDocker(t)
	t.Parallel()
	rep, top := drivertest.RunScenario(t, New(), runID, `name: replica-faults
cluster:
  nodes: 3
workload: {mix: {read: 50, write: 45, delete: 5}, keys: 500, value_size: 64, rate: 200, concurrency: 8}
steps:
  - phase: baseline
    sleep: 3s
  - phase: paused
    pause: replica
  - sleep: 4s
  - phase: resumed
    resume: down
  - wait-settled: 1m
  - sleep: 2s
  - phase: killed
    kill: 2
  - sleep: 3s
  - phase: restarted
    start: 2
  - wait-settled: 1m
  - sleep: 2s
  - verify:
`, 4*time.Minute)
	if top.Nodes != 3 {
		t.Errorf("planned %d nodes", top.Nodes)
	}
	if rep.Driver.DB != "mariadb" || rep.Driver.DBVersion == "" || rep.Driver.ImageID == "" || rep.Driver.Config[OptReadFrom] != "primary" {
		t.Errorf("driver %+v", rep.Driver)
	}
	byStep := drivertest.EventsByStep(t, rep)
	// "pause: replica" is the lowest replica that is up: node 2
	if byStep["pause"].Node != 2 || byStep["resume"].Node != 2 || byStep["kill"].Node != 2 || byStep["start"].Node != 2 {
		t.Errorf("pause %d, resume %d, kill %d, start %d: want node 2 each time",
			byStep["pause"].Node, byStep["resume"].Node, byStep["kill"].Node, byStep["start"].Node)
	}
	var lagged, withGauges, maxLag = 0, 0, 0.0
	var series []string
	pause, resume := byStep["pause"], byStep["resume"]
	for _, w := range rep.Windows {
		lag, ok := w.Gauges["lag_s.node2"]
		if !ok {
			series = append(series, fmt.Sprintf("%d:-", w.StartMs/1000))
			continue
		}
		series = append(series, fmt.Sprintf("%d:%.2f", w.StartMs/1000, lag))
		withGauges++
		maxLag = max(maxLag, lag)
		if w.StartMs >= pause.EndMs && w.StartMs < resume.StartMs && lag > 1 {
			lagged++
		}
	}
	t.Logf("lag_s.node2 by second (- for none): %s", strings.Join(series, " "))
	t.Logf("%d of %d windows carry lag_s.node2; %d windows of the pause show more than 1 s; the most %.2f s",
		withGauges, len(rep.Windows), lagged, maxLag)
	if withGauges < len(rep.Windows)/2 || lagged == 0 {
		t.Errorf("lag_s.node2 in %d of %d windows, above 1 s in %d windows of the pause", withGauges, len(rep.Windows), lagged)
	}
	s := rep.Safety
	t.Logf("safety: acknowledged %d keys (%d writes), verified %d, lost %d, stale %d, not-found reads %d; read settings %q",
		s.Acknowledged, s.AcknowledgedWrites, s.Verified, s.Lost, s.Stale, s.NotFoundReads, s.ReadSettings)
	if !s.Checked || s.Acknowledged == 0 || s.Lost != 0 || s.Stale != 0 || s.NotFoundReads != 0 {
		t.Errorf("safety %+v", s)
	}
	for _, p := range rep.Phases {
		if p.Total.Errors != 0 {
			t.Errorf("phase %s: %d errors; a replica's faults do not touch the primary", p.Name, p.Total.Errors)
		}
	}
}

// The built-in backup-methods through the runner, its timeline scaled to
// 30 s and its rate lowered (CPU is shared): four backups taken under
// load, each restored and verified with nothing lost; the report names
// each method, with its duration, bytes and peak p99 (the snapshot's
// freeze too), and the Markdown shows them side by side.
func TestScenarioBackupMethods(t *testing.T) {
	runID := needDocker(t)
	t.Parallel()
	plan, err := scenarios.Load("backup-methods")
	if err != nil {
		t.Fatal(err)
	}
	const scaled = 30 * time.Second
	scale := float64(scaled) / float64(plan.Duration)
	plan = plan.Scaled(scaled)
	plan.Workload.Rate = 200
	rep, _ := drivertest.RunPlan(t, New(), runID, plan, scale, 5*time.Minute)
	drivertest.EventsByStep(t, rep)
	var methods []string
	for _, o := range rep.Operational {
		t.Logf("operational %s %s: duration %v ms, bytes %v, freeze %v ms, peak p99 %d us (baseline %d us): %s",
			o.Step, o.Method, deref(o.DurationMs), deref(o.Bytes), deref(o.FreezeMs), o.PeakP99Us, o.BaselineP99Us, o.Detail)
		switch o.Step {
		case "backup":
			methods = append(methods, o.Method)
			if o.Bytes == nil || *o.Bytes <= 0 || o.DurationMs == nil || *o.DurationMs <= 0 || o.PeakP99Us <= 0 {
				t.Errorf("backup %s: %+v", o.Method, o)
			}
			// only a snapshot freezes its source, for at most the step's duration
			if frozen := o.FreezeMs != nil && *o.FreezeMs > 0 && o.DurationMs != nil && *o.FreezeMs <= *o.DurationMs; frozen != (o.Method == methodSnapshot) {
				t.Errorf("backup %s: freeze %v ms of %v ms", o.Method, deref(o.FreezeMs), deref(o.DurationMs))
			}
		case "restore":
			if o.DurationMs == nil || *o.DurationMs <= 0 || o.Method == "" {
				t.Errorf("restore: %+v", o)
			}
		}
	}
	if fmt.Sprint(methods) != "[mariabackup dump cold snapshot]" {
		t.Errorf("backups taken: %v", methods)
	}
	restores := 0
	for _, v := range rep.Safety.Verifications {
		if v.Step != "restore" {
			continue
		}
		restores++
		if v.Checked == 0 || v.Verified != v.Checked || v.Lost != 0 || v.Stale != 0 {
			t.Errorf("restore read-back: %+v", v)
		}
	}
	if restores != 4 {
		t.Errorf("%d restores verified, want 4", restores)
	}
	if s := rep.Safety; !s.Checked || s.Lost != 0 || s.Stale != 0 {
		t.Errorf("safety %+v", s)
	}
	md, err := render.Markdown(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"| backup mariabackup |", "| backup dump |", "| backup cold |", "| restore cold |", "| backup snapshot |", "| restore snapshot |", "peak p99", "| freeze |"} {
		if !strings.Contains(string(md), m) {
			t.Errorf("the Markdown report lacks %q", m)
		}
	}
	_, ops, _ := strings.Cut(string(md), "## Operational")
	ops, _, _ = strings.Cut(ops, "\n## ")
	t.Logf("operational table:%s", ops)
}

// The built-in replica-lag-spike, its drain slower (below): during the
// write spike the replicas fall more than a second behind (one SQL thread
// each cannot apply what 128 connections commit), and once the rate is
// down they catch up (under a second again) and the cluster settles. The
// per-phase gauge summaries say both, and reads from the replicas count
// what the lag cost.
//
// The replicas drain the spike's backlog (some 20000 transactions) while
// the drain phase still writes, so how long that takes is how fast a
// replica applies on this machine; on 2 busy cores (some 200 transactions
// a second) the scenario's 300 ops/s drain (210 writes/s) kept a replica a
// minute behind for 6 minutes. The test drains at 100 ops/s, runs alone in
// the package (not in parallel) and waits up to 5 minutes to settle; on a
// quiet machine it settles within seconds either way. The spike is the
// scenario's (a shorter one did not always put a replica a second behind).
func TestScenarioLagSpike(t *testing.T) {
	runID := needDocker(t)
	plan, err := scenarios.Load("replica-lag-spike")
	if err != nil {
		t.Fatal(err)
	}
	slowed := false
	for i, s := range plan.Steps {
		switch {
		case s.Action == scenarios.ActSettled:
			plan.Steps[i].Timeout = 5 * time.Minute
		case s.Action == scenarios.ActRate && s.Phase == "drain":
			plan.Steps[i].Rate, slowed = 100, true
		}
	}
	if !slowed {
		t.Fatal("replica-lag-spike has no drain phase starting with a rate step")
	}
	rep, _ := drivertest.RunPlan(t, New(), runID, plan, 1, 10*time.Minute)
	drivertest.EventsByStep(t, rep)
	maxLag := func(phase string, stat func(model.GaugeStats) float64) (float64, bool) {
		var v float64
		found := false
		for _, p := range rep.Phases {
			if p.Name != phase {
				continue
			}
			for name, g := range p.Gauges {
				if strings.HasPrefix(name, "lag_s.") {
					v, found = max(v, stat(g)), true
				}
			}
			t.Logf("phase %s: %.0f ops/s, stale reads %d (max %d us), gauges %+v",
				phase, p.Total.Throughput, p.Ops["read"].StaleReads, p.Ops["read"].MaxStalenessUs, p.Gauges)
		}
		return v, found
	}
	peak, ok := maxLag("spike", func(g model.GaugeStats) float64 { return g.Max })
	if !ok || peak <= 1 {
		t.Errorf("spike: the replicas' largest lag %.2f s (gauges present %v), want above 1 s", peak, ok)
	}
	// the drain starts with the replicas the spike's lag behind: a sample
	// under a second in it (the least, for the replica that got there
	// last) says they caught up; the last sample may catch a replica a
	// moment behind again when the machine is busy (a heartbeat is only
	// applied so often), and wait-settled (an event, checked above) says
	// they applied everything
	after, ok := maxLag("drain", func(g model.GaugeStats) float64 { return g.Min })
	if !ok || after >= 1 {
		t.Errorf("drain: the replicas' least lag %.2f s (gauges present %v), want under 1 s once they caught up", after, ok)
	}
	// the read-backs read from the replicas too, under load: a replica
	// behind is stale on the read path (the primary holds the update),
	// never a lost or stale acknowledged write
	for _, v := range rep.Safety.Verifications {
		t.Logf("read-back %s: checked %d, verified %d, lost %d, stale %d, stale on the read path %d, quorum not-found %d",
			v.Step, v.Checked, v.Verified, v.Lost, v.Stale, v.ReadStale, v.QuorumNotFound)
		if v.Lost != 0 || v.Stale != 0 || v.Unconfirmed != 0 {
			t.Errorf("read-back %s: %+v, want nothing lost or stale", v.Step, v)
		}
	}
}
