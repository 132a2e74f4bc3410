package measure

import (
	"time"

	"github.com/evalrun/evalrun/reports"
)

// Span is the stretch of the run that follows an operational step: from the
// step's start (At) to the next operational step or the end (Until).
type Span struct {
	At, Until time.Duration
}

// FaultNumbers are what an operator asks after a fault.
type FaultNumbers struct {
	// TimeToFirstError: from the step to the first slice with a failed
	// operation; -1 when none failed before Until.
	TimeToFirstError time.Duration
	// Unavailable: the longest run of consecutive slices in which no
	// operation succeeded while load was scheduled; Unavailable total in
	// UnavailableTotal.
	Unavailable, UnavailableTotal time.Duration
	// RecoveryToBaseline: from the step to the end of the last window whose
	// p99 was above the baseline limit or that had errors; 0 when none was;
	// -1 when the last window of the span was still bad.
	RecoveryToBaseline time.Duration
	// BaselineLimitUs is the p99 a window must stay under to count as recovered.
	BaselineLimitUs int64
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
func Fault(tl Timeline, windows []reports.Window, window time.Duration, baselineP99Us int64, sp Span, minSlice time.Duration) FaultNumbers {
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
	// unavailability: merged slices with no success
	k := 1
	if minSlice > tl.Slice {
		k = int((minSlice + tl.Slice - 1) / tl.Slice)
	}
	step := time.Duration(k) * tl.Slice
	var run time.Duration
	for i := first; i < len(tl.OK) && time.Duration(i)*tl.Slice < sp.Until; i += k {
		var ok int64
		for j := i; j < i+k && j < len(tl.OK); j++ {
			ok += tl.OK[j]
		}
		if ok == 0 {
			run += step
			n.UnavailableTotal += step
			if run > n.Unavailable {
				n.Unavailable = run
			}
		} else {
			run = 0
		}
	}
	// recovery to baseline p99
	lastBad, lastIn := -1, -1
	for i, w := range windows {
		ws := time.Duration(w.StartMs) * time.Millisecond
		if ws+window <= sp.At || ws >= sp.Until {
			continue
		}
		lastIn = i
		if w.Errors > 0 || w.P99Us > n.BaselineLimitUs || w.Count == 0 {
			lastBad = i
		}
	}
	switch {
	case lastBad < 0:
		n.RecoveryToBaseline = 0
	case lastBad == lastIn:
		n.RecoveryToBaseline = -1
	default:
		end := time.Duration(windows[lastBad].StartMs)*time.Millisecond + window
		n.RecoveryToBaseline = end - sp.At
	}
	return n
}
