package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/reports"
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
	cmd := &cobra.Command{
		Use:   "validate FILE|NAME",
		Short: "Check a scenario (and that the driver can do every step) without running it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			plan, err := scenarios.Load(args[0])
			if err != nil {
				return badInput(err, "")
			}
			d, err := a.registry.Lookup(driver)
			if err != nil {
				return badInput(err, "see 'evalrun drivers'")
			}
			p, err := drivers.Provider(d, provider)
			if err != nil {
				return badInput(err, "")
			}
			top, err := scenarios.Check(plan, d, p)
			if err != nil {
				return badInput(err, "")
			}
			fmt.Fprintf(a.stdout, "%s: ok: scenario %s, %d nodes, %d steps, planned %v, %s can run it (%s)\n",
				plan.Source, plan.Name, top.Nodes, len(plan.Steps), plan.Duration, d.Name(), p)
			return nil
		},
	}
	cmd.Flags().StringVar(&driver, "driver", "etcd", "driver whose capabilities to check against")
	cmd.Flags().StringVar(&provider, "provider", "", "provider (default: the driver's default)")
	return cmd
}

func (a *app) reportCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "report DIR/report.json",
		Short: "Re-render report.md and report.html from a report.json",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := reports.ReadJSON(args[0])
			if err != nil {
				return badInput(err, "")
			}
			dir := filepath.Dir(args[0])
			if err := reports.WriteAll(dir, rep); err != nil {
				return badInput(err, "")
			}
			fmt.Fprintf(a.stdout, "wrote %s and %s\n", filepath.Join(dir, "report.md"), filepath.Join(dir, "report.html"))
			return nil
		},
	}
}

func (a *app) compareCommand() *cobra.Command {
	var limits, junit string
	var markdown bool
	cmd := &cobra.Command{
		Use:   "compare A.json B.json",
		Short: "Compare two reports per phase and op; exit 1 when B regressed beyond the limits",
		Long: `Compare report B against report A (two runs of one database, or two databases
on one scenario). Exit codes: 0 within the limits, 1 regression, 2 bad input,
also when the reports share no scenario, phase or operation, or nothing was
checked against a limit.
Limits: p50, p90, p99, p999, max, throughput (percent), errors (percentage
points of error rate), lost (count), e.g. --max-regression p99=10%,throughput=5%.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			lim, err := reports.ParseLimits(limits)
			if err != nil {
				return badInput(err, "e.g. --max-regression p99=10%,throughput=5%")
			}
			ra, err := reports.ReadJSON(args[0])
			if err != nil {
				return badInput(err, "")
			}
			rb, err := reports.ReadJSON(args[1])
			if err != nil {
				return badInput(err, "")
			}
			c := reports.Compare(ra, rb, lim)
			if junit != "" {
				x, err := c.JUnit()
				if err == nil {
					err = reports.WriteFileAtomic(junit, x)
				}
				if err != nil {
					return badInput(fmt.Errorf("--junit %s: %w", junit, err), "")
				}
			}
			if markdown {
				_, _ = a.stdout.Write(c.Markdown())
			} else {
				fmt.Fprint(a.stdout, c.Text())
			}
			if c.Incomparable != "" {
				return badInput(fmt.Errorf("nothing to compare in %s and %s: %s", args[0], args[1], c.Incomparable),
					"compare two runs of one scenario: the same phases and operations")
			}
			if c.Regressed() {
				return &exitError{code: exitRegression, err: fmt.Errorf("%s regressed against %s", args[1], args[0])}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&limits, "max-regression", "", "allowed regressions (default p99=10%,throughput=5%,lost=0)")
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print the comparison as Markdown (for a CI comment)")
	cmd.Flags().StringVar(&junit, "junit", "", "also write the comparison as a JUnit XML report to this file (a test case per checked metric)")
	return cmd
}
