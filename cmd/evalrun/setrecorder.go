package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/evalrun/evalrun/internal/errext"
	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/reports/render"
)

// interruptedReason is why a set stopped at Ctrl-C (its summary says it).
const interruptedReason = "interrupted by a signal (SIGINT/SIGTERM)"

// setRecorder collects the runs of one set (run --repeat, a side of ab)
// as they finish, and summarises them into the set's directory.
type setRecorder struct {
	dir, id   string
	requested int
	entries   []model.RunEntry
	failed    int // runs that did not complete (kept and counted)
}

// record adds the run in the set's directory runDir, whose runOnce
// returned err; what names it in messages ("run 2 of 5"). A failed run is
// kept and counted. It returns why the set must stop ("" to go on) and
// the error to exit with: Ctrl-C, or an error the next runs would hit too
// (bad input, Docker gone).
func (s *setRecorder) record(ctx context.Context, stderr io.Writer, what, runDir string, err error) (stopped string, stopErr error) {
	e := model.RunEntry{Dir: runDir}
	switch {
	case err == nil:
	case errext.ExitCodeOf(err) == errext.ExitInternal:
		s.failed++
		e.Error = err.Error()
		fmt.Fprintf(stderr, "evalrun: %s failed: %v (kept in the set)\n", what, err)
	case ctx.Err() != nil:
		stopped, stopErr = interruptedReason, err
	default: // bad input, Docker gone: the next runs would fail the same way
		e.Error = err.Error()
		stopped, stopErr = "stopped: "+oneLineErr(err), err
	}
	s.entries = append(s.entries, e)
	if stopped == "" && ctx.Err() != nil {
		stopped, stopErr = interruptedReason, errext.WithExitCode(errors.New("interrupted"), errext.ExitInterrupted)
	}
	return stopped, stopErr
}

// write summarises the recorded runs (runs.json, runs.md, runs.html),
// marked incomplete with stopped when it is not "".
func (s *setRecorder) write(stopped string) (*model.RunSet, error) {
	set, err := judge.BuildRunSet(s.dir, s.id, s.requested, s.entries, stopped)
	if err != nil {
		return nil, errext.WithExitCode(fmt.Errorf("summarise the runs: %w", err), errext.ExitInternal)
	}
	if err := render.WriteRunSet(s.dir, set); err != nil {
		return nil, errext.WithExitCode(fmt.Errorf("write the run set: %w", err), errext.ExitInternal)
	}
	return set, nil
}

// nextDir is the directory name of the set's next run (run-1, run-2, …).
func (s *setRecorder) nextDir() string { return reports.RunDirName(len(s.entries) + 1) }
