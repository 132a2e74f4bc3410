package judge

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/model"
)

// This file judges the history check of a run (model.Consistency): a key
// found not linearizable is a safety failure, like a lost write, when the
// database promised linearizability in the run's mode; otherwise it is
// observed, as documented, and never fails the run.

// Metrics of the history check in compare, run sets and history.
const (
	// MetricNotLinearizablePromised counts the keys found not linearizable
	// although linearizability was promised (0 otherwise): gated like lost
	// keys, by the "lost" limit.
	MetricNotLinearizablePromised = "not_linearizable_promised"
	// MetricNotLinearizableObserved counts the keys found not linearizable
	// where it was not promised: shown, never a regression.
	MetricNotLinearizableObserved = "not_linearizable_observed"
	// MetricLinearizabilityUnknown counts the keys whose check ran out of
	// its budget: shown, never a regression.
	MetricLinearizabilityUnknown = "linearizability_unknown"
)

// ConsistencyFailed reports whether the history check is a safety
// failure: the runner said so, or a key was found not linearizable (or a
// session guarantee violated) although the database promised it. A nil
// check never fails.
func ConsistencyFailed(c *model.Consistency) bool {
	if c == nil {
		return false
	}
	return c.SafetyFailure ||
		(c.PromisedLinearizable && c.NotLinearizable > 0) ||
		(c.PromisedSessions && c.Sessions.MonotonicReads+c.Sessions.ReadYourWrites > 0)
}

// promisedViolations is the count of keys that make the check a safety
// failure (the not-linearizable keys when linearizability was promised).
func promisedViolations(c *model.Consistency) int {
	if c == nil || !c.PromisedLinearizable && !c.SafetyFailure {
		return 0
	}
	return c.NotLinearizable
}

// observedViolations is the count of keys found not linearizable where it
// was not promised.
func observedViolations(c *model.Consistency) int {
	if c == nil || c.PromisedLinearizable || c.SafetyFailure {
		return 0
	}
	return c.NotLinearizable
}

// promiseText names the promise in parentheses: "promised: linearizable",
// "not promised: eventual", "not promised: the driver states none".
func promiseText(c *model.Consistency) string {
	name := c.Promised
	if name == "" {
		name = "the driver states none"
	}
	if c.PromisedLinearizable {
		return "promised: " + name
	}
	return "not promised: " + name
}

// ConsistencyFailureLine is the line that names a safety failure of the
// history check ("not linearizable: 3 of 64 keys (promised:
// linearizable)"), or "" when the check did not fail.
func ConsistencyFailureLine(c *model.Consistency) string {
	if !ConsistencyFailed(c) {
		return ""
	}
	var parts []string
	if c.NotLinearizable > 0 {
		parts = append(parts, fmt.Sprintf("not linearizable: %s of %s keys (%s)", format.Count(int64(c.NotLinearizable)), format.Count(int64(c.Keys)), promiseText(c)))
	}
	if s := c.Sessions; c.PromisedSessions && s.MonotonicReads+s.ReadYourWrites > 0 {
		parts = append(parts, fmt.Sprintf("session guarantees violated: %s monotonic reads, %s read your writes (promised)",
			format.Count(int64(s.MonotonicReads)), format.Count(int64(s.ReadYourWrites))))
	}
	if len(parts) == 0 {
		parts = append(parts, "the history check failed a promised guarantee")
	}
	return strings.Join(parts, "; ")
}

// ConsistencyVerdict is the history check's verdict in one line, as the
// Markdown, the HTML page and the CLI say it; "" when the run recorded no
// history (c nil):
//
//	linearizable: yes (64 keys, 41,203 operations)
//	linearizable: no: 3 of 64 keys (promised: linearizable) → a safety failure
//	linearizable: no: 5 of 64 keys (not promised: eventual) → observed, as documented
//	linearizable: unknown: 2 keys ran out of the 10 s budget
//
// A key whose check ran out of its budget is never counted as linearizable.
func ConsistencyVerdict(c *model.Consistency) string {
	if c == nil {
		return ""
	}
	keys, ops := format.Count(int64(c.Keys)), format.Count(int64(c.Ops))
	var b strings.Builder
	switch {
	case !c.Checked:
		fmt.Fprintf(&b, "linearizable: unknown: the check was not done (the run ended before it; %s keys, %s operations recorded)", keys, ops)
	case c.NotLinearizable > 0:
		then := "observed, as documented"
		if ConsistencyFailed(c) {
			then = "a safety failure"
		}
		fmt.Fprintf(&b, "linearizable: no: %s of %s keys (%s) → %s", format.Count(int64(c.NotLinearizable)), keys, promiseText(c), then)
		if c.Unknown > 0 {
			fmt.Fprintf(&b, "; %s more unknown (%s)", format.Count(int64(c.Unknown)), budgetText(c))
		}
	case c.Unknown > 0:
		fmt.Fprintf(&b, "linearizable: unknown: %s of %s keys %s; the other %s linearizable (%s operations)",
			format.Count(int64(c.Unknown)), keys, budgetText(c), format.Count(int64(c.Linearizable)), ops)
	case c.Keys == 0:
		b.WriteString("linearizable: yes (an empty history: no operation on a sampled key)")
	default:
		fmt.Fprintf(&b, "linearizable: yes (%s keys, %s operations)", keys, ops)
	}
	if c.Truncated {
		b.WriteString("; truncated: the history holds only the operations invoked before " + format.Offset(c.TruncatedAtMs))
	}
	if ConsistencyFailed(c) && c.NotLinearizable == 0 {
		b.WriteString("; " + ConsistencyFailureLine(c) + " → a safety failure")
	}
	return b.String()
}

// budgetText: "ran out of the 10 s budget" (the budget per key).
func budgetText(c *model.Consistency) string {
	if c.BudgetPerKeyMs <= 0 {
		return "ran out of their budget"
	}
	return "ran out of the " + budgetDuration(c.BudgetPerKeyMs) + " budget"
}

// budgetDuration writes a budget in whole seconds when it is one ("10 s"),
// else in milliseconds.
func budgetDuration(ms int64) string {
	if ms%1000 == 0 {
		return strconv.FormatInt(ms/1000, 10) + " s"
	}
	return time.Duration(ms * int64(time.Millisecond)).String()
}

// ReportSafetyVerdict is SafetyVerdict with the history check: a promised
// violation fails the run as a lost write does (the second result), and
// its line names it. DATA LOSS keeps its place first; a run whose only
// failure is the history check says NOT LINEARIZABLE instead of OK or
// STALE READS. A violation not promised does not change the verdict (the
// consistency line says "observed, as documented").
func ReportSafetyVerdict(r *model.Report) (string, bool) {
	line, loss := SafetyVerdict(r.Safety, r.Phases)
	if !ConsistencyFailed(r.Consistency) {
		return line, loss
	}
	failure := ConsistencyFailureLine(r.Consistency)
	if !loss {
		for _, prefix := range []string{"OK — ", "STALE READS — "} {
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				line = "NOT LINEARIZABLE — " + rest
				break
			}
		}
	}
	return line + "; " + failure, true
}

// compareConsistency compares the history checks of a and b: a promised
// violation is gated like lost keys (by the "lost" limit), an observed
// one and unknown keys are shown only; B unknown where A was
// linearizable is a note, not a regression.
func (c *Comparison) compareConsistency(a, b *model.Consistency, lim Limits) {
	if a == nil && b == nil {
		return
	}
	switch {
	case a == nil:
		c.note("only B checked a history for linearizability")
	case b == nil:
		c.note("only A checked a history for linearizability")
	}
	limit, has := lim["lost"]
	unknown := func(x *model.Consistency) int {
		if x == nil {
			return 0
		}
		return x.Unknown
	}
	for _, f := range []struct {
		name   string
		va, vb int
		check  bool
	}{
		{MetricNotLinearizablePromised, promisedViolations(a), promisedViolations(b), true},
		{MetricNotLinearizableObserved, observedViolations(a), observedViolations(b), false},
		{MetricLinearizabilityUnknown, unknown(a), unknown(b), false},
	} {
		c.addSafety(keysMetric(f.name, int64(f.va), int64(f.vb), limit, f.check && has && a != nil && b != nil))
	}
	if a != nil && b != nil && a.Checked && a.Verdict == "linearizable" && b.Verdict == "unknown" {
		c.note("B's linearizability is unknown (%d keys ran out of their budget or were not checked) where A was linearizable: not a regression, but not a proof either", b.Unknown)
	}
}

// consistencyMetrics are the run-set metrics of a report's history check
// (none when it recorded no history).
func consistencyMetrics(c *model.Consistency) []struct {
	name string
	v    int
} {
	if c == nil {
		return nil
	}
	return []struct {
		name string
		v    int
	}{
		{MetricNotLinearizablePromised, promisedViolations(c)},
		{MetricNotLinearizableObserved, observedViolations(c)},
		{MetricLinearizabilityUnknown, c.Unknown},
	}
}
