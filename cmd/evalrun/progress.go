package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/evalrun/evalrun/internal/runner"
)

func stderrIsTerminal() bool { return term.IsTerminal(int(os.Stderr.Fd())) }

// progress shows one live line on a terminal (a progressbar whose
// description carries phase, ops/s, p99 and errors), and a plain line every
// 10 s otherwise (CI logs).
type progress struct {
	w        io.Writer
	terminal bool
	quiet    bool
	mu       sync.Mutex
	bar      *progressbar.ProgressBar
	lastLine time.Time
	// planned prefixes the planned length: "≥" when the scenario has steps
	// that wait on the cluster (its time then counts none of their waits).
	planned string
}

const plainEvery = 10 * time.Second

func newProgress(w io.Writer, terminal, quiet, openEnded bool) *progress {
	p := &progress{w: w, terminal: terminal, quiet: quiet}
	if openEnded {
		p.planned = "≥"
	}
	return p
}

// elapsedText is "12s/60s", or "825s/≥60s" when the plan's length is a
// lower bound.
func (p *progress) elapsedText(s runner.Status) string {
	return fmt.Sprintf("%.0fs/%s%.0fs", s.Elapsed.Seconds(), p.planned, s.Planned.Seconds())
}

func statusText(s runner.Status) string {
	step := ""
	if s.Step != "" {
		step = " [" + s.Step + "]"
	}
	return fmt.Sprintf("%-10s %5.0f ops/s  p99 %-8s err %d%s", s.Phase, s.Rate, fmtDur(s.P99), s.Errors, step)
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
}

func (p *progress) update(s runner.Status) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminal {
		if p.bar == nil {
			p.bar = progressbar.NewOptions64(s.Planned.Milliseconds(),
				progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetWidth(20),
				progressbar.OptionSetElapsedTime(false),
				progressbar.OptionSetPredictTime(false),
				progressbar.OptionShowDescriptionAtLineEnd(),
				progressbar.OptionClearOnFinish(),
				progressbar.OptionThrottle(200*time.Millisecond),
			)
		}
		p.bar.Describe(p.elapsedText(s) + "  " + statusText(s))
		ms := s.Elapsed.Milliseconds()
		if max := p.bar.GetMax64(); ms >= max {
			ms = max - 1 // waits (settling, restore) can outlast the plan
		}
		_ = p.bar.Set64(ms)
		return
	}
	if time.Since(p.lastLine) < plainEvery {
		return
	}
	p.lastLine = time.Now()
	fmt.Fprintf(p.w, "%10s  %s\n", p.elapsedText(s), statusText(s))
}

func (p *progress) logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintf(p.w, "  "+format+"\n", args...)
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Clear()
		p.bar = nil
	}
}
