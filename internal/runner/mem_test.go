package runner_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/drivers/mem"
	"github.com/evalrun/evalrun/internal/runner"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/scenarios"
)

// These tests prove on the mem driver, in seconds and without Docker, what
// the runner does with faults only the Docker providers had (partition,
// pause), with stale reads and lag gauges (MariaDB's read-from replicas),
// and with lost writes read back replica by replica (Riak's evidence).

// runMem runs plan on mem at 300 ops/s over 1000 keys; the run must
// complete and every step end ok.
func runMem(t *testing.T, plan *scenarios.Plan) *model.Report {
	t.Helper()
	d := mem.New()
	if _, err := scenarios.Check(plan, d, drivers.ProviderEmbedded); err != nil {
		t.Fatal(err)
	}
	plan.Workload.Rate = 300
	plan.Workload.Keys = 1000
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	rep, err := runner.Run(ctx, runner.Options{Plan: plan, Driver: d, Provider: drivers.ProviderEmbedded,
		RunID: "test-mem-" + plan.Name, Version: "test", Logf: t.Logf})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !rep.Complete {
		t.Fatalf("report incomplete: %s", rep.Incomplete)
	}
	for _, e := range rep.Events {
		if e.Outcome != "ok" {
			t.Errorf("event %s (line %d): %s %s", e.Step, e.Line, e.Outcome, e.Detail)
		}
	}
	for _, p := range rep.Phases {
		t.Logf("phase %-12s %5d ops, %4d errors %v, stale reads %d", p.Name, p.Total.Count, p.Total.Errors, p.Total.ErrorsByClass, p.Total.StaleReads)
	}
	return rep
}

func parse(t *testing.T, text string) *scenarios.Plan {
	t.Helper()
	plan, err := scenarios.Parse("test:"+t.Name(), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

func operationalOf(rep *model.Report, step string) *model.Operational {
	for i := range rep.Operational {
		if rep.Operational[i].Step == step {
			return &rep.Operational[i]
		}
	}
	return nil
}

func phaseOf(rep *model.Report, name string) *model.Phase {
	for i := range rep.Phases {
		if rep.Phases[i].Name == name {
			return &rep.Phases[i]
		}
	}
	return nil
}

// honest fails the test unless the report's safety section is clean.
func honest(t *testing.T, s model.Safety) {
	t.Helper()
	if !s.Checked || s.Acknowledged == 0 || s.Verified != s.Acknowledged || s.Lost != 0 || s.Stale != 0 ||
		s.StaleReads != 0 || s.NotFoundReads != 0 {
		t.Errorf("safety: %+v", s)
	}
}

const memWorkload = `cluster:
  nodes: 3
  options: {%s}
workload:
  mix: {read: 50, write: 45, delete: 5}
  keys: 1000
  distribution: %s
  value_size: 64
  rate: 300
  concurrency: 16
  timeout: 1s
  seed: 1
  preload: true
`

// memScenario is a scenario of 3 nodes with options, keys chosen by
// distribution, steps after a one-second warmup phase.
func memScenario(name, options, distribution, steps string) string {
	return "name: " + name + "\n" + fmt.Sprintf(memWorkload, options, distribution) +
		"steps:\n  - phase: warmup\n    sleep: 1s\n" + steps
}

// TestPartitionOnMem: the built-in partition scenario. Operations sent to
// the isolated node fail as unavailable while the majority serves; the
// leader it held is replaced after the election timeout.
func TestPartitionOnMem(t *testing.T) {
	t.Parallel()
	plan, err := scenarios.Load("partition")
	if err != nil {
		t.Fatal(err)
	}
	rep := runMem(t, plan.Scaled(8*time.Second))
	honest(t, rep.Safety)
	p := operationalOf(rep, scenarios.ActPartition)
	if p == nil || p.Kind != "fault" || p.UnavailableMs == nil || p.TimeToFirstErrorMs == nil {
		t.Fatalf("partition operational %+v", p)
	}
	if operationalOf(rep, scenarios.ActHeal) == nil {
		t.Error("no recovery entry for heal")
	}
	part := phaseOf(rep, "partitioned")
	if part == nil || part.Total.ErrorsByClass["unavailable"] == 0 || part.Total.Throughput <= 0 {
		t.Fatalf("partitioned phase: %+v", part)
	}
	// one operation in three goes to node 1, and every one while the
	// majority elects: about 40 % fail
	if frac := float64(part.Total.Errors) / float64(part.Total.Count); frac < 0.15 || frac > 0.65 {
		t.Errorf("%d of %d operations failed while node 1 was isolated", part.Total.Errors, part.Total.Count)
	}
	// the phase begins just before the heal: an operation or two may
	// still reach node 1 cut off
	if healed := phaseOf(rep, "healed"); healed == nil || healed.Total.Errors*20 > healed.Total.Count {
		t.Errorf("errors after the heal: %+v", healed)
	}
}

// TestSafetyVerdictsOnMem runs short scenarios on mem: the honest store
// passes every safety check through kills, a partition, a pause, a
// graceful stop and membership changes; each bug mode fails the check
// that exists to catch it.
func TestSafetyVerdictsOnMem(t *testing.T) {
	for _, tt := range []struct {
		name, options, distribution, steps string
		check                              func(t *testing.T, rep *model.Report)
		verdict                            string // how the report's safety verdict begins
	}{
		{name: "honest", distribution: "zipfian", steps: `  - phase: faults
    kill: leader
  - sleep: 1s
  - start: down
  - partition: [[1], [2, 3]]
  - sleep: 1s
  - heal:
  - phase: paused
    pause: leader
  - sleep: 1500ms
  - phase: membership
    resume: down
  - stop: leader
  - sleep: 500ms
  - start: down
  - add-node:
  - remove-node: 1
  - wait-settled: 30s
  - verify: {}
`, check: checkHonestFaults, verdict: "OK — "},
		{name: "lose-acked-writes", options: "bug: lose-acked-writes, bug-rate: 0.2", distribution: "uniform",
			steps: "  - sleep: 2s\n", check: func(t *testing.T, rep *model.Report) {
				if s := rep.Safety; s.Lost+s.Stale == 0 {
					t.Errorf("20%% of the acknowledged writes dropped, none found lost or stale: %+v", s)
				}
			}, verdict: "DATA LOSS — "},
		{name: "stale-reads", options: "bug: stale-reads, bug-lag: 300ms", distribution: "zipfian",
			steps: "  - phase: steady\n    sleep: 3s\n  - verify: {}\n", check: checkStaleReads, verdict: "STALE READS — "},
		{name: "ack-before-replicate", options: "bug: ack-before-replicate, bug-lag: 1s", distribution: "uniform", steps: `  - phase: fault
    kill: leader
  - sleep: 1s
  - phase: recovery
    start: down
  - sleep: 1s
  - wait-settled: 30s
`, check: checkLostWithEvidence, verdict: "DATA LOSS — "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep := runMem(t, parse(t, memScenario(tt.name, tt.options, tt.distribution, tt.steps)))
			s := rep.Safety
			t.Logf("%d acknowledged keys, verified %d, lost %d, stale %d, read stale %d, stale reads %d, not-found reads %d",
				s.Acknowledged, s.Verified, s.Lost, s.Stale, s.ReadStale, s.StaleReads, s.NotFoundReads)
			if rep.Driver.DB != mem.Name || !s.Checked || s.Acknowledged == 0 {
				t.Fatalf("db %q, safety %+v", rep.Driver.DB, s)
			}
			tt.check(t, rep)
			if v, _ := judge.SafetyVerdict(rep.Safety, rep.Phases); !strings.HasPrefix(v, tt.verdict) {
				t.Errorf("safety verdict %q, want it to begin %q", v, tt.verdict)
			}
		})
	}
}

// checkHonestFaults: nothing lost, and the pause of the leader shows as
// timeouts of the operations sent to it while the others go on.
func checkHonestFaults(t *testing.T, rep *model.Report) {
	honest(t, rep.Safety)
	if len(rep.Events) < 15 {
		t.Errorf("only %d steps ran", len(rep.Events))
	}
	p := operationalOf(rep, scenarios.ActPause)
	if p == nil || p.Kind != "fault" || p.TimeToFirstErrorMs == nil {
		t.Fatalf("pause operational %+v", p)
	}
	paused := phaseOf(rep, "paused")
	if paused == nil || paused.Total.ErrorsByClass["timeout"] == 0 || paused.Total.Throughput <= 0 {
		t.Errorf("paused phase: %+v", paused)
	}
}

// checkStaleReads: followers that apply the log late. The run's reads are
// judged stale phase by phase, nothing is lost, and the lag gauges reach
// the phases and the windows.
func checkStaleReads(t *testing.T, rep *model.Report) {
	s := rep.Safety
	steady := phaseOf(rep, "steady")
	if steady == nil || steady.Total.StaleReads == 0 || steady.Total.MaxStalenessUs <= 0 {
		t.Fatalf("steady phase: %+v", steady)
	}
	if s.StaleReads < steady.Total.StaleReads || s.Lost != 0 {
		t.Errorf("safety: %+v", s)
	}
	if !strings.Contains(s.ReadSettings, "stale-reads") || s.StrictReadSettings == "" {
		t.Errorf("read settings %q, strict %q", s.ReadSettings, s.StrictReadSettings)
	}
	g, ok := steady.Gauges["lag_s.node2"]
	if !ok || g.Samples == 0 || g.Max <= 0 || g.Max > 5 {
		t.Errorf("node2's lag in the steady phase: %+v (gauges %v)", g, steady.Gauges)
	}
	inWindows := 0
	for _, w := range rep.Windows {
		if _, ok := w.Gauges["lag_s.node3"]; ok {
			inWindows++
		}
	}
	if inWindows < 2 {
		t.Errorf("lag_s.node3 in %d windows of %d", inWindows, len(rep.Windows))
	}
}

// checkLostWithEvidence: the killed leader had acknowledged writes it had
// not replicated. The read-back counts them, and the evidence reads each
// node's copy of the keys: none holds the acknowledged value.
func checkLostWithEvidence(t *testing.T, rep *model.Report) {
	s := rep.Safety
	if s.Lost+s.Stale == 0 {
		t.Fatalf("no write lost: %+v", s)
	}
	if len(s.Evidence) == 0 {
		t.Fatal("no evidence of the lost keys")
	}
	for _, e := range s.Evidence {
		if e.Verdict != "lost" && e.Verdict != "stale" {
			continue
		}
		if len(e.Replicas) != 3 || e.InspectError != "" {
			t.Errorf("evidence of %s: %+v", e.Key, e)
			continue
		}
		for _, r := range e.Replicas {
			if strings.Contains(r.Holds, "the acknowledged value") {
				t.Errorf("%s on %s holds the acknowledged value, yet the key was judged %s", e.Key, r.Node, e.Verdict)
			}
		}
	}
}
