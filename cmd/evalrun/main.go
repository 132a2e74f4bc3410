// Command evalrun evaluates a distributed database under operational
// faults: it starts a cluster, drives an open-loop workload, runs a
// scenario's timeline of faults and operations, and writes comparable
// reports. See README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	goredis "github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/drivers/etcd"
	"github.com/evalrun/evalrun/drivers/mariadb"
	"github.com/evalrun/evalrun/drivers/mem"
	"github.com/evalrun/evalrun/drivers/redis"
	"github.com/evalrun/evalrun/drivers/riak"
	"github.com/evalrun/evalrun/internal/errext"
)

// version is set with -ldflags "-X main.version=..." by release builds.
var version = ""

func evalrunVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			return "dev-" + rev + dirty
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
	}
	return "dev"
}

// app is what the commands share; tests build their own.
type app struct {
	stdout, stderr io.Writer
	registry       *drivers.Registry
	version        string
	isTerminal     func() bool
}

func newApp(stdout, stderr io.Writer) (*app, error) {
	reg, err := drivers.NewRegistry(etcd.New(), redis.New(), riak.New(), mariadb.New(), mem.New())
	if err != nil {
		return nil, err
	}
	return &app{stdout: stdout, stderr: stderr, registry: reg, version: evalrunVersion(), isTerminal: stderrIsTerminal}, nil
}

func main() {
	// go-redis logs every failed dial process-wide; during a kill that is a
	// line per attempt over the progress line. Errors reach the report anyway.
	goredis.SetLogger(quietLogger{})
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// run executes the command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(stderr, "evalrun: internal error: %v (please report it)\n%s", p, debug.Stack())
			code = int(errext.ExitInternal)
		}
	}()
	a, err := newApp(stdout, stderr)
	if err != nil {
		return exitCode(stderr, err)
	}
	return a.execute(args)
}

// execute runs the command line on a and returns the exit code.
func (a *app) execute(args []string) int {
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	return exitCode(a.stderr, root.ExecuteContext(context.Background())) // every command's cmd.Context() is set
}

// exitCode prints err and its hint and returns its exit code: the one
// place where an error becomes an exit code (errext.ExitCodeOf). An error
// no layer classified is an internal one.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return int(errext.ExitOK)
	}
	fmt.Fprintf(stderr, "evalrun: %v\n", err)
	if hint := errext.HintOf(err); hint != "" {
		fmt.Fprintf(stderr, "  hint: %s\n", hint)
	}
	return int(errext.ExitCodeOf(err))
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "evalrun",
		Short:         "Evaluate a distributed database under node loss, rebalance and backup/restore",
		Long:          "evalrun starts a real cluster, drives an open-loop workload at it while a scenario kills, stops,\nadds or removes nodes or takes backups, and writes comparable reports (JSON, Markdown, HTML).",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       a.version,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(a.runCommand(), a.abCommand(), a.capacityCommand(), a.scenariosCommand(), a.driversCommand(), a.validateCommand(), a.reportCommand(), a.compareCommand(), a.historyCommand(), a.checkCommand(), a.cleanCommand(), a.imagesCommand())
	// An unknown command fails root's Args (bad input) instead of cobra's
	// lookup, whose error says no kind; evalrun alone prints the help.
	root.Args = cobra.NoArgs
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	usageIsBadInput(root)
	return root
}

// usageIsBadInput marks cobra's own errors (an unknown command or flag,
// wrong arguments) as bad input, with a hint to the help; every other
// error a command returns says its own kind, or is internal.
func usageIsBadInput(c *cobra.Command) {
	usage := func(err error) error { return errext.BadInput(err, "see '"+c.CommandPath()+" --help'") }
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usage(err) })
	if args := c.Args; args != nil {
		c.Args = func(cmd *cobra.Command, a []string) error { return usage(args(cmd, a)) }
	}
	for _, sub := range c.Commands() {
		usageIsBadInput(sub)
	}
}
