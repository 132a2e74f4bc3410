package etcd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
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

// TestDockerScenarios runs built-in scenarios, shortened to about 25 s,
// with the docker provider through the runner, and checks their reports.
func TestDockerScenarios(t *testing.T) {
	e := dockerEngine(t)
	t.Parallel()
	for _, name := range []string{"node-loss", "rebalance", "partition", "backup-restore"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runID := testdocker.RunID(t, "etcd")
			t.Cleanup(func() { testdocker.AssertNoLeftovers(t, e, runID) })
			rep := runDockerScenario(t, name, runID, 25*time.Second)
			checkDockerReport(t, rep)
			switch name {
			case "node-loss":
				checkNodeLoss(t, rep)
			case "rebalance":
				checkRebalance(t, rep)
			case "partition":
				checkPartition(t, rep)
			case "backup-restore":
				checkBackupRestore(t, rep)
			}
		})
	}
}

func runDockerScenario(t *testing.T, name, runID string, total time.Duration) *model.Report {
	t.Helper()
	plan, err := scenarios.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	d := New()
	if _, err := scenarios.Check(plan, d, drivers.ProviderDocker); err != nil {
		t.Fatal(err)
	}
	scale := float64(total) / float64(plan.Duration)
	plan = plan.Scaled(total)
	plan.Workload.Rate = 300
	plan.Workload.Keys = 1000
	var hlog bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	begin := time.Now()
	rep, err := runner.Run(ctx, runner.Options{
		Plan: plan, TimeScale: scale, Driver: d, Provider: drivers.ProviderDocker, RunID: runID, Version: "test",
		HdrLog: &hlog, Logf: t.Logf,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if dir := os.Getenv("EVALRUN_TEST_REPORTS"); dir != "" {
		// Keep the reports for a human: EVALRUN_TEST_REPORTS=/tmp/r go test …
		out := filepath.Join(dir, runID)
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := render.WriteAll(out, rep); err != nil {
			t.Errorf("write report: %v", err)
		}
	}
	t.Logf("%s: run took %s (load %d ms, preload %d ops in %d ms)", name, time.Since(begin).Round(time.Millisecond),
		rep.Run.DurationMs, rep.Load.PreloadOps, rep.Load.PreloadMs)
	return rep
}

// checkDockerReport checks what every scenario's report must show.
func checkDockerReport(t *testing.T, rep *model.Report) {
	t.Helper()
	if !rep.Complete {
		t.Fatalf("report incomplete: %s", rep.Incomplete)
	}
	d := rep.Driver
	if d.Provider != drivers.ProviderDocker || d.DB != "etcd" || !strings.HasPrefix(d.DBVersion, "3.") || d.Image == "" ||
		d.ImageID == "" || d.Config["image"] != d.Image {
		t.Errorf("driver %+v", d)
	}
	var total model.OpStats
	for _, p := range rep.Phases {
		total.Count += p.Total.Count
		total.Errors += p.Total.Errors
		t.Logf("phase %-12s %6d ops %5d errors %v  p50 %6dus p99 %7dus max %7dus  %.0f ops/s",
			p.Name, p.Total.Count, p.Total.Errors, p.Total.ErrorsByClass, p.Total.P50Us, p.Total.P99Us, p.Total.MaxUs, p.Total.Throughput)
	}
	if want := int64(float64(rep.Run.DurationMs) / 1000 * rep.Workload.TargetRate * 0.8); total.Count < want {
		t.Errorf("only %d ops in %d ms at %v ops/s", total.Count, rep.Run.DurationMs, rep.Workload.TargetRate)
	}
	if rep.Load.Intended != rep.Load.Issued+rep.Load.Missed || rep.Load.Issued == 0 {
		t.Errorf("load %+v", rep.Load)
	}
	s := rep.Safety
	if !s.Checked || s.Acknowledged == 0 || s.AcknowledgedWrites == 0 || s.Verified != s.Acknowledged || s.Lost != 0 || s.Stale != 0 {
		t.Errorf("safety: %+v", s)
	}
	t.Logf("safety: %d acknowledged writes, %d keys verified, lost %d, stale %d, unreadable %d, not-found reads %d",
		s.AcknowledgedWrites, s.Verified, s.Lost, s.Stale, s.Unreadable, s.NotFoundReads)
	for _, e := range rep.Events {
		if e.Outcome != "ok" {
			t.Errorf("event %s (line %d) failed: %s %s", e.Step, e.Line, e.Outcome, e.Detail)
		}
		if e.Step != scenarios.ActSleep {
			t.Logf("event %-12s node %d at %6d ms, %5d ms: %s %s", e.Step, e.Node, e.StartMs, e.EndMs-e.StartMs, e.Outcome, e.Detail)
		}
	}
	for _, o := range rep.Operational {
		t.Logf("operational %-12s %-10s node %d at %d ms: ttfe %s unavailable %s recovery %s duration %s bytes %s %s",
			o.Step, o.Kind, o.Node, o.AtMs, ms(o.TimeToFirstErrorMs), ms(o.UnavailableMs), ms(o.RecoveryToBaselineMs),
			ms(o.DurationMs), ms(o.Bytes), o.Detail)
	}
	if len(rep.Windows) < int(rep.Run.DurationMs/1000)-1 {
		t.Errorf("%d windows for %d ms", len(rep.Windows), rep.Run.DurationMs)
	}
}

func ms(p *int64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatInt(*p, 10)
}

// operational returns the operational entries of step.
func operational(rep *model.Report, step string) []model.Operational {
	var out []model.Operational
	for _, o := range rep.Operational {
		if o.Step == step {
			out = append(out, o)
		}
	}
	return out
}

func events(rep *model.Report, step string) []model.Event {
	var out []model.Event
	for _, e := range rep.Events {
		if e.Step == step {
			out = append(out, e)
		}
	}
	return out
}

func checkNodeLoss(t *testing.T, rep *model.Report) {
	t.Helper()
	kills := events(rep, scenarios.ActKill)
	if len(kills) != 1 || kills[0].Node < 1 || kills[0].Outcome != "ok" {
		t.Fatalf("kill events %+v", kills)
	}
	if len(events(rep, scenarios.ActStart)) != 1 || len(events(rep, scenarios.ActSettled)) != 1 {
		t.Errorf("start / wait-settled events missing: %+v", rep.Events)
	}
	k := operational(rep, scenarios.ActKill)
	if len(k) != 1 || k[0].Kind != "fault" || k[0].UnavailableMs == nil || k[0].TimeToFirstErrorMs == nil {
		t.Fatalf("kill operational %+v", k)
	}
	if len(operational(rep, scenarios.ActStart)) != 1 {
		t.Errorf("no recovery entry for start")
	}
	fault := phase(rep, "fault")
	if fault == nil || fault.Total.Count == 0 {
		t.Fatalf("no fault phase ops: %+v", fault)
	}
}

func checkRebalance(t *testing.T, rep *model.Report) {
	t.Helper()
	adds, removes := events(rep, scenarios.ActAddNode), events(rep, scenarios.ActRemoveNode)
	if len(adds) != 1 || adds[0].Node != 4 || len(removes) != 1 || removes[0].Node != 1 {
		t.Fatalf("add %+v remove %+v", adds, removes)
	}
	for _, step := range []string{scenarios.ActAddNode, scenarios.ActRemoveNode} {
		o := operational(rep, step)
		if len(o) != 1 || o[0].Kind != "membership" || o[0].DurationMs == nil || *o[0].DurationMs <= 0 {
			t.Errorf("%s operational %+v", step, o)
		}
	}
}

func checkPartition(t *testing.T, rep *model.Report) {
	t.Helper()
	p := operational(rep, scenarios.ActPartition)
	if len(p) != 1 || p[0].Kind != "fault" || p[0].UnavailableMs == nil {
		t.Fatalf("partition operational %+v", p)
	}
	if len(operational(rep, scenarios.ActHeal)) != 1 {
		t.Errorf("no recovery entry for heal")
	}
	part := phase(rep, "partitioned")
	if part == nil || part.Total.Count == 0 {
		t.Fatalf("no partitioned phase ops: %+v", part)
	}
	// The harness keeps talking to the isolated member: some operations
	// sent there fail (time out), the majority serves the rest.
	if part.Total.Errors == 0 {
		t.Errorf("no errors while node1 was isolated: %+v", part.Total)
	}
	if part.Total.Throughput <= 0 {
		t.Errorf("the majority served nothing while partitioned")
	}
}

func checkBackupRestore(t *testing.T, rep *model.Report) {
	t.Helper()
	b := operational(rep, scenarios.ActBackup)
	if len(b) != 1 || b[0].Kind != "backup" || b[0].Bytes == nil || *b[0].Bytes <= 0 || b[0].DurationMs == nil {
		t.Fatalf("backup operational %+v", b)
	}
	r := operational(rep, scenarios.ActRestore)
	if len(r) != 1 || r[0].Kind != "restore" || r[0].DurationMs == nil || *r[0].DurationMs <= 0 {
		t.Fatalf("restore operational %+v", r)
	}
	found := false
	for _, v := range rep.Safety.Verifications {
		t.Logf("verification %s (%s): checked %d verified %d lost %d stale %d unreadable %d in %d ms",
			v.Step, v.Target, v.Checked, v.Verified, v.Lost, v.Stale, v.Unreadable, v.DurationMs)
		if v.Step == "restore" {
			found = true
			if v.Target != "restored" || v.Checked == 0 || v.Verified != v.Checked || v.Lost != 0 || v.Stale != 0 || v.Unreadable != 0 {
				t.Errorf("restored verification %+v", v)
			}
		}
	}
	if !found {
		t.Errorf("no verification of the restored cluster")
	}
}

func phase(rep *model.Report, name string) *model.Phase {
	for i := range rep.Phases {
		if rep.Phases[i].Name == name {
			return &rep.Phases[i]
		}
	}
	return nil
}
