package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/errext"
	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/render"
	"github.com/evalrun/evalrun/scenarios"
)

func (a *app) scenariosCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "scenarios",
		Short: "List the built-in scenarios",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			for _, s := range scenarios.Builtins() {
				fmt.Fprintf(tw, "%s\t%s\n", s.Name, s.Description)
			}
			return tw.Flush()
		},
	}
}

func (a *app) driversCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "drivers",
		Short: "List the database drivers, their providers and capabilities",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			for _, name := range a.registry.Names() {
				d, _ := a.registry.Lookup(name)
				fmt.Fprintf(tw, "%s\t%s\n", name, d.Description())
				// every provider: what a cluster can do depends on where it runs
				for i, p := range d.Providers() {
					top, err := d.Plan(p, 3, nil)
					if err != nil {
						fmt.Fprintf(tw, "\t  %s\t%v\n", p, err)
						continue
					}
					var caps []string
					for _, c := range top.Capabilities {
						caps = append(caps, string(c))
					}
					def := ""
					if i == 0 {
						def = " (default)"
					}
					roles := "roles: " + strings.Join(top.Roles, " ")
					if len(top.Roles) == 0 {
						roles = "no roles"
					}
					if len(top.BackupMethods) > 0 {
						roles += "; backup methods: " + strings.Join(top.BackupMethods, " ")
					}
					fmt.Fprintf(tw, "\t  %s%s\tcan: %s; %s\n", p, def, strings.Join(caps, " "), roles)
				}
			}
			return tw.Flush()
		},
	}
}

func (a *app) validateCommand() *cobra.Command {
	var driver, provider string
	var options []string
	cmd := &cobra.Command{
		Use:   "validate FILE|NAME",
		Short: "Check a scenario (and that the driver can do every step) without running it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			plan, err := scenarios.Load(args[0])
			if err != nil {
				return errext.BadInput(err, "")
			}
			d, err := a.registry.Lookup(driver)
			if err != nil {
				return errext.BadInput(err, "see 'evalrun drivers'")
			}
			p, err := drivers.Provider(d, provider)
			if err != nil {
				return errext.BadInput(err, "")
			}
			if err := overrideOptions(plan, options); err != nil {
				return errext.BadInput(err, "")
			}
			top, err := scenarios.Check(plan, d, p)
			if err != nil {
				hint := ""
				if len(options) > 0 {
					hint = "options set by --option: " + strings.Join(options, " ")
				}
				return errext.BadInput(err, hint)
			}
			fmt.Fprintf(a.stdout, "%s: ok: scenario %s, %d nodes, %d steps, planned %v, %s can run it (%s)\n",
				plan.Source, plan.Name, top.Nodes, len(plan.Steps), plan.Duration, d.Name(), p)
			return nil
		},
	}
	cmd.Flags().StringVar(&driver, "driver", "etcd", "driver whose capabilities to check against")
	cmd.Flags().StringVar(&provider, "provider", "", "provider (default: the driver's default)")
	cmd.Flags().StringArrayVar(&options, "option", nil, "cluster option NAME=VALUE over the scenario's cluster.options, as run takes it")
	return cmd
}

func (a *app) reportCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "report DIR/report.json | SETDIR",
		Short: "Re-render report.md and report.html from a report.json, or summarise a set directory again",
		Long: `Re-render report.md and report.html from a report.json. Given the directory
of a set of runs (run --repeat: run-1 … run-N), summarise it again from the
runs' reports and write runs.json, runs.md and runs.html.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if st, err := os.Stat(args[0]); err == nil && st.IsDir() {
				set, err := judge.RebuildRunSet(args[0])
				if err != nil {
					return errext.BadInput(err, "pass a report.json or the directory run --repeat wrote")
				}
				if err := render.WriteRunSet(args[0], set); err != nil {
					return errext.BadInput(err, "")
				}
				fmt.Fprintf(a.stdout, "wrote %s, %s and %s (%d runs: %s)\n", filepath.Join(args[0], reports.FileRunsJSON),
					filepath.Join(args[0], reports.FileRunsMarkdown), filepath.Join(args[0], reports.FileRunsHTML), len(set.Runs), runSetLine(set))
				return nil
			}
			rep, err := reports.ReadJSON(args[0])
			if err != nil {
				return errext.BadInput(err, "")
			}
			dir := filepath.Dir(args[0])
			if err := render.WriteAll(dir, rep); err != nil {
				return errext.BadInput(err, "")
			}
			fmt.Fprintf(a.stdout, "wrote %s and %s\n", filepath.Join(dir, "report.md"), filepath.Join(dir, "report.html"))
			return nil
		},
	}
}

func (a *app) compareCommand() *cobra.Command {
	var jf judgeFlags
	var markdown bool
	cmd := &cobra.Command{
		Use:   "compare A B",
		Short: "Compare two reports or two sets of runs; exit 1 when B regressed beyond the limits",
		Long: `Compare B against A (two runs of one database, or two databases on one
scenario). A and B are each a report.json, a runs.json (run --repeat), or a
directory: a set, a run, or a directory of run directories.

One report against one: each metric against its limit, as measured.
Sets (or a set against a report): per metric the medians of the runs, the
Mann-Whitney U test and the confidence interval of the shift, as benchstat
does; a metric regresses only when its change is significant at --alpha AND
beyond its limit. With too few runs for the test to reach --alpha the metric
is inconclusive (not a regression; the output says how many runs it needs).
Lost and stale keys are not statistical: any increase in any run is a
regression.

Exit codes: 0 within the limits, 1 regression, 2 bad input, also when the
reports share no scenario, phase or operation, or nothing was checked
against a limit.
Limits: p50, p90, p99, p999, max, throughput (percent), errors (percentage
points of error rate), lost (count), e.g. --max-regression p99=10%,throughput=5%.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			lim, err := jf.parse()
			if err != nil {
				return err
			}
			ra, sa, err := judge.ReadInput(args[0])
			if err != nil {
				return errext.BadInput(err, "")
			}
			rb, sb, err := judge.ReadInput(args[1])
			if err != nil {
				return errext.BadInput(err, "")
			}
			var c *judge.Comparison
			if ra != nil && rb != nil {
				c = judge.Compare(ra, rb, lim)
			} else {
				if sa == nil {
					sa = judge.SetOfReports(args[0], ra)
				}
				if sb == nil {
					sb = judge.SetOfReports(args[1], rb)
				}
				c = judge.CompareSets(sa, sb, lim, jf.alpha)
			}
			return a.finishComparison(c, jf.junit, markdown, fmt.Sprintf("%s and %s", args[0], args[1]), args[1]+" regressed against "+args[0])
		},
	}
	jf.add(cmd, "the comparison")
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print the comparison as Markdown (for a CI comment)")
	return cmd
}

// finishComparison writes the JUnit file, prints the comparison and
// turns its verdict into the exit code: 2 incomparable, 1 regression.
func (a *app) finishComparison(c *judge.Comparison, junit string, markdown bool, what, regressed string) error {
	if err := writeJUnit(junit, func() ([]byte, error) { return render.ComparisonJUnit(c) }); err != nil {
		return err
	}
	if markdown {
		_, _ = a.stdout.Write(render.ComparisonMarkdown(c))
	} else {
		fmt.Fprint(a.stdout, render.ComparisonText(c))
	}
	if c.Incomparable != "" {
		return errext.BadInput(fmt.Errorf("nothing to compare in %s: %s", what, c.Incomparable),
			"compare two runs of one scenario: the same phases and operations")
	}
	if c.Regressed() {
		return errext.WithExitCode(errors.New(regressed), errext.ExitRegression)
	}
	return nil
}

func (a *app) historyCommand() *cobra.Command {
	var jf judgeFlags
	var out string
	var last int
	cmd := &cobra.Command{
		Use:   "history DIR...",
		Short: "Trend of every scenario across nights; exit 1 when the latest night regressed against the last K",
		Long: `Read every run set (runs.json) and every report under the directories (one
per night), order them by run start, and write history.html (offline, SVG)
and history.md into --out: per scenario the trend of the headline metrics
(p99 per phase and op, throughput, unavailability per fault, lost and stale
keys), the band of the last --last nights and the latest night's verdict
against it (the statistics of 'compare' on sets). Nights where a metric
changed significantly are ringed on the plots.
Exit codes as compare: 0 ok, 1 the latest night regressed, 2 bad input or
nothing to judge it by.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lim, err := jf.parse()
			if err != nil {
				return err
			}
			if last < 1 {
				return errext.BadInput(fmt.Errorf("--last must be at least 1, got %d", last), "")
			}
			nights, err := judge.ReadNights(args)
			if err != nil {
				return errext.BadInput(err, "")
			}
			if len(nights) == 0 {
				return errext.BadInput(fmt.Errorf("no runs.json or report.json under %s", strings.Join(args, ", ")), "pass the directories the nightly runs wrote into")
			}
			h := judge.BuildHistory(nights, last, lim, jf.alpha)
			if err := os.MkdirAll(out, 0o755); err != nil {
				return errext.BadInput(fmt.Errorf("--out: %w", err), "")
			}
			page, err := render.HistoryHTML(h)
			if err != nil {
				return errext.WithExitCode(err, errext.ExitInternal)
			}
			md := render.HistoryMarkdown(h)
			for name, data := range map[string][]byte{"history.html": page, "history.md": md} {
				if err := reports.WriteFileAtomic(filepath.Join(out, name), data); err != nil {
					return errext.BadInput(err, "pass a writable directory with --out")
				}
			}
			if err := writeJUnit(jf.junit, func() ([]byte, error) { return render.HistoryJUnit(h) }); err != nil {
				return err
			}
			for _, s := range h.Scenarios {
				verdict := "first night: no band yet"
				if s.Verdict != nil {
					verdict = s.Verdict.VerdictLine()
				}
				fmt.Fprintf(a.stdout, "%s: %d night(s): %s\n", s.Name, len(s.Nights), verdict)
			}
			fmt.Fprintf(a.stdout, "history: %s\n", filepath.Join(out, "history.html"))
			if why := h.Incomparable(); why != "" {
				return errext.BadInput(fmt.Errorf("cannot judge the latest night: %s", why), "the nights of one scenario must share phases and operations")
			}
			if h.Regressed() {
				return errext.WithExitCode(errors.New("the latest night regressed against the band"), errext.ExitRegression)
			}
			return nil
		},
	}
	jf.add(cmd, "the latest verdicts")
	cmd.Flags().StringVar(&out, "out", ".", "directory for history.html and history.md")
	cmd.Flags().IntVar(&last, "last", 7, "nights in the band the latest night is judged against")
	return cmd
}

// judgeFlags are the flags of the commands that judge a regression.
type judgeFlags struct {
	limits, junit string
	alpha         float64
}

func (jf *judgeFlags) add(cmd *cobra.Command, what string) {
	cmd.Flags().StringVar(&jf.limits, "max-regression", "", "allowed regressions (default p99=10%,throughput=5%,lost=0)")
	cmd.Flags().StringVar(&jf.junit, "junit", "", "also write "+what+" as a JUnit XML report to this file (a test case per checked metric)")
	cmd.Flags().Float64Var(&jf.alpha, "alpha", judge.DefaultAlpha, "significance level of the test when comparing sets of runs")
}

func (jf *judgeFlags) parse() (judge.Limits, error) {
	lim, err := judge.ParseLimits(jf.limits)
	if err != nil {
		return nil, errext.BadInput(err, "e.g. --max-regression p99=10%,throughput=5%")
	}
	if !(jf.alpha > 0 && jf.alpha < 1) {
		return nil, errext.BadInput(fmt.Errorf("--alpha must be in (0, 1), got %v", jf.alpha), "e.g. --alpha 0.05")
	}
	return lim, nil
}

// writeJUnit writes the JUnit report render makes to path ("" = none).
func writeJUnit(path string, render func() ([]byte, error)) error {
	if path == "" {
		return nil
	}
	x, err := render()
	if err == nil {
		err = reports.WriteFileAtomic(path, x)
	}
	if err != nil {
		return errext.BadInput(fmt.Errorf("--junit %s: %w", path, err), "")
	}
	return nil
}
