package main

import (
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
	"github.com/evalrun/evalrun/internal/runner"
	"github.com/evalrun/evalrun/reports"
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
}

func (a *app) runCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [SCENARIO]",
		Short: "Run a scenario (a built-in name or a YAML file; default node-loss)",
		Long: `Run a scenario against a fresh cluster and write report.json, report.md,
report.html and latency.hlog into --out (default reports/<run-id>/).

SCENARIO is a built-in name (see 'evalrun scenarios') or a path to a YAML file.
--duration scales the scenario's timeline (every sleep and 'at') so that it
lasts about D; timeouts are not scaled.`,
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
	fl.StringVar(&f.driver, "driver", "etcd", "database driver (see 'evalrun drivers')")
	fl.StringVar(&f.provider, "provider", "", "where the cluster runs: embedded or docker (default: the driver's default)")
	fl.StringVar(&f.out, "out", "", "directory for the report (default reports/<run-id>)")
	fl.StringVar(&f.image, "image", "", "container image to run (docker provider)")
	fl.StringArrayVar(&f.options, "option", nil, "cluster option NAME=VALUE over the scenario's cluster.options (repeatable; e.g. semi-sync=on)")
	fl.Int64Var(&f.seed, "seed", 0, "workload seed (default: the scenario's)")
	fl.Float64Var(&f.rate, "rate", 0, "target rate in ops/s (default: the scenario's)")
	fl.DurationVar(&f.duration, "duration", 0, "scale the timeline to last about this long (default: as written)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress line")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of evalrun itself to this file (go tool pprof)")
	return cmd
}

// prepare resolves the scenario and driver and validates them, before
// anything starts.
func (a *app) prepare(name string, f runFlags, flagsSet func(string) bool) (*scenarios.Plan, drivers.Driver, string, float64, error) {
	plan, err := scenarios.Load(name)
	if err != nil {
		return nil, nil, "", 0, badInput(err, "")
	}
	d, err := a.registry.Lookup(f.driver)
	if err != nil {
		return nil, nil, "", 0, badInput(err, "see 'evalrun drivers'")
	}
	provider, err := drivers.Provider(d, f.provider)
	if err != nil {
		return nil, nil, "", 0, badInput(err, "")
	}
	if err := overrideOptions(plan, f.options); err != nil {
		return nil, nil, "", 0, badInput(err, "")
	}
	if _, err := scenarios.Check(plan, d, provider); err != nil {
		hint := ""
		if len(f.options) > 0 {
			hint = "options set by --option: " + strings.Join(f.options, " ")
		}
		return nil, nil, "", 0, badInput(err, hint)
	}
	scale := 1.0
	if flagsSet("duration") {
		if f.duration <= 0 {
			return nil, nil, "", 0, badInput(fmt.Errorf("--duration must be > 0, got %v", f.duration), "")
		}
		if plan.Duration > 0 {
			scale = float64(f.duration) / float64(plan.Duration)
			plan = plan.Scaled(f.duration)
		}
	}
	if flagsSet("rate") {
		if f.rate <= 0 || f.rate > 1e6 {
			return nil, nil, "", 0, badInput(fmt.Errorf("--rate must be in (0, 1e6], got %v", f.rate), "")
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
	swept := false
	if provider == drivers.ProviderDocker {
		if err := a.sweepBeforeRun(cmd.Context()); err != nil {
			return err
		}
		swept = true // once per run: the drivers need not sweep again
	}
	runID := newRunID(plan.Name, d.Name())
	out := f.out
	if out == "" {
		out = filepath.Join("reports", runID)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return badInput(fmt.Errorf("report directory: %w", err), "pass a writable directory with --out")
	}
	hlogTmp := filepath.Join(out, ".latency.hlog.partial")
	hlog, err := os.Create(hlogTmp)
	if err != nil {
		return badInput(fmt.Errorf("report directory: %w", err), "pass a writable directory with --out")
	}

	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return badInput(fmt.Errorf("--cpuprofile: %w", err), "")
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return badInput(fmt.Errorf("--cpuprofile: %w", err), "")
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	prog := newProgress(a.stderr, a.isTerminal(), f.quiet)
	fmt.Fprintf(a.stderr, "evalrun %s: scenario %s on %s (%s, %d nodes), run %s\n", a.version, plan.Name, d.Name(), provider, plan.Cluster.Nodes, runID)
	rep, runErr := runner.Run(ctx, runner.Options{
		Plan: plan, TimeScale: scale, Driver: d, Provider: provider, Image: f.image, Swept: swept,
		RunID: runID, Version: a.version, HdrLog: hlog,
		Progress: prog.update,
		Logf:     prog.logf,
	})
	prog.done()
	interrupted := ctx.Err() != nil
	stop()

	hlogErr := hlog.Close()
	if hlogErr == nil {
		hlogErr = os.Rename(hlogTmp, filepath.Join(out, reports.FileHdrLog))
	}
	if rep == nil {
		return &exitError{code: exitRunFailed, err: runErr}
	}
	if hlogErr != nil && rep.Files.HdrLogError == "" {
		rep.Files.HdrLogError = "saving the interval log: " + hlogErr.Error()
	}
	if interrupted {
		rep.Complete = false
		rep.Incomplete = "interrupted by a signal (SIGINT/SIGTERM)"
	}
	if err := reports.WriteAll(out, rep); err != nil {
		return &exitError{code: exitRunFailed, err: fmt.Errorf("write report: %w", err)}
	}
	printSummary(a.stdout, rep)
	fmt.Fprintf(a.stdout, "report: %s\n", filepath.Join(out, "report.html"))
	switch {
	case interrupted:
		return &exitError{code: exitInterrupted, err: errors.New("interrupted; the report is marked incomplete")}
	case runErr != nil:
		return &exitError{code: exitRunFailed, err: fmt.Errorf("run did not complete: %w", runErr), hint: "the report says how far it got: " + filepath.Join(out, "report.md")}
	}
	return nil
}
