package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/evalrun/evalrun/internal/errext"
	"github.com/evalrun/evalrun/internal/runner"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/reports/render"
)

// capacityFlags are the flags of 'evalrun capacity' beyond those of run.
type capacityFlags struct {
	slo       string
	startRate float64
	factor    float64
	stage     time.Duration
	settle    time.Duration
	maxRate   float64
	maxStages int
	bisect    int
}

func (a *app) capacityCommand() *cobra.Command {
	var f runFlags
	var cf capacityFlags
	cmd := &cobra.Command{
		Use:   "capacity SCENARIO --slo p99=20ms[,errors=1%][,achieved=95%]",
		Short: "Find how much load a cluster takes: raise the offered rate in stages until the SLO breaks",
		Long: `Start one cluster, run the scenario's steps under its workload (the setup:
e.g. a step that degrades a node, which then lasts through the stages), then
raise the offered rate in stages: --start-rate (default the scenario's rate,
or --rate), times --factor per stage, each stage a phase of --stage after a
--settle that is not counted, until a stage breaks the SLO, --max-rate or
--max-stages; then --bisect stages between the last rate that held and the
first that broke (a stage after a broken one first recovers at a quarter
of the rate that held, 2 x max_lag + 1s, so the backlog does not count).

A stage holds when its p99 latency from the intended start is at most the
SLO's p99, its failed and missed operations are at most errors (default 1%)
of its operations, and its successful ops/s are at least achieved (default
95%) of the offered rate. The report (report.json, .md, .html) gives the
stage table, the highest rate that held and the first that broke, and a
plot of p50 and p99 against the achieved rate. 'evalrun compare' puts two
capacity reports side by side.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runCapacity(cmd, args[0], f, cf)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cf.slo, "slo", "", "the objective a stage must meet: p99=DURATION[,errors=PERCENT][,achieved=PERCENT] (required)")
	fl.Float64Var(&cf.startRate, "start-rate", 0, "the first stage's offered rate in ops/s (default: the scenario's rate)")
	fl.Float64Var(&cf.factor, "factor", runner.DefaultCapacityFactor, "each stage offers this times the last")
	fl.DurationVar(&cf.stage, "stage", runner.DefaultCapacityStage, "measured length of a stage")
	fl.DurationVar(&cf.settle, "settle", runner.DefaultCapacitySettle, "time at a stage's rate before it is measured")
	fl.Float64Var(&cf.maxRate, "max-rate", 0, "offer no more than this many ops/s (default: no bound but --max-stages)")
	fl.IntVar(&cf.maxStages, "max-stages", runner.DefaultCapacityMaxStages, "stages before the bisection, at most")
	fl.IntVar(&cf.bisect, "bisect", runner.DefaultCapacityBisect, "extra stages between the last rate that held and the first that broke")
	f.add(cmd, "rate in ops/s while the steps run (default: the scenario's)", "scale the steps' timeline to last about this long (default: as written)")
	return cmd
}

// parseSLO reads --slo (required).
func (cf capacityFlags) parseSLO() (model.SLO, error) {
	if cf.slo == "" {
		return model.SLO{}, errext.BadInput(fmt.Errorf("--slo is required"), "e.g. --slo p99=20ms,errors=1%")
	}
	slo, err := runner.ParseSLO(cf.slo)
	if err != nil {
		return model.SLO{}, errext.BadInput(err, "e.g. --slo p99=20ms,errors=1%")
	}
	return slo, nil
}

// options checks the flags into the runner's options; rate is the
// scenario's (the default start rate).
func (cf capacityFlags) options(slo model.SLO, rate float64) (*runner.CapacityOptions, error) {
	o := &runner.CapacityOptions{SLO: slo, StartRate: cf.startRate, Factor: cf.factor, Stage: cf.stage, Settle: cf.settle,
		MaxRate: cf.maxRate, MaxStages: cf.maxStages, Bisect: cf.bisect}
	if o.StartRate == 0 {
		o.StartRate = rate
	}
	if err := o.Check(); err != nil {
		return nil, errext.BadInput(err, "")
	}
	return o, nil
}

func (a *app) runCapacity(cmd *cobra.Command, name string, f runFlags, cf capacityFlags) error {
	slo, err := cf.parseSLO() // before the scenario loads: a typo costs nothing
	if err != nil {
		return err
	}
	plan, d, provider, scale, err := a.prepare(name, f, cmd.Flags().Changed)
	if err != nil {
		return err
	}
	co, err := cf.options(slo, plan.Workload.Rate)
	if err != nil {
		return err
	}
	// the progress line's planned length: the steps and every stage the
	// search may run (it stops at the first broken one)
	plan.Duration += time.Duration(co.MaxStages+co.Bisect) * (co.Stage + co.Settle)
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rs := runSpec{plan: plan, driver: d, provider: provider, scale: scale, flags: f, capacity: co}
	runID := newRunID(plan.Name, d.Name())
	out := f.out
	if out == "" {
		out = filepath.Join(defaultRunsDir, runID)
	}
	return a.runOnce(ctx, rs, runID, out, stop)
}

// capacityWithLog is c printing a line per judged stage through logf
// (the progress line's printer); nil when c is.
func capacityWithLog(c *runner.CapacityOptions, logf func(format string, args ...any)) *runner.CapacityOptions {
	if c == nil {
		return nil
	}
	co := *c
	co.OnStage = func(s model.CapacityStage) { logf("%s", render.CapacityStageLine(s)) }
	return &co
}

// printCapacity prints the capacity search's result (nothing for a run);
// the stages were printed as they were judged.
func printCapacity(w io.Writer, r *model.Report) {
	if r.Capacity == nil {
		return
	}
	fmt.Fprintf(w, "%s\n", render.CapacityResultLine(r.Capacity))
	for _, n := range r.Capacity.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
