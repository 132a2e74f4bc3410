package runner

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/drivers/etcd"
	"github.com/evalrun/evalrun/drivers/mem"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/reports/render"
	"github.com/evalrun/evalrun/scenarios"
)

// These tests run the built-in scenarios, shortened, against a real etcd
// cluster embedded in the test process or the in-memory driver, and check
// the report's numbers.

func runBuiltin(t *testing.T, d drivers.Driver, name string, total time.Duration) *model.Report {
	t.Helper()
	plan, err := scenarios.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scenarios.Check(plan, d, drivers.ProviderEmbedded); err != nil {
		t.Fatal(err)
	}
	plan = plan.Scaled(total)
	plan.Workload.Rate = 300
	plan.Workload.Keys = 1000
	var hlog bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Options{
		Plan: plan, Driver: d, Provider: drivers.ProviderEmbedded, RunID: "test-" + name, Version: "test",
		HdrLog: &hlog, Logf: t.Logf,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !rep.Complete {
		t.Fatalf("report incomplete: %s", rep.Incomplete)
	}
	if !strings.Contains(hlog.String(), "Tag=read,") || !strings.Contains(hlog.String(), "#[BaseTime:") {
		t.Errorf("interval log lacks tagged histograms or base time:\n%.400s", hlog.String())
	}
	checkCommon(t, rep)
	return rep
}

func checkCommon(t *testing.T, rep *model.Report) {
	t.Helper()
	if rep.Schema != model.Schema || rep.Driver.DBVersion == "" {
		t.Errorf("schema %q db version %q", rep.Schema, rep.Driver.DBVersion)
	}
	var ops int64
	for _, p := range rep.Phases {
		ops += p.Total.Count
	}
	if ops < int64(float64(rep.Run.DurationMs)/1000*rep.Workload.TargetRate*0.8) {
		t.Errorf("only %d ops in %d ms at %v ops/s", ops, rep.Run.DurationMs, rep.Workload.TargetRate)
	}
	if rep.Load.Intended != rep.Load.Issued+rep.Load.Missed {
		t.Errorf("intended %d != issued %d + missed %d", rep.Load.Intended, rep.Load.Issued, rep.Load.Missed)
	}
	s := rep.Safety
	if !s.Checked || s.Acknowledged == 0 || s.Verified != s.Acknowledged || s.Lost != 0 || s.Stale != 0 {
		t.Errorf("safety: %+v", s)
	}
	if len(rep.Windows) < int(rep.Run.DurationMs/1000)-1 {
		t.Errorf("%d windows for %d ms", len(rep.Windows), rep.Run.DurationMs)
	}
	for _, e := range rep.Events {
		if !e.Outcome.OK() {
			t.Errorf("event %s (line %d) failed: %s %s", e.Step, e.Line, e.Outcome, e.Detail)
		}
	}
}

func find(rep *model.Report, step string) (model.Operational, bool) {
	for _, o := range rep.Operational {
		if o.Step == step {
			return o, true
		}
	}
	return model.Operational{}, false
}

func TestNodeLossOnEmbeddedEtcd(t *testing.T) {
	rep := runBuiltin(t, etcd.New(), "node-loss", 20*time.Second)
	kill, ok := find(rep, "kill")
	if !ok {
		t.Fatalf("no kill in operational numbers: %+v", rep.Operational)
	}
	if kill.Node < 1 || kill.TimeToFirstErrorMs == nil || kill.UnavailableMs == nil || kill.RecoveryToBaselineMs == nil {
		t.Errorf("kill entry incomplete: %+v", kill)
	}
	if _, ok := find(rep, "start"); !ok {
		t.Errorf("no start (recovery) entry: %+v", rep.Operational)
	}
	names := map[string]bool{}
	for _, p := range rep.Phases {
		names[p.Name] = true
	}
	for _, want := range []string{"baseline", "fault", "recovery"} {
		if !names[want] {
			t.Errorf("phase %q missing: %v", want, names)
		}
	}
}

// The scenario tests below prove the runner's operational numbers, not a
// database: they run on the in-memory driver, in the scenario's time. The
// default scenario also runs on the embedded etcd (above), end to end.
func TestRebalanceOnMem(t *testing.T) {
	rep := runBuiltin(t, mem.New(), "rebalance", 8*time.Second)
	for _, step := range []string{"add-node", "remove-node"} {
		o, ok := find(rep, step)
		if !ok || o.DurationMs == nil || *o.DurationMs < 0 { // mem changes members at once: 0 ms
			t.Errorf("%s: %+v", step, o)
		}
	}
}

func TestBackupRestoreOnMem(t *testing.T) {
	rep := runBuiltin(t, mem.New(), "backup-restore", 8*time.Second)
	b, ok := find(rep, "backup")
	if !ok || b.Bytes == nil || *b.Bytes <= 0 || b.DurationMs == nil {
		t.Errorf("backup: %+v", b)
	}
	if r, ok := find(rep, "restore"); !ok || r.DurationMs == nil || *r.DurationMs < 0 { // mem restores in about a millisecond
		t.Errorf("restore: %+v", r)
	}
	var restored *model.Verification
	for i, v := range rep.Safety.Verifications {
		if v.Target == "restored" {
			restored = &rep.Safety.Verifications[i]
		}
	}
	if restored == nil || restored.Checked == 0 || restored.Lost != 0 || restored.Stale != 0 || restored.Verified != restored.Checked {
		t.Errorf("restored verification: %+v", restored)
	}
}

// An interrupted run still returns a report, marked incomplete, and leaves
// no member running.
func TestInterruptedRunReportsIncomplete(t *testing.T) {
	plan, err := scenarios.Load("baseline")
	if err != nil {
		t.Fatal(err)
	}
	plan.Workload.Keys = 100
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(4*time.Second, cancel)
	rep, err := Run(ctx, Options{Plan: plan, Driver: etcd.New(), Provider: drivers.ProviderEmbedded, RunID: "test-interrupt", Logf: t.Logf})
	if err == nil {
		t.Fatal("interrupted run returned no error")
	}
	if rep == nil || rep.Complete || rep.Incomplete == "" {
		t.Fatalf("report: %+v", rep)
	}
	if rep.Safety.Checked {
		t.Error("an interrupted run claims its safety was checked")
	}
	if len(rep.Windows) == 0 {
		t.Error("an interrupted run lost its windows")
	}
}

// A step the cluster cannot do is reported in the event, not a crash.
func TestUnsupportedStepIsAnEventOutcome(t *testing.T) {
	text := []byte(`name: pause-test
cluster: {nodes: 1}
workload: {mix: {read: 1, write: 1}, keys: 50, rate: 50, concurrency: 4}
steps:
  - sleep: 1s
  - pause: 1
  - sleep: 1s
`)
	plan, err := scenarios.Parse("pause-test.yaml", text)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(t.Context(), Options{Plan: plan, Driver: etcd.New(), Provider: drivers.ProviderEmbedded, RunID: "test-unsupported", Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	var got model.Outcome
	for _, e := range rep.Events {
		if e.Step == "pause" {
			got = e.Outcome
		}
	}
	if got != model.OutcomeNotSupported {
		t.Errorf("pause outcome = %q", got)
	}
}

func TestRollingRestartOnMem(t *testing.T) {
	rep := runBuiltin(t, mem.New(), "rolling-restart", 8*time.Second)
	stops := 0
	for _, o := range rep.Operational {
		if o.Step == "stop" {
			stops++
			if o.UnavailableMs == nil || o.RecoveryToBaselineMs == nil {
				t.Errorf("stop entry incomplete: %+v", o)
			}
		}
	}
	if stops != 3 {
		t.Errorf("%d stops in the operational numbers, want 3", stops)
	}
}

// failingWriter accepts a few writes, then fails like a full disk.
type failingWriter struct{ left int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.left <= 0 {
		return 0, errors.New("no space left on device")
	}
	w.left--
	return len(p), nil
}

// A run whose interval log could not be written says so in its report
// (issue 11: the error was swallowed and the log silently truncated).
func TestIntervalLogErrorIsReported(t *testing.T) {
	plan, err := scenarios.Parse("hlog-test.yaml", []byte(`name: hlog-test
cluster: {nodes: 1}
workload: {mix: {read: 1, write: 1}, keys: 50, rate: 50, concurrency: 4}
steps:
  - sleep: 3s
`))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(t.Context(), Options{Plan: plan, Driver: etcd.New(), Provider: drivers.ProviderEmbedded,
		RunID: "test-hlog", Logf: t.Logf, HdrLog: &failingWriter{left: 8}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.Files.HdrLogError, "no space left on device") {
		t.Errorf("hdrlog error = %q, want the write error", rep.Files.HdrLogError)
	}
	md, err := render.Markdown(rep)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "Interval log:** incomplete") {
		t.Error("the Markdown summary does not say the interval log is incomplete")
	}
}
