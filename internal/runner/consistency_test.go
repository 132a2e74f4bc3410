package runner

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/drivers/mem"
	"github.com/evalrun/evalrun/internal/history"
	"github.com/evalrun/evalrun/internal/linearize"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/scenarios"
)

func TestConsistencyOf(t *testing.T) {
	hdr := history.Header{Schema: history.Schema, Keys: []int{0, 10, 20, 30}, Ops: 1200, MaxOps: 5000}
	put := history.Op{Client: 3, Key: 10, Kind: history.Put, Invoke: 1_500_000, Return: 2_250_000, Value: 7, Outcome: history.Unknown, Node: 2}
	get := history.Op{Client: -1, Key: 10, Kind: history.Get, Invoke: 3_000_000, Return: 4_000_000, Value: 5, Outcome: history.OK}
	putMs := model.HistoryOp{Client: 3, Op: "put", InvokeMs: 1.5, ReturnMs: 2.25, Value: 7, Outcome: "unknown", Node: 2}
	getMs := model.HistoryOp{Client: -1, Op: "get", InvokeMs: 3, ReturnMs: 4, Value: 5, Outcome: "ok"}
	linearizable := drivers.Consistency{Model: "linearizable", Linearizable: true, Sessions: true, Detail: "raft"}
	eventual := drivers.Consistency{Model: "eventual", Detail: "replicas"}
	clean := linearize.Result{Keys: 4, Ops: 1200, Linearizable: 4, CPU: 1500 * time.Millisecond, Wall: 2 * time.Second, PeakHeap: 1 << 20}
	violated := linearize.Result{Keys: 4, Ops: 1200, Linearizable: 3, NotLinearizable: 1, Findings: []linearize.KeyResult{
		{Key: 10, Name: "evalrun/k00000010", Ops: 300, Verdict: linearize.NotLinearizable, Anomaly: []history.Op{put, get}, Visualization: "linearizability/evalrun_k00000010.html"},
	}}
	sessionsBad := linearize.SessionResult{Clients: 5, Reads: 600, MonotonicReads: 2, ReadYourWrites: 1, Examples: []linearize.SessionViolation{
		{Guarantee: "monotonic-reads", Client: 3, Key: 20, First: get, Then: put},
	}}
	tests := []struct {
		name     string
		res      linearize.Result
		sessions linearize.SessionResult
		promise  drivers.Consistency
		header   history.Header
		checked  bool
		check    func(t *testing.T, c *model.Consistency)
	}{
		{
			name: "linearizable as promised", res: clean, sessions: linearize.SessionResult{Clients: 5, Reads: 600}, promise: linearizable, header: hdr, checked: true,
			check: func(t *testing.T, c *model.Consistency) {
				want := &model.Consistency{Promised: "linearizable", PromisedLinearizable: true, PromisedSessions: true, PromiseDetail: "raft",
					Checked: true, Verdict: "linearizable", Keys: 4, Ops: 1200, Linearizable: 4, BudgetPerKeyMs: 10_000,
					Sessions: model.SessionGuarantees{Clients: 5, Reads: 600}, CheckCPUMs: 1500, CheckWallMs: 2000, CheckPeakHeapB: 1 << 20}
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got  %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "not linearizable, promised: a safety failure", res: violated, promise: linearizable, header: hdr, checked: true,
			check: func(t *testing.T, c *model.Consistency) {
				if c.Verdict != "not_linearizable" || !c.SafetyFailure || c.NotLinearizable != 1 {
					t.Errorf("verdict %s, safety failure %v, not linearizable %d", c.Verdict, c.SafetyFailure, c.NotLinearizable)
				}
				want := []model.ConsistencyFinding{{Key: "evalrun/k00000010", KeyIdx: 10, Ops: 300, Verdict: "not_linearizable",
					Anomaly: []model.HistoryOp{putMs, getMs}, Visualization: "linearizability/evalrun_k00000010.html"}}
				if !reflect.DeepEqual(c.Findings, want) {
					t.Errorf("findings %+v\nwant %+v", c.Findings, want)
				}
			},
		},
		{
			name: "not linearizable, not promised: observed", res: violated, promise: eventual, header: hdr, checked: true,
			check: func(t *testing.T, c *model.Consistency) {
				if c.Verdict != "not_linearizable" || c.SafetyFailure || c.Promised != "eventual" || c.PromisedLinearizable {
					t.Errorf("%+v: want not_linearizable, no safety failure, promised eventual", c)
				}
			},
		},
		{
			name: "no promise stated", res: violated, header: hdr, checked: true,
			check: func(t *testing.T, c *model.Consistency) {
				if c.SafetyFailure || c.Promised != "" {
					t.Errorf("%+v: a driver that states nothing promised nothing", c)
				}
			},
		},
		{
			name: "session violations, sessions promised", res: clean, sessions: sessionsBad, promise: linearizable, header: hdr, checked: true,
			check: func(t *testing.T, c *model.Consistency) {
				if !c.SafetyFailure || c.Verdict != "linearizable" {
					t.Errorf("verdict %s, safety failure %v: want linearizable and a safety failure", c.Verdict, c.SafetyFailure)
				}
				want := model.SessionGuarantees{Clients: 5, Reads: 600, MonotonicReads: 2, ReadYourWrites: 1, Examples: []model.SessionViolation{
					{Guarantee: "monotonic-reads", Client: 3, Key: "evalrun/k00000020", First: getMs, Then: putMs}}}
				if !reflect.DeepEqual(c.Sessions, want) {
					t.Errorf("sessions %+v\nwant %+v", c.Sessions, want)
				}
			},
		},
		{
			name: "session violations, not promised", res: clean, sessions: sessionsBad, promise: eventual, header: hdr, checked: true,
			check: func(t *testing.T, c *model.Consistency) {
				if c.SafetyFailure {
					t.Error("a safety failure although sessions were not promised")
				}
			},
		},
		{
			name: "not checked (interrupted)", promise: linearizable, header: hdr, checked: false,
			check: func(t *testing.T, c *model.Consistency) {
				if c.Checked || c.Verdict != "unknown" || c.Unknown != 4 || c.Keys != 4 || c.Ops != 1200 || c.SafetyFailure {
					t.Errorf("%+v: want unchecked, unknown, 4 unknown keys of 4, 1200 ops", c)
				}
			},
		},
		{
			name: "check cut short after a violation: the finding stands", res: linearize.Result{Keys: 4, Linearizable: 1, NotLinearizable: 1, Findings: violated.Findings},
			promise: linearizable, header: hdr, checked: false,
			check: func(t *testing.T, c *model.Consistency) {
				if c.Checked || c.Verdict != "not_linearizable" || c.Unknown != 2 || !c.SafetyFailure {
					t.Errorf("%+v: want unchecked, not linearizable, 2 keys unknown, a safety failure", c)
				}
			},
		},
		{
			name: "truncated history", res: clean, promise: linearizable, checked: true,
			header: history.Header{Schema: history.Schema, Keys: []int{1}, Ops: 5000, MaxOps: 5000, TruncatedAtNs: 42_700_000_000},
			check: func(t *testing.T, c *model.Consistency) {
				if !c.Truncated || c.TruncatedAtMs != 42_700 {
					t.Errorf("truncated %v at %d ms, want at 42700 ms", c.Truncated, c.TruncatedAtMs)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, ConsistencyOf(tt.res, tt.sessions, tt.promise, tt.header, 0, tt.checked))
		})
	}
}

func TestConsistencyLine(t *testing.T) {
	c := &model.Consistency{Keys: 64, Ops: 41203, Verdict: "linearizable"}
	if got, want := ConsistencyLine(c, 1234*time.Millisecond), "linearizability: 64 keys, 41,203 ops: linearizable (check 1.234s CPU)"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	c = &model.Consistency{Keys: 64, Ops: 10, Verdict: "not_linearizable", NotLinearizable: 2, Promised: "linearizable", PromisedLinearizable: true}
	if got := ConsistencyLine(c, 0); !strings.Contains(got, "2 keys not linearizable (promised: linearizable): a safety failure") {
		t.Errorf("got %q", got)
	}
}

// fakeChecker records what the run asked it to check and returns one key
// not linearizable, with its view written where the run said.
type fakeChecker struct {
	mu    sync.Mutex
	calls int
	ops   []history.Op
	opts  linearize.Options
}

func (f *fakeChecker) checker() historyChecker {
	return historyChecker{
		check: func(_ context.Context, ops []history.Op, opts linearize.Options) (linearize.Result, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.calls++
			f.ops, f.opts = slices.Clone(ops), opts
			if err := os.MkdirAll(opts.VisualizeDir, 0o755); err != nil {
				return linearize.Result{}, err
			}
			if err := os.WriteFile(filepath.Join(opts.VisualizeDir, "k.html"), []byte("<html>"), 0o644); err != nil {
				return linearize.Result{}, err
			}
			return linearize.Result{Keys: 8, Ops: len(ops), Linearizable: 7, NotLinearizable: 1, Findings: []linearize.KeyResult{
				{Key: ops[0].Key, Verdict: linearize.NotLinearizable, Visualization: DirLinearizability + "/k.html"}}}, nil
		},
		sessions: func([]history.Op) linearize.SessionResult { return linearize.SessionResult{} },
	}
}

const historyPlan = `name: hist
cluster:
  nodes: 1
workload:
  mix: {read: 50, write: 45, delete: 5}
  keys: 200
  rate: 200
  concurrency: 8
  timeout: 1s
  value_size: 32
  history: {keys: 8}
steps:
  - sleep: 1s
  - verify:
`

// A run on mem records the preload's and the load's operations on the 8
// sampled keys, on one clock, writes them as history.jsonl, hands them to
// the check with the run directory's linearizability/, and fills the
// report's section and files from its result.
func TestHistoryCheckedOnMem(t *testing.T) {
	plan, err := scenarios.Parse("test:hist", []byte(historyPlan))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	fc := &fakeChecker{}
	rep, err := Run(t.Context(), Options{Plan: plan, Driver: mem.New(), Provider: drivers.ProviderEmbedded, RunID: "hist-1",
		Version: "test", Logf: t.Logf, OutDir: out, checker: fc.checker()})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if fc.calls != 1 {
		t.Fatalf("the check ran %d times, want once", fc.calls)
	}
	h, ops, err := history.ReadFile(filepath.Join(out, FileHistory))
	if err != nil {
		t.Fatal(err)
	}
	sample := history.Sample(200, 8)
	if h.RunID != "hist-1" || !slices.Equal(h.Keys, sample) || h.TruncatedAtNs != 0 {
		t.Errorf("header %+v: want run hist-1, keys %v, not truncated", h, sample)
	}
	if !reflect.DeepEqual(ops, fc.ops) {
		t.Errorf("history.jsonl holds %d ops, the check was given %d others", len(ops), len(fc.ops))
	}
	if fc.opts.VisualizeDir != filepath.Join(out, DirLinearizability) || fc.opts.BudgetPerKey != linearize.DefaultBudget || fc.opts.Total <= 0 || fc.opts.KeyName == nil {
		t.Errorf("check options %+v", fc.opts)
	}
	preloaded := map[int]bool{}
	load := 0
	for _, op := range ops {
		if !slices.Contains(sample, op.Key) {
			t.Fatalf("op on key %d, not sampled: %+v", op.Key, op)
		}
		switch {
		case op.Client < 0: // preload: before the load's clock started
			if op.Kind != history.Put || op.Return > 0 || op.Invoke < -time.Minute.Nanoseconds() {
				t.Errorf("preload op %+v: want a put that returned before 0 and after -1m", op)
			}
			preloaded[op.Key] = true
		default:
			load++
			if op.Invoke < 0 {
				t.Errorf("load op %+v invoked before the load's clock started", op)
			}
		}
	}
	if len(preloaded) != len(sample) || load == 0 {
		t.Errorf("preload wrote %d of %d sampled keys, the load %d ops", len(preloaded), len(sample), load)
	}
	c := rep.Consistency
	if c == nil || !c.Checked || c.Verdict != "not_linearizable" || c.Keys != 8 || c.Ops != len(ops) || !c.SafetyFailure || c.Promised != "linearizable" {
		t.Fatalf("consistency %+v", c)
	}
	if rep.Files.History != FileHistory || rep.Files.Linearizability != DirLinearizability {
		t.Errorf("files %+v: want history and linearizability named", rep.Files)
	}
}

// An interrupted run writes the history it has and says the check was not
// done; a run with history keys 0 records none.
func TestHistoryNotChecked(t *testing.T) {
	t.Run("interrupted", func(t *testing.T) {
		plan, err := scenarios.Parse("test:hist", []byte(historyPlan))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		out := t.TempDir()
		fc := &fakeChecker{}
		logf := func(format string, args ...any) {
			t.Logf(format, args...)
			if strings.HasPrefix(format, "preloaded") {
				cancel() // Ctrl-C once the preload is done
			}
		}
		rep, _ := Run(ctx, Options{Plan: plan, Driver: mem.New(), Provider: drivers.ProviderEmbedded, RunID: "hist-2",
			Version: "test", Logf: logf, OutDir: out, checker: fc.checker()})
		if fc.calls != 0 {
			t.Errorf("the check ran %d times after an interrupt", fc.calls)
		}
		c := rep.Consistency
		if c == nil || c.Checked || c.Verdict != "unknown" || c.Unknown != 8 {
			t.Fatalf("consistency %+v: want unchecked, unknown", c)
		}
		_, ops, err := history.ReadFile(filepath.Join(out, FileHistory))
		if err != nil || len(ops) < 8 || rep.Files.History != FileHistory {
			t.Errorf("history: %d ops, %v; files %+v: want the preload's writes at least", len(ops), err, rep.Files)
		}
	})
	t.Run("off", func(t *testing.T) {
		plan, err := scenarios.Parse("test:hist", []byte(strings.Replace(historyPlan, "{keys: 8}", "{keys: 0}", 1)))
		if err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		fc := &fakeChecker{}
		rep, err := Run(t.Context(), Options{Plan: plan, Driver: mem.New(), Provider: drivers.ProviderEmbedded, RunID: "hist-3",
			Version: "test", Logf: t.Logf, OutDir: out, checker: fc.checker()})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Consistency != nil || fc.calls != 0 || rep.Files.History != "" {
			t.Errorf("history off: consistency %+v, %d checks, files %+v", rep.Consistency, fc.calls, rep.Files)
		}
		if _, err := os.Stat(filepath.Join(out, FileHistory)); !os.IsNotExist(err) {
			t.Errorf("history off: %s exists (%v)", FileHistory, err)
		}
	})
}

// A checker that panics (a bug) costs the verdict, never the report.
func TestHistoryCheckerPanics(t *testing.T) {
	plan, err := scenarios.Parse("test:hist", []byte(historyPlan))
	if err != nil {
		t.Fatal(err)
	}
	panicky := historyChecker{
		check:    func(context.Context, []history.Op, linearize.Options) (linearize.Result, error) { panic("checker bug") },
		sessions: func([]history.Op) linearize.SessionResult { return linearize.SessionResult{} },
	}
	rep, err := Run(t.Context(), Options{Plan: plan, Driver: mem.New(), Provider: drivers.ProviderEmbedded, RunID: "hist-4",
		Version: "test", Logf: t.Logf, checker: panicky})
	if err != nil || !rep.Complete {
		t.Fatalf("run: %v (complete %v)", err, rep.Complete)
	}
	if c := rep.Consistency; c == nil || c.Checked || c.Verdict != "unknown" || rep.Files.History != "" {
		t.Errorf("consistency %+v, files %+v: want unchecked, unknown, no file without an out dir", c, rep.Files)
	}
}
