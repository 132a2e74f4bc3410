package measure

import (
	"testing"
	"time"

	"github.com/evalrun/evalrun/reports/model"
)

func windowsOf(p99s ...int64) []model.Window {
	ws := make([]model.Window, len(p99s))
	for i, p := range p99s {
		ws[i] = model.Window{StartMs: int64(i) * 1000, Count: 100, P99Us: p}
		if p < 0 { // an error window
			ws[i].P99Us, ws[i].Errors = 1000, 5
		}
	}
	return ws
}

func TestFaultRecoveryToBaseline(t *testing.T) {
	const base = 2000 // µs; limit 3000
	sec := time.Second
	cases := []struct {
		name    string
		windows []model.Window
		span    Span
		want    time.Duration
	}{
		{"never degraded", windowsOf(2000, 2100, 1900, 2000), Span{0, 4 * sec}, 0},
		{"spike then back", windowsOf(2000, 9000, 50000, 2000, 2000, 2000, 2000), Span{1 * sec, 7 * sec}, 2 * sec},
		{"errors then back", windowsOf(2000, -1, -1, 2000, 2000, 2000), Span{1 * sec, 6 * sec}, 2 * sec},
		{"a good window between bad ones is not a recovery", windowsOf(2000, 9000, 2000, 9000, 2000, 2000, 2000), Span{1 * sec, 7 * sec}, 3 * sec},
		{"still bad at the end", windowsOf(2000, 9000, 9000, 9000), Span{1 * sec, 4 * sec}, -1},
		{"degrades late (after in-flight timeouts)", windowsOf(2000, 2000, 2000, -1, 2000, 2000, 2000), Span{1 * sec, 7 * sec}, 3 * sec},
		{"short good tail counts", windowsOf(2000, 9000, 2000), Span{1 * sec, 3 * sec}, 1 * sec},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := Fault(Timeline{Slice: 100 * time.Millisecond}, tc.windows, sec, base, tc.span, 0)
			if n.RecoveryToBaseline != tc.want {
				t.Errorf("recovery = %v, want %v", n.RecoveryToBaseline, tc.want)
			}
		})
	}
}

func TestFaultFirstErrorAndUnavailable(t *testing.T) {
	// 100 ms slices: ok everywhere except 1.2 s..2.0 s (no success) with
	// errors from 1.5 s.
	tl := Timeline{Slice: 100 * time.Millisecond, OK: make([]int64, 40), Errs: make([]int64, 40)}
	for i := range tl.OK {
		tl.OK[i] = 50
	}
	for i := 12; i < 20; i++ {
		tl.OK[i] = 0
	}
	for i := 15; i < 20; i++ {
		tl.Errs[i] = 3
	}
	tl.OK[25] = 0 // a second, shorter gap
	n := Fault(tl, nil, time.Second, 1000, Span{At: time.Second, Until: 4 * time.Second}, 0)
	if n.TimeToFirstError != 500*time.Millisecond {
		t.Errorf("first error = %v, want 500ms", n.TimeToFirstError)
	}
	if n.Unavailable != 800*time.Millisecond || n.UnavailableTotal != 900*time.Millisecond {
		t.Errorf("unavailable = %v (total %v), want 800ms (900ms)", n.Unavailable, n.UnavailableTotal)
	}
	// at a low rate, slices merge so a slice expects a success
	n = Fault(tl, nil, time.Second, 1000, Span{At: time.Second, Until: 4 * time.Second}, 400*time.Millisecond)
	if n.Unavailable != 800*time.Millisecond {
		t.Errorf("merged unavailable = %v, want 800ms", n.Unavailable)
	}
	// no error in the span
	n = Fault(tl, nil, time.Second, 1000, Span{At: 3 * time.Second, Until: 4 * time.Second}, 0)
	if n.TimeToFirstError != -1 {
		t.Errorf("first error = %v, want -1", n.TimeToFirstError)
	}
}
