package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/errext"
	"github.com/evalrun/evalrun/internal/history"
	"github.com/evalrun/evalrun/internal/linearize"
	"github.com/evalrun/evalrun/internal/runner"
	"github.com/evalrun/evalrun/internal/workload"
	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/model"
)

func (a *app) checkCommand() *cobra.Command {
	var (
		visualize bool
		budget    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "check DIR",
		Short: "Check a run's recorded history again for linearizability; exit 1 when a promised model is violated",
		Long: `Read DIR/history.jsonl (the operations a run recorded on its sample of keys)
and check it again, key by key, for linearizability and, per client, for the
session guarantees (monotonic reads, read your writes). What the database
promised comes from DIR/report.json when it is there (else nothing is taken
as promised). Prints each key not linearizable or unknown, with the
operations that cannot be ordered, and a verdict.

Exit codes: 0 linearizable, or a violation of a model the database does not
promise (observed, as documented); 1 a promised model is violated (a safety
failure); 2 bad input (no history.jsonl, a malformed line).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			dir := args[0]
			h, ops, err := history.ReadFile(filepath.Join(dir, runner.FileHistory))
			if err != nil {
				return errext.BadInput(err, "")
			}
			promise, reportBudget, err := promiseFromReport(dir)
			if err != nil {
				return errext.BadInput(err, "")
			}
			if !cmd.Flags().Changed("budget") && reportBudget > 0 {
				budget = reportBudget
			}
			opts := linearize.Options{BudgetPerKey: budget, KeyName: workload.KeyName}
			if visualize {
				opts.VisualizeDir = filepath.Join(dir, runner.DirLinearizability)
			}
			res, err := linearize.Check(ctx, ops, opts)
			checked := err == nil
			if err != nil {
				fmt.Fprintf(a.stderr, "evalrun: the check did not finish: %v\n", err)
			}
			c := runner.ConsistencyOf(res, linearize.CheckSessions(ops), promise, h, budget, checked)
			printConsistency(a.stdout, c, res.CPU)
			if ctx.Err() != nil {
				return errext.WithExitCode(errors.New("interrupted; the verdict is incomplete"), errext.ExitInterrupted)
			}
			if c.SafetyFailure {
				return errext.WithExitCode(fmt.Errorf("%s: the database violated the consistency it promises (%s)", dir, promiseName(c)), errext.ExitRegression)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&visualize, "visualize", false, "write porcupine's view of each key not linearizable into DIR/"+runner.DirLinearizability+"/")
	cmd.Flags().DurationVar(&budget, "budget", linearize.DefaultBudget, "each key's check budget (default: the run's, from report.json, else 10s); a key over it is unknown")
	return cmd
}

// promiseFromReport is what DIR/report.json says the database promised
// and the run's check budget; nothing when there is no report.json.
func promiseFromReport(dir string) (drivers.Consistency, time.Duration, error) {
	path := filepath.Join(dir, reports.FileJSON)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return drivers.Consistency{}, 0, nil
	}
	rep, err := reports.ReadJSON(path)
	if err != nil {
		return drivers.Consistency{}, 0, err
	}
	c := rep.Consistency
	if c == nil {
		return drivers.Consistency{}, 0, nil
	}
	return drivers.Consistency{Model: c.Promised, Linearizable: c.PromisedLinearizable, Sessions: c.PromisedSessions, Detail: c.PromiseDetail},
		time.Duration(c.BudgetPerKeyMs) * time.Millisecond, nil
}

func promiseName(c *model.Consistency) string {
	if c.Promised == "" {
		return "none stated"
	}
	return c.Promised
}

// printConsistency prints each finding, the session violations, and the
// verdict: "linearizable: yes (N keys, M operations)", "no: K keys
// (promised: linearizable) → a safety failure", "no: K keys (not
// promised) → observed, as documented".
func printConsistency(w io.Writer, c *model.Consistency, cpu time.Duration) {
	for _, f := range c.Findings {
		switch f.Verdict {
		case string(linearize.NotLinearizable):
			fmt.Fprintf(w, "%s (%d ops): not linearizable; these operations cannot be ordered:\n", f.Key, f.Ops)
			for _, op := range f.Anomaly {
				fmt.Fprintf(w, "  %s\n", opLine(op))
			}
			if f.Visualization != "" {
				fmt.Fprintf(w, "  view: %s\n", f.Visualization)
			}
		default:
			fmt.Fprintf(w, "%s (%d ops): unknown: %s\n", f.Key, f.Ops, f.Reason)
		}
	}
	for _, v := range c.Sessions.Examples {
		fmt.Fprintf(w, "%s violated by client %d on %s:\n  %s\n  then %s\n", v.Guarantee, v.Client, v.Key, opLine(v.First), opLine(v.Then))
	}
	if c.Truncated {
		fmt.Fprintf(w, "the history reached its bound: it holds the operations invoked before %.3f s\n", float64(c.TruncatedAtMs)/1000)
	}
	if n := c.Sessions.MonotonicReads + c.Sessions.ReadYourWrites; n > 0 {
		promised := "not promised: observed"
		if c.PromisedSessions {
			promised = "promised: a safety failure"
		}
		fmt.Fprintf(w, "session guarantees: %d violations (monotonic reads %d, read your writes %d; %s)\n",
			n, c.Sessions.MonotonicReads, c.Sessions.ReadYourWrites, promised)
	}
	switch {
	case c.NotLinearizable > 0 && c.PromisedLinearizable:
		fmt.Fprintf(w, "linearizable: no: %d keys (promised: %s) → a safety failure\n", c.NotLinearizable, promiseName(c))
	case c.NotLinearizable > 0:
		fmt.Fprintf(w, "linearizable: no: %d keys (not promised: %s) → observed, as documented\n", c.NotLinearizable, promiseName(c))
	case c.Verdict == string(linearize.Unknown):
		fmt.Fprintf(w, "linearizable: unknown: %d of %d keys not decided (budget %d ms a key)\n", c.Unknown, c.Keys, c.BudgetPerKeyMs)
	default:
		fmt.Fprintf(w, "linearizable: yes (%d keys, %d operations)\n", c.Keys, c.Ops)
	}
	fmt.Fprintln(w, runner.ConsistencyLine(c, cpu))
}

// opLine is one operation: "client 3 put 7 [1.500 ms → 2.250 ms] unknown (node 2)".
func opLine(op model.HistoryOp) string {
	s := fmt.Sprintf("client %d %s", op.Client, op.Op)
	if op.Value != 0 {
		s += fmt.Sprintf(" %d", op.Value)
	}
	s += fmt.Sprintf(" [%.3f ms → %.3f ms] %s", op.InvokeMs, op.ReturnMs, op.Outcome)
	if op.Node != 0 {
		s += fmt.Sprintf(" (node %d)", op.Node)
	}
	return s
}
