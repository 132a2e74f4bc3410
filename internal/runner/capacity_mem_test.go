package runner_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/drivers/mem"
	"github.com/evalrun/evalrun/internal/runner"
	"github.com/evalrun/evalrun/reports/model"
)

// TestCapacityOnMem finds a finite capacity on mem: with op-latency 20ms
// and 2 workers the load generator carries at most about 100 ops/s, so a
// stage offering 160 cannot achieve 80% of it, whatever the machine's
// load; what held below it depends on the machine and is not asserted.
func TestCapacityOnMem(t *testing.T) {
	plan := parse(t, `
name: capacity-mem
cluster: {nodes: 3, options: {op-latency: 20ms}}
workload: {mix: {read: 50, write: 50}, keys: 200, value_size: 64, rate: 40, concurrency: 2, max-concurrency: 2, timeout: 2s, preload: true}
steps:
  - phase: setup
    sleep: 1s
`)
	slo, err := runner.ParseSLO("p99=2s,errors=5%,achieved=80%")
	if err != nil {
		t.Fatal(err)
	}
	var seen []model.CapacityStage
	co := &runner.CapacityOptions{SLO: slo, StartRate: plan.Workload.Rate, Factor: 2, Stage: 2 * time.Second, Settle: 500 * time.Millisecond,
		MaxStages: 5, Bisect: 1, OnStage: func(s model.CapacityStage) { seen = append(seen, s) }}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	rep, err := runner.Run(ctx, runner.Options{Plan: plan, Driver: mem.New(), Provider: drivers.ProviderEmbedded,
		RunID: "test-capacity-mem", Version: "test", Logf: t.Logf, Capacity: co})
	if err != nil || !rep.Complete {
		t.Fatalf("run: %v (%s)", err, rep.Incomplete)
	}
	c := rep.Capacity
	if c == nil {
		t.Fatal("no capacity section")
	}
	for _, s := range c.Stages {
		t.Logf("stage %d %-22s offered %6.1f achieved %6.1f p50 %v p99 %v errors %.3f late %.3f held %v %s",
			s.N, s.Phase, s.Offered, s.Achieved, time.Duration(s.P50Us)*time.Microsecond, time.Duration(s.P99Us)*time.Microsecond, s.ErrorShare, s.LateShare, s.Held, s.Broke)
	}
	t.Logf("result %s, notes %q", c.Result, c.Notes)
	if len(seen) != len(c.Stages) {
		t.Errorf("OnStage saw %d stages, the report has %d", len(seen), len(c.Stages))
	}
	if c.Result != model.CapacityFound && c.Result != model.CapacityBelowStart {
		t.Fatalf("result %q, want a break by 160 ops/s", c.Result)
	}
	if c.FirstBrokenRate == nil || *c.FirstBrokenRate > 160 {
		t.Fatalf("first broken rate %v, want at most 160", c.FirstBrokenRate)
	}
	checkStageOrder(t, rep)
	if c.Result == model.CapacityFound && (c.MaxHeldRate == nil || *c.MaxHeldRate >= *c.FirstBrokenRate) {
		t.Fatalf("held %v, broken %v", c.MaxHeldRate, *c.FirstBrokenRate)
	}
	var back model.Report
	b, err := json.Marshal(rep)
	if err != nil || json.Unmarshal(b, &back) != nil || back.Capacity == nil || len(back.Capacity.Stages) != len(c.Stages) {
		t.Fatalf("the report does not read back: %v", err)
	}
}

// checkStageOrder: the stages before bisection offer more each time until
// the first broken one, the last; every stage is a phase of the report
// after the setup, preceded by its settle phase; the notes name the
// workers as the limit (mem's latency is a sleep: the database is never
// busy).
func checkStageOrder(t *testing.T, rep *model.Report) {
	t.Helper()
	c := rep.Capacity
	last := 0.0
	for i, s := range c.Stages {
		p := phaseOf(rep, s.Phase)
		if p == nil || phaseOf(rep, "settle "+strings.Fields(s.Phase)[1]) == nil {
			t.Errorf("stage %d: phase %q or its settle missing", s.N, s.Phase)
			continue
		}
		if setup := phaseOf(rep, "setup"); setup == nil || p.StartMs < setup.EndMs {
			t.Errorf("stage %d began at %d ms, before the setup ended", s.N, p.StartMs)
		}
		if s.Bisect {
			continue
		}
		if s.Offered <= last {
			t.Errorf("stage %d offered %v after %v", s.N, s.Offered, last)
		}
		last = s.Offered
		if !s.Held && i+1 < len(c.Stages) && !c.Stages[i+1].Bisect {
			t.Errorf("stage %d broke, and stage %d raised the rate again", s.N, c.Stages[i+1].N)
		}
	}
	if len(c.Notes) == 0 || !strings.Contains(c.Notes[0], "concurrency may be the limit") {
		t.Errorf("notes %q, want the workers named as the limit", c.Notes)
	}
}

// TestCapacityInterrupted: a search cancelled mid-stage leaves an
// incomplete report with the stages judged before it, and no result it
// did not show.
func TestCapacityInterrupted(t *testing.T) {
	plan := parse(t, `
name: capacity-cancel
cluster: {nodes: 1}
workload: {mix: {read: 1}, keys: 50, value_size: 32, rate: 50, concurrency: 4, timeout: 1s}
steps:
  - sleep: 100ms
`)
	slo, err := runner.ParseSLO("p99=5s,errors=50%,achieved=10%") // every stage holds
	if err != nil {
		t.Fatal(err)
	}
	stages := make(chan model.CapacityStage, 10)
	co := &runner.CapacityOptions{SLO: slo, StartRate: 50, Factor: 1.5, Stage: time.Second, MaxStages: 10,
		OnStage: func(s model.CapacityStage) { stages <- s }}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		<-stages // the first stage was judged: stop in the second
		time.Sleep(300 * time.Millisecond)
		cancel()
	}()
	rep, err := runner.Run(ctx, runner.Options{Plan: plan, Driver: mem.New(), Provider: drivers.ProviderEmbedded,
		RunID: "test-capacity-cancel", Version: "test", Logf: t.Logf, Capacity: co})
	if err == nil || rep == nil || rep.Complete {
		t.Fatalf("err %v, report complete %v: want an incomplete report", err, rep != nil && rep.Complete)
	}
	c := rep.Capacity
	if c == nil || c.Result != model.CapacityIncomplete || len(c.Stages) == 0 || c.FirstBrokenRate != nil ||
		c.MaxHeldRate == nil || *c.MaxHeldRate != c.Stages[len(c.Stages)-1].Offered {
		t.Fatalf("capacity %+v: want incomplete, the judged stages, the last held one as the max", c)
	}
}
