package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/internal/runner"
)

func TestProgressPlannedLength(t *testing.T) {
	for _, tc := range []struct {
		name      string
		openEnded bool
		elapsed   time.Duration
		want      string
	}{
		{"plan bounded by its sleeps", false, 12 * time.Second, "12s/60s"},
		{"plan with waits on the cluster", true, 825 * time.Second, "825s/≥60s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			p := newProgress(&out, false, false, tc.openEnded)
			p.update(runner.Status{Phase: "baseline", Elapsed: tc.elapsed, Planned: 60 * time.Second})
			if got := strings.Fields(out.String()); len(got) == 0 || got[0] != tc.want {
				t.Errorf("progress line %q, want it to start with %q", out.String(), tc.want)
			}
		})
	}
}
