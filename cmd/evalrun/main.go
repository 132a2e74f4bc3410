// Command evalrun evaluates a distributed database under operational
// faults: it starts a cluster, drives an open-loop workload, runs a
// scenario's timeline of faults and operations, and writes comparable
// reports. See README.md.
package main

import (
	"context"
	"errors"
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

// Exit codes. A script can tell them apart. They live here only: lower
// layers mark what kind of error they return (internal/errext).
const (
	exitOK          = 0
	exitRegression  = 1   // compare found a regression
	exitBadInput    = 2   // usage, scenario, option, driver, file errors, Docker not reachable
	exitRunFailed   = 3   // the run did not complete (its report says why)
	exitInterrupted = 130 // SIGINT/SIGTERM (the report is written, incomplete)
)

// exitError carries an exit code and a hint to the user.
type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// badInput marks an error of the command's own (a flag, an argument) as
// the user's to fix.
func badInput(err error, hint string) error {
	return &exitError{code: exitBadInput, err: err, hint: hint}
}

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
			code = exitRunFailed
		}
	}()
	a, err := newApp(stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "evalrun: %v\n", err)
		return exitRunFailed
	}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err = root.ExecuteContext(context.Background()) // every command's cmd.Context() is set
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		fmt.Fprintf(stderr, "evalrun: %v\n", ee.err)
		hint := ee.hint
		if hint == "" {
			hint = errext.HintOf(ee.err)
		}
		if hint != "" {
			fmt.Fprintf(stderr, "  hint: %s\n", hint)
		}
		return ee.code
	}
	if errext.IsBadInput(err) { // a lower layer's: a scenario, an option, Docker
		fmt.Fprintf(stderr, "evalrun: %v\n", err)
		if hint := errext.HintOf(err); hint != "" {
			fmt.Fprintf(stderr, "  hint: %s\n", hint)
		}
		return exitBadInput
	}
	// cobra's own errors: unknown command or flag, wrong arguments
	fmt.Fprintf(stderr, "evalrun: %v\n  hint: see 'evalrun --help'\n", err)
	return exitBadInput
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
	root.AddCommand(a.runCommand(), a.scenariosCommand(), a.driversCommand(), a.validateCommand(), a.reportCommand(), a.compareCommand(), a.historyCommand(), a.cleanCommand(), a.imagesCommand())
	return root
}
