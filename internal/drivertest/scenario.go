package drivertest

import (
	"context"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/runner"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/scenarios"
)

// RunScenario parses text (a scenario's YAML), checks it against d on the
// docker provider, runs it through the runner at its own pace under runID
// (bounded by within) and returns the report with the topology Plan gave.
// The test fails when the scenario is refused, the run fails or its report
// is incomplete. Every event and phase is logged.
func RunScenario(t *testing.T, d drivers.Driver, runID, text string, within time.Duration) (*model.Report, drivers.Topology) {
	t.Helper()
	plan, err := scenarios.Parse("test:"+t.Name(), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return RunPlan(t, d, runID, plan, 1, within)
}

// RunPlan is RunScenario for a parsed plan (a built-in, say, scaled by
// timeScale as `evalrun run --duration` scales it).
func RunPlan(t *testing.T, d drivers.Driver, runID string, plan *scenarios.Plan, timeScale float64, within time.Duration) (*model.Report, drivers.Topology) {
	t.Helper()
	top, err := scenarios.Check(plan, d, drivers.ProviderDocker)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	t0 := time.Now()
	rep, err := runner.Run(ctx, runner.Options{Plan: plan, TimeScale: timeScale, Driver: d, Provider: drivers.ProviderDocker,
		RunID: runID, Version: "test", Logf: t.Logf, TeardownTimeout: 40 * time.Second})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Logf("run took %s (timeline %d ms, preload %d ms)", time.Since(t0).Round(time.Millisecond), rep.Run.DurationMs, rep.Load.PreloadMs)
	if !rep.Complete {
		t.Fatalf("report incomplete: %s", rep.Incomplete)
	}
	for _, e := range rep.Events {
		t.Logf("event %-12s node %d at %6d ms, %5d ms: %s %s", e.Step, e.Node, e.StartMs, e.EndMs-e.StartMs, e.Outcome, e.Detail)
	}
	for _, p := range rep.Phases {
		t.Logf("phase %-12s %6d ops, %5d errors %v, p50 %d us, p99 %d us, max %d us", p.Name, p.Total.Count, p.Total.Errors,
			p.Total.ErrorsByClass, p.Total.P50Us, p.Total.P99Us, p.Total.MaxUs)
	}
	return rep, top
}

// EventsByStep returns the report's events by step name (the last of each
// name) and fails the test for every event that did not end ok.
func EventsByStep(t *testing.T, rep *model.Report) map[string]model.Event {
	t.Helper()
	byStep := map[string]model.Event{}
	for _, e := range rep.Events {
		if !e.Outcome.OK() {
			t.Errorf("event %s (line %d): %s %s", e.Step, e.Line, e.Outcome, e.Detail)
		}
		byStep[e.Step] = e
	}
	return byStep
}
