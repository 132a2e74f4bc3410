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

// failover_ms: from the step to the acknowledgement of the first write
// sent after it, on the new primary; reads, failed writes and writes sent
// before the step do not count.
func TestFaultFirstWriteAck(t *testing.T) {
	ms := time.Millisecond
	type op struct {
		op         int // 0 read, 1 write
		start, end time.Duration
		ok         bool
	}
	cases := []struct {
		name string
		ops  []op
		span Span
		want time.Duration
	}{
		{"none", []op{{1, 100 * ms, 200 * ms, false}, {0, 2100 * ms, 2110 * ms, true}}, Span{At: 2000 * ms, Until: 9000 * ms}, -1},
		{"the first ack after failed writes", []op{
			{1, 1990 * ms, 2010 * ms, true}, // sent before the step: the old primary's
			{1, 2050 * ms, 2100 * ms, true}, // sent in the step's slice: not counted
			{1, 2200 * ms, 4200 * ms, false},
			{0, 2500 * ms, 2600 * ms, true}, // a read
			{1, 3100 * ms, 3300 * ms, true}, // the first
			{1, 3000 * ms, 3500 * ms, true}, // sent earlier, acknowledged later
			{1, 3200 * ms, 3250 * ms, true}, // sent later, acknowledged earlier: the first
			{1, 9000 * ms, 9001 * ms, true}, // beyond
		}, Span{At: 2030 * ms, Until: 9000 * ms}, 1220 * ms},
		{"sent before Until only", []op{{1, 9100 * ms, 9200 * ms, true}}, Span{At: 2000 * ms, Until: 9000 * ms}, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRecorder(Config{Ops: []string{"read", "write"}, Start: time.Now(), WriteOps: []int{1}})
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range tc.ops {
				c := OK
				if !o.ok {
					c = Unavailable
				}
				r.Record(i, Outcome{Op: o.op, Intended: o.start, Start: o.start, End: o.end, Class: c})
			}
			n := Fault(r.Timeline(), nil, time.Second, 1000, tc.span, 0)
			if n.FirstWriteAck != tc.want {
				t.Errorf("first write ack = %v, want %v", n.FirstWriteAck, tc.want)
			}
		})
	}
}
