package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/errext"
	"github.com/evalrun/evalrun/internal/runner"
	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/reports/render"
	"github.com/evalrun/evalrun/scenarios"
)

const defaultScenario = "node-loss"

type runFlags struct {
	driver, provider, out, image string
	options                      []string // --option NAME=VALUE: cluster options over the scenario's
	cpuProfile                   string
	seed                         int64
	rate                         float64
	duration                     time.Duration
	quiet                        bool
	repeat                       int
}

// add registers the flags of a run of one scenario on one cluster (run
// and capacity share them); rate and duration say what they scale.
func (f *runFlags) add(cmd *cobra.Command, rate, duration string) {
	fl := cmd.Flags()
	fl.StringVar(&f.driver, "driver", "etcd", "database driver (see 'evalrun drivers')")
	fl.StringVar(&f.provider, "provider", "", "where the cluster runs: embedded or docker (default: the driver's default)")
	fl.StringVar(&f.out, "out", "", "directory for the report (default runs/<run-id>)")
	fl.StringVar(&f.image, "image", "", "container image to run (docker provider)")
	fl.StringArrayVar(&f.options, "option", nil, "cluster option NAME=VALUE over the scenario's cluster.options (repeatable; e.g. semi-sync=on)")
	fl.Int64Var(&f.seed, "seed", 0, "workload seed (default: the scenario's)")
	fl.Float64Var(&f.rate, "rate", 0, rate)
	fl.DurationVar(&f.duration, "duration", 0, duration)
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress line")
}

// defaultRunsDir holds a run's or a set's directory when --out is not
// given; git ignores it.
const defaultRunsDir = "runs"

func (a *app) runCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [SCENARIO]",
		Short: "Run a scenario (a built-in name or a YAML file; default node-loss)",
		Long: `Run a scenario against a fresh cluster and write report.json, report.md,
report.html and latency.hlog into --out (default runs/<run-id>/).

SCENARIO is a built-in name (see 'evalrun scenarios') or a path to a YAML file.
--duration scales the scenario's timeline (every sleep and 'at') so that it
lasts about D; timeouts are not scaled.
--repeat N runs it N times, each on a fresh cluster, into OUT/run-1 … run-N,
then writes the set's summary (runs.json, runs.md, runs.html): per metric the
median, min, max and confidence interval across the runs. A failed run is
kept and counted; Ctrl-C stops the set and the summary is still written,
marked incomplete. 'evalrun compare' compares two sets with statistics.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := defaultScenario
			if len(args) == 1 {
				name = args[0]
			}
			return a.runScenario(cmd, name, f)
		},
	}
	fl := cmd.Flags()
	f.add(cmd, "target rate in ops/s (default: the scenario's)", "scale the timeline to last about this long (default: as written)")
	fl.IntVar(&f.repeat, "repeat", 1, "run the scenario N times, each on a fresh cluster, into OUT/run-1 … run-N plus a summary of the set (runs.json, runs.md, runs.html)")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of evalrun itself to this file (go tool pprof)")
	return cmd
}

// prepare resolves the scenario and driver and validates them, before
// anything starts.
func (a *app) prepare(name string, f runFlags, flagsSet func(string) bool) (*scenarios.Plan, drivers.Driver, string, float64, error) {
	plan, err := scenarios.Load(name)
	if err != nil {
		return nil, nil, "", 0, errext.BadInput(err, "")
	}
	d, err := a.registry.Lookup(f.driver)
	if err != nil {
		return nil, nil, "", 0, errext.BadInput(err, "see 'evalrun drivers'")
	}
	provider, err := drivers.Provider(d, f.provider)
	if err != nil {
		return nil, nil, "", 0, errext.BadInput(err, "")
	}
	if err := overrideOptions(plan, f.options); err != nil {
		return nil, nil, "", 0, errext.BadInput(err, "")
	}
	if _, err := scenarios.Check(plan, d, provider); err != nil {
		hint := ""
		if len(f.options) > 0 {
			hint = "options set by --option: " + strings.Join(f.options, " ")
		}
		return nil, nil, "", 0, errext.BadInput(err, hint)
	}
	scale := 1.0
	if flagsSet("duration") {
		if f.duration <= 0 {
			return nil, nil, "", 0, errext.BadInput(fmt.Errorf("--duration must be > 0, got %v", f.duration), "")
		}
		if plan.Duration > 0 {
			scale = float64(f.duration) / float64(plan.Duration)
			plan = plan.Scaled(f.duration)
		}
	}
	if flagsSet("rate") {
		if f.rate <= 0 || f.rate > 1e6 {
			return nil, nil, "", 0, errext.BadInput(fmt.Errorf("--rate must be in (0, 1e6], got %v", f.rate), "")
		}
		plan.Workload.Rate = f.rate
	}
	if flagsSet("seed") {
		plan.Workload.Seed = f.seed
	}
	return plan, d, provider, scale, nil
}

// overrideOptions sets the --option NAME=VALUE pairs in the plan's
// cluster options (the report's config says which values ran); the
// driver checks them with the rest.
func overrideOptions(plan *scenarios.Plan, pairs []string) error {
	for _, kv := range pairs {
		name, value, ok := strings.Cut(kv, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return fmt.Errorf("--option %q: want NAME=VALUE, e.g. --option semi-sync=on", kv)
		}
		if plan.Cluster.Options == nil {
			plan.Cluster.Options = map[string]string{}
		}
		plan.Cluster.Options[name] = strings.TrimSpace(value)
		delete(plan.Cluster.OptionLines, name) // an error points at cluster:, not at the value replaced
	}
	return nil
}

func newRunID(scenario, driver string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%s-%s-%s", time.Now().UTC().Format("20060102-150405"), scenario, driver, hex.EncodeToString(b[:]))
}

func (a *app) runScenario(cmd *cobra.Command, name string, f runFlags) error {
	plan, d, provider, scale, err := a.prepare(name, f, cmd.Flags().Changed)
	if err != nil {
		return err
	}
	if err := runner.CheckDegrades(cmd.Context(), plan, d, provider); err != nil {
		return err // a degrade this machine cannot apply: nothing created
	}
	if f.repeat < 1 {
		return errext.BadInput(fmt.Errorf("--repeat must be at least 1, got %d", f.repeat), "")
	}
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return errext.BadInput(fmt.Errorf("--cpuprofile: %w", err), "")
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return errext.BadInput(fmt.Errorf("--cpuprofile: %w", err), "")
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rs := runSpec{plan: plan, driver: d, provider: provider, scale: scale, flags: f}
	if f.repeat == 1 {
		runID := newRunID(plan.Name, d.Name())
		out := f.out
		if out == "" {
			out = filepath.Join(defaultRunsDir, runID)
		}
		return a.runOnce(ctx, rs, runID, out, stop)
	}
	return a.runRepeated(ctx, rs, stop)
}

// runSpec is what every run of a scenario shares.
type runSpec struct {
	plan     *scenarios.Plan
	driver   drivers.Driver
	provider string
	scale    float64
	flags    runFlags
	capacity *runner.CapacityOptions // evalrun capacity; nil for a run
}

// runOnce runs the scenario once on a fresh cluster and writes its report
// into out. It returns the run's exit error (nil when it completed).
// afterRun is called when the load has stopped, before the report is
// written (a single run restores the default signal handling there).
func (a *app) runOnce(ctx context.Context, rs runSpec, runID, out string, afterRun func()) error {
	plan, d, provider, f := rs.plan, rs.driver, rs.provider, rs.flags
	swept := false
	if provider == drivers.ProviderDocker {
		if err := a.sweepBeforeRun(ctx); err != nil {
			return err
		}
		swept = true // once per run: the drivers need not sweep again
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return errext.BadInput(fmt.Errorf("report directory: %w", err), "pass a writable directory with --out")
	}
	hlogTmp := filepath.Join(out, ".latency.hlog.partial")
	hlog, err := os.Create(hlogTmp)
	if err != nil {
		return errext.BadInput(fmt.Errorf("report directory: %w", err), "pass a writable directory with --out")
	}

	prog := newProgress(a.stderr, a.isTerminal(), f.quiet, plan.OpenEnded())
	fmt.Fprintf(a.stderr, "evalrun %s: scenario %s on %s (%s, %d nodes), run %s\n", a.version, plan.Name, d.Name(), provider, plan.Cluster.Nodes, runID)
	rep, runErr := runner.Run(ctx, runner.Options{
		Plan: plan, TimeScale: rs.scale, Driver: d, Provider: provider, Image: f.image, Swept: swept,
		RunID: runID, Version: a.version, HdrLog: hlog, OutDir: out,
		Progress: prog.update,
		Logf:     prog.logf,
		Capacity: capacityWithLog(rs.capacity, prog.logf),
	})
	prog.done()
	interrupted := ctx.Err() != nil
	afterRun()

	hlogErr := hlog.Close()
	if hlogErr == nil {
		hlogErr = os.Rename(hlogTmp, filepath.Join(out, reports.FileHdrLog))
	}
	if rep == nil {
		return errext.WithExitCode(runErr, errext.ExitInternal)
	}
	if hlogErr != nil && rep.Files.HdrLogError == "" {
		rep.Files.HdrLogError = "saving the interval log: " + hlogErr.Error()
	}
	if interrupted {
		rep.Complete = false
		rep.Incomplete = "interrupted by a signal (SIGINT/SIGTERM)"
	}
	if err := render.WriteAll(out, rep); err != nil {
		return errext.WithExitCode(fmt.Errorf("write report: %w", err), errext.ExitInternal)
	}
	printSummary(a.stdout, rep)
	printCapacity(a.stdout, rep)
	fmt.Fprintf(a.stdout, "report: %s\n", filepath.Join(out, "report.html"))
	switch {
	case interrupted:
		return errext.WithExitCode(errors.New("interrupted; the report is marked incomplete"), errext.ExitInterrupted)
	case runErr != nil:
		return errext.WithHint(errext.WithExitCode(fmt.Errorf("run did not complete: %w", runErr), errext.ExitInternal), "the report says how far it got: "+filepath.Join(out, "report.md"))
	}
	return nil
}

// runRepeated runs the scenario --repeat times, each on a fresh cluster
// into OUT/run-i, then summarises the set (runs.json, runs.md, runs.html)
// from the reports on disk: a run's report is written and dropped before
// the next starts. A failed run is kept and counted; Ctrl-C stops the
// set, and the summary is still written, marked incomplete;
// stopSignals restores the default signal handling (once interrupted, a
// second Ctrl-C kills).
func (a *app) runRepeated(ctx context.Context, rs runSpec, stopSignals func()) error {
	f := rs.flags
	setID := newRunID(rs.plan.Name, rs.driver.Name())
	out := f.out
	if out == "" {
		out = filepath.Join(defaultRunsDir, setID)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return errext.BadInput(fmt.Errorf("report directory: %w", err), "pass a writable directory with --out")
	}
	rec := setRecorder{dir: out, id: setID, requested: f.repeat}
	stopped := ""
	var stopErr error
	for i := 1; i <= f.repeat; i++ {
		fmt.Fprintf(a.stderr, "evalrun: run %d of %d\n", i, f.repeat)
		dir := rec.nextDir()
		err := a.runOnce(ctx, rs, newRunID(rs.plan.Name, rs.driver.Name()), filepath.Join(out, dir), func() {
			if ctx.Err() != nil {
				stopSignals()
			}
		})
		if stopped, stopErr = rec.record(ctx, a.stderr, fmt.Sprintf("run %d of %d", i, f.repeat), dir, err); stopped != "" {
			break
		}
	}
	set, err := rec.write(stopped)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "\nset of %d runs: %s\nsummary: %s\n", len(set.Runs), runSetLine(set), filepath.Join(out, reports.FileRunsHTML))
	switch {
	case stopErr != nil:
		if errext.ExitCodeOf(stopErr) == errext.ExitInterrupted {
			return errext.WithExitCode(errors.New("interrupted; the set summary is marked incomplete"), errext.ExitInterrupted)
		}
		return stopErr
	case rec.failed > 0:
		return errext.WithHint(errext.WithExitCode(fmt.Errorf("%d of %d runs did not complete", rec.failed, len(set.Runs)), errext.ExitInternal),
			"each run's report says how far it got; the set counts them: "+filepath.Join(out, reports.FileRunsMarkdown))
	}
	return nil
}

func runSetLine(s *model.RunSet) string {
	if s.Complete {
		return "complete"
	}
	return "INCOMPLETE: " + s.Incomplete
}

func oneLineErr(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
