package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/history"
	"github.com/evalrun/evalrun/internal/linearize"
	"github.com/evalrun/evalrun/internal/measure"
	"github.com/evalrun/evalrun/internal/workload"
	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/model"
)

// The history check of a run (issue 21): the operations on a sample of
// keys are recorded by the preload and the load (package history), written
// as history.jsonl into the run directory, and checked for
// linearizability and session guarantees (package linearize), after the
// final verify and the teardown, so that the check's CPU and memory are
// its own.

// File and directory names in the run directory.
const (
	FileHistory        = "history.jsonl"
	DirLinearizability = "linearizability"
)

// historyCheckTotal bounds the whole check: the keys it does not reach
// are unknown.
const historyCheckTotal = 2 * time.Minute

// historyChecker is the check the run calls: package linearize's, or a
// test's (the runner's tests do not depend on the checker's verdicts).
type historyChecker struct {
	check    func(context.Context, []history.Op, linearize.Options) (linearize.Result, error)
	sessions func([]history.Op) linearize.SessionResult
}

func defaultChecker() historyChecker {
	return historyChecker{check: linearize.Check, sessions: linearize.CheckSessions}
}

// startHistory makes the recorder of the sampled keys, when the workload
// asks for one (the ledger gives the values their identities; the runner
// always has one).
func (r *run) startHistory() {
	w := r.plan.Workload
	if w.History.Keys <= 0 || r.ledger == nil {
		return
	}
	keys, err := keyChooser(w)
	if err != nil { // the load will say so
		return
	}
	r.hist = history.NewRecorder(w.Keys, workload.HistorySample(keys, w.Keys, w.History.Keys), w.History.MaxOps)
}

// adoptPreloadHistory moves the preload's operations into the run's
// history, shifted from the preload's clock onto the load's (shift: the
// load clock's value at the preload clock's zero).
func (r *run) adoptPreloadHistory(pre *history.Recorder, shift time.Duration) {
	if pre == nil || r.hist == nil {
		return
	}
	_, ops := pre.Ops()
	for _, op := range ops {
		op.Invoke += int64(shift)
		op.Return += int64(shift)
		r.hist.Add(op)
	}
}

// checkHistory writes the history into the run directory and checks it,
// unless the run was interrupted (ctx done): then the report says the
// check was not done (verdict unknown). A panic in the checker is an
// unknown verdict with the reason logged, never a lost report.
func (r *run) checkHistory(ctx context.Context) {
	if r.hist == nil {
		return
	}
	if r.preHist != nil { // the load never started: the preload's writes, on a clock that ends now
		r.adoptPreloadHistory(r.preHist, time.Until(r.preT0))
		r.preHist = nil
	}
	h, ops := r.hist.Ops()
	h.RunID = r.o.RunID
	promise := r.promised
	if r.o.OutDir != "" {
		if err := writeHistory(filepath.Join(r.o.OutDir, FileHistory), h, ops); err != nil {
			r.o.Logf("history: %v (the run cannot be checked again from its files)", err)
		} else {
			r.rep.Files.History = FileHistory
		}
	}
	budget := r.plan.Workload.History.Budget
	if ctx.Err() != nil {
		r.rep.Consistency = ConsistencyOf(linearize.Result{}, linearize.SessionResult{}, promise, h, budget, false)
		r.o.Logf("linearizability: not checked (interrupted); %s", FileHistory)
		return
	}
	r.setStep("history check")
	runCPU := measure.ProcessCPU().Sub(r.cpu0) // everything this run spent before the check
	opts := linearize.Options{BudgetPerKey: budget, Total: historyCheckTotal, KeyName: workload.KeyName}
	if r.o.OutDir != "" {
		opts.VisualizeDir = filepath.Join(r.o.OutDir, DirLinearizability)
	}
	res, sessions, err := r.checker.run(ctx, ops, opts)
	checked := err == nil
	if err != nil {
		r.o.Logf("linearizability check: %v", err)
	}
	c := ConsistencyOf(res, sessions, promise, h, budget, checked)
	c.RunCPUMs = (runCPU.User + runCPU.Sys).Milliseconds()
	c.RunMaxRSSB = measure.ProcessMaxRSS()
	r.rep.Consistency = c
	for _, f := range c.Findings {
		if f.Visualization != "" {
			r.rep.Files.Linearizability = DirLinearizability
			break
		}
	}
	r.o.Logf("%s", ConsistencyLine(c, res.CPU))
}

// run runs both checks, a panic in either being an error.
func (hc historyChecker) run(ctx context.Context, ops []history.Op, opts linearize.Options) (res linearize.Result, sessions linearize.SessionResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error in the history check: %v\n%s", p, debug.Stack())
		}
	}()
	res, err = hc.check(ctx, ops, opts)
	sessions = hc.sessions(ops)
	return res, sessions, err
}

// promiseOf is what cluster promises (drivers.ConsistencyPromiser): the
// zero Consistency (nothing promised) when it states nothing.
func promiseOf(cluster drivers.Cluster) drivers.Consistency {
	if p, ok := cluster.(drivers.ConsistencyPromiser); ok {
		return p.Consistency()
	}
	return drivers.Consistency{}
}

// writeHistory writes the history into path through a temporary file, so
// that path is whole or absent.
func writeHistory(path string, h history.Header, ops []history.Op) (err error) {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if err := history.Write(f, h, ops); err != nil {
		_ = f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// ConsistencyOf is the report's section from the check's results (budget:
// each key's check budget, <= 0 the default), what
// the driver promises and the history's header. checked false: the check
// was not done or did not finish (interrupted, or it failed); the verdict
// is then unknown unless a key was already found not linearizable (that
// finding stands).
func ConsistencyOf(res linearize.Result, sessions linearize.SessionResult, promise drivers.Consistency, h history.Header, budget time.Duration, checked bool) *model.Consistency {
	if budget <= 0 {
		budget = linearize.DefaultBudget
	}
	c := &model.Consistency{
		Promised:             promise.Model,
		PromisedLinearizable: promise.Linearizable,
		PromisedSessions:     promise.Sessions,
		PromiseDetail:        promise.Detail,
		Checked:              checked,
		Keys:                 len(h.Keys),
		Ops:                  h.Ops,
		Linearizable:         res.Linearizable,
		NotLinearizable:      res.NotLinearizable,
		Unknown:              res.Unknown,
		Truncated:            h.TruncatedAtNs > 0,
		BudgetPerKeyMs:       budget.Milliseconds(),
		CheckCPUMs:           res.CPU.Milliseconds(),
		CheckWallMs:          res.Wall.Milliseconds(),
		CheckPeakHeapB:       res.PeakHeap,
		Sessions: model.SessionGuarantees{
			Clients:        sessions.Clients,
			Reads:          sessions.Reads,
			MonotonicReads: sessions.MonotonicReads,
			ReadYourWrites: sessions.ReadYourWrites,
		},
	}
	c.TruncatedKeys, c.MaxOpsPerKey = len(h.TruncatedKeys), h.MaxOpsPerKey
	if c.Truncated {
		c.TruncatedAtMs = time.Duration(h.TruncatedAtNs).Milliseconds()
	}
	verdict := res.Verdict()
	if !checked {
		// the keys not judged are unknown
		c.Unknown = max(c.Keys-c.Linearizable-c.NotLinearizable, c.Unknown)
		if verdict == linearize.Linearizable {
			verdict = linearize.Unknown
		}
	}
	c.Verdict = string(verdict)
	for _, f := range res.Findings {
		mf := model.ConsistencyFinding{
			Key: keyName(f.Name, f.Key), KeyIdx: f.Key, Ops: f.Ops, Verdict: string(f.Verdict),
			Reason: f.Reason, Visualization: f.Visualization,
		}
		for _, op := range f.Anomaly {
			mf.Anomaly = append(mf.Anomaly, modelOp(op))
		}
		c.Findings = append(c.Findings, mf)
	}
	for _, v := range sessions.Examples {
		c.Sessions.Examples = append(c.Sessions.Examples, model.SessionViolation{
			Guarantee: v.Guarantee, Client: v.Client, Key: workload.KeyName(v.Key),
			First: modelOp(v.First), Then: modelOp(v.Then),
		})
	}
	c.SafetyFailure = (c.PromisedLinearizable && c.NotLinearizable > 0) ||
		(c.PromisedSessions && c.Sessions.MonotonicReads+c.Sessions.ReadYourWrites > 0)
	return c
}

func keyName(name string, key int) string {
	if name != "" {
		return name
	}
	return workload.KeyName(key)
}

// modelOp is op as the report shows it: times in milliseconds on the run's
// clock.
func modelOp(op history.Op) model.HistoryOp {
	return model.HistoryOp{
		Client: op.Client, Op: string(op.Kind),
		InvokeMs: float64(op.Invoke) / 1e6, ReturnMs: float64(op.Return) / 1e6,
		Value: op.Value, Foreign: op.Foreign, Outcome: string(op.Outcome), Node: op.Node,
	}
}

// ConsistencyLine is the log's line for the check (evalrun check prints
// it too): "linearizability: 64
// keys, 41,203 ops: linearizable (check 1.2s CPU)".
func ConsistencyLine(c *model.Consistency, cpu time.Duration) string {
	s := fmt.Sprintf("linearizability: %d keys, %s ops: %s", c.Keys, format.Count(int64(c.Ops)), c.Verdict)
	switch {
	case c.NotLinearizable > 0 && c.PromisedLinearizable:
		s += fmt.Sprintf(", %d keys not linearizable (promised: %s): a safety failure", c.NotLinearizable, c.Promised)
	case c.NotLinearizable > 0:
		s += fmt.Sprintf(", %d keys not linearizable (not promised: observed)", c.NotLinearizable)
	}
	if c.Unknown > 0 {
		s += fmt.Sprintf(", %d keys unknown", c.Unknown)
	}
	if n := c.Sessions.MonotonicReads + c.Sessions.ReadYourWrites; n > 0 {
		s += fmt.Sprintf("; session guarantees violated %d times (monotonic reads %d, read your writes %d)", n, c.Sessions.MonotonicReads, c.Sessions.ReadYourWrites)
	}
	if c.Truncated {
		s += fmt.Sprintf("; history cut at %s (max ops)", (time.Duration(c.TruncatedAtMs) * time.Millisecond).String())
	}
	return s + fmt.Sprintf(" (check %s CPU)", cpu.Round(time.Millisecond))
}
