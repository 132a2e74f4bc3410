package measure

import (
	"time"

	"github.com/evalrun/evalrun/reports/model"
)

// Span is the stretch of the run that follows an operational step: from the
// step's start (At) to the next operational step or the end (Until).
type Span struct {
	At, Until time.Duration
}

// recoveredRun is how many consecutive good windows make a recovery.
const recoveredRun = 3

// FaultNumbers are what an operator asks after a fault.
type FaultNumbers struct {
	// TimeToFirstError: from the step to the first slice with a failed
	// operation; -1 when none failed before Until.
	TimeToFirstError time.Duration
	// Unavailable: the longest run of consecutive slices in which no
	// operation succeeded (runs shorter than minSlice are ignored); all
	// such runs added up in UnavailableTotal.
	Unavailable, UnavailableTotal time.Duration
	// RecoveryToBaseline: from the step to the start of the first run of
	// three good windows (no errors, p99 under the baseline limit) after the
	// first bad one; 0 when no window was bad; -1 when none came before
	// Until. A run cut short by Until counts if all its windows are good.
	RecoveryToBaseline time.Duration
	// BaselineLimitUs is the p99 a window must stay under to count as recovered.
	BaselineLimitUs int64
	// FirstWriteAck: from the step to the acknowledgement of the first
	// write sent after it (a failover's failover_ms); -1 when no write
	// sent before Until was acknowledged. Writes are judged by the slice
	// they were sent in, and those sent in the slice the step began in do
	// not count: the figure may exceed the truth by up to a slice, never
	// fall short of it (a write sent just before a switchover and
	// acknowledged by the old primary is not a failover).
	FirstWriteAck time.Duration
}

// BaselineLimit is the p99 (µs) under which a window counts as back to
// baseline: 1.5 times the baseline p99, and at least 1 ms above it, so that
// sub-millisecond baselines do not make noise a failure to recover.
func BaselineLimit(baselineP99Us int64) int64 {
	lim := baselineP99Us * 3 / 2
	if lim < baselineP99Us+1000 {
		lim = baselineP99Us + 1000
	}
	return lim
}

// Fault computes the operational numbers of one fault span. minSlice is
// the smallest slice that is expected to hold a success at the target rate
// (slices are merged up to it, so a low rate does not look unavailable).
func Fault(tl Timeline, windows []model.Window, window time.Duration, baselineP99Us int64, sp Span, minSlice time.Duration) FaultNumbers {
	n := FaultNumbers{TimeToFirstError: -1, BaselineLimitUs: BaselineLimit(baselineP99Us)}
	if tl.Slice <= 0 {
		return n
	}
	// time to first error, at slice resolution
	first := int(sp.At / tl.Slice)
	for i := first; i < len(tl.Errs) && time.Duration(i)*tl.Slice < sp.Until; i++ {
		if tl.Errs[i] > 0 {
			d := time.Duration(i)*tl.Slice - sp.At
			if d < 0 {
				d = 0
			}
			n.TimeToFirstError = d
			break
		}
	}
	n.FirstWriteAck = firstWriteAck(tl, sp)
	// unavailability: runs of slices with no success; at a low rate a
	// run shorter than minSlice is an ordinary gap between operations.
	minRun := 1
	if minSlice > tl.Slice {
		minRun = int((minSlice + tl.Slice - 1) / tl.Slice)
	}
	run := 0
	flush := func() {
		if run >= minRun {
			d := time.Duration(run) * tl.Slice
			n.UnavailableTotal += d
			if d > n.Unavailable {
				n.Unavailable = d
			}
		}
		run = 0
	}
	for i := first; i < len(tl.OK) && time.Duration(i)*tl.Slice < sp.Until; i++ {
		if tl.OK[i] == 0 {
			run++
		} else {
			flush()
		}
	}
	flush()
	// recovery to baseline p99: after the first bad window (errors, no
	// operations, or p99 above the limit), the first run of recoveredRun
	// good windows; the span's last windows count when they are all good.
	var in []model.Window
	for _, w := range windows {
		ws := time.Duration(w.StartMs) * time.Millisecond
		if ws+window > sp.At && ws < sp.Until {
			in = append(in, w)
		}
	}
	bad := func(w model.Window) bool { return w.Errors > 0 || w.Count == 0 || w.P99Us > n.BaselineLimitUs }
	firstBad := -1
	for i, w := range in {
		if bad(w) {
			firstBad = i
			break
		}
	}
	n.RecoveryToBaseline = -1
	if firstBad < 0 {
		n.RecoveryToBaseline = 0
		return n
	}
	for i := firstBad + 1; i < len(in); i++ {
		good := 0
		for j := i; j < len(in) && j < i+recoveredRun && !bad(in[j]); j++ {
			good++
		}
		if good == recoveredRun || (good > 0 && i+good == len(in)) {
			d := time.Duration(in[i].StartMs)*time.Millisecond - sp.At
			if d < 0 {
				d = 0
			}
			n.RecoveryToBaseline = d
			break
		}
	}
	return n
}

// firstWriteAck is FaultNumbers.FirstWriteAck.
func firstWriteAck(tl Timeline, sp Span) time.Duration {
	best := time.Duration(-1)
	for i := int((sp.At + tl.Slice - 1) / tl.Slice); i < len(tl.FirstAck); i++ {
		sent := time.Duration(i) * tl.Slice
		if sent >= sp.Until || best >= 0 && sent >= best {
			break // a write sent later cannot be acknowledged earlier
		}
		if a := tl.FirstAck[i]; a >= 0 && (best < 0 || a < best) {
			best = a
		}
	}
	if best < 0 {
		return -1
	}
	return best - sp.At
}
