package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/evalrun/evalrun/internal/errext"
	"github.com/evalrun/evalrun/internal/runner"
	"github.com/evalrun/evalrun/internal/stats"
	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/reports/render"
)

// Files an A/B job writes beside its two set directories.
const (
	abDirA        = "a"
	abDirB        = "b"
	abFileOrder   = "ab.txt"      // what A and B are, and the order the runs ran in
	abFileCompare = "compare.txt" // the comparison as compare prints it
	abFileCompMD  = "compare.md"  // the comparison as compare --markdown prints it
)

// abFlags are the flags of evalrun ab: A's run flags, what B changes,
// and compare's flags.
type abFlags struct {
	run        runFlags
	vsOptions  []string // --vs-option NAME=VALUE: B's cluster options over A's
	vsImage    string
	vsDriver   string
	vsProvider string
	judge      judgeFlags
	markdown   bool
}

// vsArgs is B's difference from A as the flags that say it.
func (f *abFlags) vsArgs() []string {
	var args []string
	for _, kv := range f.vsOptions {
		args = append(args, "--vs-option "+kv)
	}
	for _, p := range [][2]string{{"--vs-image", f.vsImage}, {"--vs-driver", f.vsDriver}, {"--vs-provider", f.vsProvider}} {
		if p[1] != "" {
			args = append(args, p[0]+" "+p[1])
		}
	}
	return args
}

// sideB is B's run flags: A's with the --vs-* flags over them.
func (f *abFlags) sideB() runFlags {
	b := f.run
	b.options = append(slices.Clone(f.run.options), f.vsOptions...)
	if f.vsImage != "" {
		b.image = f.vsImage
	}
	if f.vsDriver != "" {
		b.driver = f.vsDriver
	}
	if f.vsProvider != "" {
		b.provider = f.vsProvider
	}
	return b
}

func (a *app) abCommand() *cobra.Command {
	var f abFlags
	cmd := &cobra.Command{
		Use:   "ab [SCENARIO]",
		Short: "Run two configurations of a scenario alternately (A B A B …) and compare the two sets",
		Long: `Run SCENARIO as A (the flags as for run) and as B (A changed by the --vs-*
flags) alternately: A, B, A, B, … --repeat times each, every run on a fresh
cluster, into OUT/a/run-1 … and OUT/b/run-1 …, each side with its set summary
(runs.json, runs.md, runs.html). Then B's set is compared with A's as
'evalrun compare OUT/a OUT/b' does; the comparison is printed and written to
OUT/compare.txt and OUT/compare.md, and OUT/ab.txt says what A and B are and
the order the runs ran in. Load on the machine that changes during the job
hits both sides alike, which two sets taken one after the other cannot offer.
Without any --vs-* flag both sides run the same configuration (an A/A job: what
it flags is noise). Run ids end in -a or -b, set ids too.

Exit codes as compare: 0 within the limits, 1 regression, 2 bad input or
nothing to compare; 3 when a run failed and nothing regressed; 130 when
interrupted (both sets are summarised, marked incomplete).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := defaultScenario
			if len(args) == 1 {
				name = args[0]
			}
			return a.runAB(cmd, name, f)
		},
	}
	fl := cmd.Flags()
	f.run.add(cmd, "target rate in ops/s of both sides (default: the scenario's)", "scale the timeline of both sides to last about this long (default: as written)")
	fl.IntVar(&f.run.repeat, "repeat", 5, "runs of each side (at least the runs the test needs at --alpha: 4 at 0.05)")
	fl.StringArrayVar(&f.vsOptions, "vs-option", nil, "B's cluster option NAME=VALUE over A's (repeatable; e.g. --vs-option semi-sync=on)")
	fl.StringVar(&f.vsImage, "vs-image", "", "B's container image (docker provider; A's is --image)")
	fl.StringVar(&f.vsDriver, "vs-driver", "", "B's database driver (A's is --driver)")
	fl.StringVar(&f.vsProvider, "vs-provider", "", "where B's cluster runs: embedded or docker (A's is --provider)")
	f.judge.add(cmd, "the comparison")
	fl.BoolVar(&f.markdown, "markdown", false, "print the comparison as Markdown (compare.md is written either way)")
	return cmd
}

// abSide is one side of an A/B job: its runs' spec and its set.
type abSide struct {
	label string // "A" or "B"
	spec  runSpec
	rec   setRecorder
}

// runAB checks both sides, then runs them alternately and compares them.
func (a *app) runAB(cmd *cobra.Command, name string, f abFlags) error {
	lim, err := f.judge.parse()
	if err != nil {
		return err
	}
	if need := stats.MinRunsEach(f.judge.alpha); f.run.repeat < need {
		return errext.BadInput(fmt.Errorf("--repeat %d is too few: the test needs at least %d runs of each side at α=%g", f.run.repeat, need, f.judge.alpha),
			fmt.Sprintf("pass --repeat %d or more", need))
	}
	sides, err := a.prepareAB(cmd, name, f)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	jobID := newRunID(sides[0].spec.plan.Name, sides[0].spec.driver.Name())
	out := f.run.out
	if out == "" {
		out = filepath.Join(defaultRunsDir, jobID+"-ab")
	}
	for i, dir := range []string{abDirA, abDirB} {
		s := &sides[i]
		s.rec = setRecorder{dir: filepath.Join(out, dir), id: jobID + "-" + dir, requested: f.run.repeat}
		if err := os.MkdirAll(s.rec.dir, 0o755); err != nil {
			return errext.BadInput(fmt.Errorf("report directory: %w", err), "pass a writable directory with --out")
		}
	}
	order := []string{
		fmt.Sprintf("evalrun ab: scenario %s, %d runs of each side, alternating A B A B …", sides[0].spec.plan.Name, f.run.repeat),
		"A: " + describeSide(sides[0].spec),
		"B: " + describeSide(sides[1].spec) + " (" + orDefault(strings.Join(f.vsArgs(), " "), "no --vs-* flag: the same as A") + ")",
	}
	stopped, stopErr := a.alternate(ctx, sides, f.run.repeat, stop, &order)
	sets := make([]*model.RunSet, 2)
	for i := range sides {
		set, err := sides[i].rec.write(stopped)
		if err != nil {
			return err
		}
		sets[i] = set
		fmt.Fprintf(a.stdout, "%s: set of %d runs: %s\nsummary: %s\n", sides[i].label, len(set.Runs), runSetLine(set), filepath.Join(sides[i].rec.dir, reports.FileRunsHTML))
	}
	if err := reports.WriteFileAtomic(filepath.Join(out, abFileOrder), []byte(strings.Join(order, "\n")+"\n")); err != nil {
		return errext.WithExitCode(fmt.Errorf("write %s: %w", abFileOrder, err), errext.ExitInternal)
	}
	if len(sets[0].Runs) == 0 || len(sets[1].Runs) == 0 {
		return abStopError(stopErr)
	}
	fmt.Fprintln(a.stdout)
	c := judge.CompareSets(sets[0], sets[1], lim, f.judge.alpha)
	for file, data := range map[string][]byte{abFileCompare: []byte(render.ComparisonText(c)), abFileCompMD: render.ComparisonMarkdown(c)} {
		if err := reports.WriteFileAtomic(filepath.Join(out, file), data); err != nil {
			return errext.WithExitCode(fmt.Errorf("write %s: %w", file, err), errext.ExitInternal)
		}
	}
	dirA, dirB := sides[0].rec.dir, sides[1].rec.dir
	cmpErr := a.finishComparison(c, f.judge.junit, f.markdown, dirA+" and "+dirB, "B ("+dirB+") regressed against A ("+dirA+")")
	failed := sides[0].rec.failed + sides[1].rec.failed
	switch {
	case stopErr != nil:
		return abStopError(stopErr)
	case cmpErr != nil:
		return cmpErr
	case failed > 0:
		return errext.WithHint(errext.WithExitCode(fmt.Errorf("%d of %d runs did not complete", failed, len(sets[0].Runs)+len(sets[1].Runs)), errext.ExitInternal),
			"each run's report says how far it got; each set counts them")
	}
	return nil
}

// abStopError is the exit error of a job stopped before its end.
func abStopError(stopErr error) error {
	if errext.ExitCodeOf(stopErr) == errext.ExitInterrupted {
		return errext.WithExitCode(errors.New("interrupted; both set summaries are marked incomplete"), errext.ExitInterrupted)
	}
	return stopErr
}

// prepareAB resolves and checks both sides before anything starts: B must
// differ from A in what each --vs-* flag says.
func (a *app) prepareAB(cmd *cobra.Command, name string, f abFlags) ([]abSide, error) {
	seen := map[string]string{}
	for _, kv := range f.vsOptions {
		n, _, ok := strings.Cut(kv, "=")
		n = strings.TrimSpace(n)
		if !ok || n == "" {
			return nil, errext.BadInput(fmt.Errorf("--vs-option %q: want NAME=VALUE, e.g. --vs-option semi-sync=on", kv), "")
		}
		if prev, dup := seen[n]; dup {
			return nil, errext.BadInput(fmt.Errorf("--vs-option %s is given twice (%s and %s)", n, prev, kv), "give each option of B once")
		}
		seen[n] = kv
	}
	changed := cmd.Flags().Changed
	planA, dA, provA, scaleA, err := a.prepare(name, f.run, changed)
	if err != nil {
		return nil, err
	}
	fb := f.sideB()
	planB, dB, provB, scaleB, err := a.prepare(name, fb, changed)
	if err != nil {
		return nil, errext.BadInput(fmt.Errorf("side B (%s): %w", strings.Join(f.vsArgs(), " "), err), errext.HintOf(err))
	}
	for _, kv := range f.vsOptions {
		n, v, _ := strings.Cut(kv, "=")
		n, v = strings.TrimSpace(n), strings.TrimSpace(v)
		if got, ok := planA.Cluster.Options[n]; ok && got == v {
			return nil, errext.BadInput(fmt.Errorf("--vs-option %s=%s: A runs %s=%s already, so B would not differ", n, v, n, got), "give B another value, or drop the flag for an A/A job")
		}
	}
	for _, same := range []struct{ flag, b, a string }{
		{"--vs-image", f.vsImage, f.run.image},
		{"--vs-driver", f.vsDriver, dA.Name()},
		{"--vs-provider", f.vsProvider, provA},
	} {
		if same.b != "" && same.b == same.a {
			return nil, errext.BadInput(fmt.Errorf("%s %s: A runs %s already, so B would not differ", same.flag, same.b, same.a), "give B another value, or drop the flag for an A/A job")
		}
	}
	if err := runner.CheckDegrades(cmd.Context(), planA, dA, provA); err != nil {
		return nil, err
	}
	if err := runner.CheckDegrades(cmd.Context(), planB, dB, provB); err != nil {
		return nil, err
	}
	if len(f.vsArgs()) == 0 {
		fmt.Fprintln(a.stderr, "evalrun: no --vs-* flag: both sides run the same configuration (an A/A job; what the comparison flags is noise)")
	}
	return []abSide{
		{label: "A", spec: runSpec{plan: planA, driver: dA, provider: provA, scale: scaleA, flags: f.run}},
		{label: "B", spec: runSpec{plan: planB, driver: dB, provider: provB, scale: scaleB, flags: fb}},
	}, nil
}

// alternate runs A, B, A, B, … repeat times each, appending each run's
// side, directory and start to order. It returns why the job stopped
// early ("" when it ran to the end) and the error to exit with; the stop
// applies to both sets.
func (a *app) alternate(ctx context.Context, sides []abSide, repeat int, stopSignals func(), order *[]string) (string, error) {
	for i := 1; i <= repeat; i++ {
		for k := range sides {
			s := &sides[k]
			dir := s.rec.nextDir()
			side := strings.ToLower(s.label)
			fmt.Fprintf(a.stderr, "evalrun: pair %d of %d, side %s\n", i, repeat, s.label)
			*order = append(*order, fmt.Sprintf("%s %s/%s started %s", s.label, side, dir, time.Now().UTC().Format(time.RFC3339Nano)))
			err := a.runOnce(ctx, s.spec, newRunID(s.spec.plan.Name, s.spec.driver.Name())+"-"+side, filepath.Join(s.rec.dir, dir), func() {
				if ctx.Err() != nil {
					stopSignals()
				}
			})
			what := fmt.Sprintf("run %d of %d of side %s", i, repeat, s.label)
			if stopped, stopErr := s.rec.record(ctx, a.stderr, what, dir, err); stopped != "" {
				return stopped, stopErr
			}
		}
	}
	return "", nil
}

// describeSide says what a side runs: driver, provider, image, options.
func describeSide(rs runSpec) string {
	s := fmt.Sprintf("%s on %s (%s)", rs.plan.Name, rs.driver.Name(), rs.provider)
	if rs.flags.image != "" {
		s += ", image " + rs.flags.image
	}
	var opts []string
	for n, v := range rs.plan.Cluster.Options {
		opts = append(opts, n+"="+v)
	}
	slices.Sort(opts)
	if len(opts) > 0 {
		s += ", options " + strings.Join(opts, " ")
	}
	return s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
