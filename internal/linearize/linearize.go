// Package linearize checks recorded histories (package history) for
// linearizability, key by key, with porcupine, as etcd's
// tests/robustness/validate does: each key is a register with put, get
// and delete; a put or delete whose outcome is unknown may take effect at
// any time after its invocation, or never. Each key's check has a time
// budget; a key whose check runs out of it is unknown, never OK. It also
// counts violations of session guarantees per client (monotonic reads,
// read your writes), which a database that never loses a write can still
// violate when it reads from replicas.
package linearize

import (
	"context"
	"time"

	"github.com/evalrun/evalrun/internal/history"
)

// DefaultBudget is a key's check budget when Options says none.
const DefaultBudget = 10 * time.Second

// Options bound the check.
type Options struct {
	// BudgetPerKey bounds each key's search (<= 0: DefaultBudget).
	BudgetPerKey time.Duration
	// Total bounds the whole check (<= 0: none); keys not reached are unknown.
	Total time.Duration
	// VisualizeDir, when set, receives porcupine's HTML view of each key
	// found not linearizable, as <VisualizeDir>/<key>.html.
	VisualizeDir string
	// KeyName names a key index in reports (nil: "key <index>").
	KeyName func(int) string
}

// Verdict of one key.
type Verdict string

// Verdicts.
const (
	Linearizable    Verdict = "linearizable"
	NotLinearizable Verdict = "not_linearizable"
	Unknown         Verdict = "unknown" // the budget ran out (or the check was cancelled)
)

// KeyResult is one key's verdict; Anomaly holds, for a key not
// linearizable, the operations that cannot be ordered: the longest
// linearizable prefix's last operations and the first that cannot follow
// them (porcupine's partial linearizations), at most a dozen.
type KeyResult struct {
	Key     int
	Name    string
	Ops     int
	Verdict Verdict
	Reason  string // why unknown
	Anomaly []history.Op
	// Visualization is the HTML file written for it, relative to
	// VisualizeDir's parent ("linearizability/<key>.html"); empty if none.
	Visualization string
}

// Result is the verdict over all keys.
type Result struct {
	Keys, Ops       int
	Linearizable    int
	NotLinearizable int
	Unknown         int
	// Results of the keys that are not linearizable or unknown, by key.
	Findings []KeyResult
	Sessions SessionResult
	// CPU is the check's CPU time (the process's, measured around it),
	// Wall its duration, PeakHeap the highest Go heap seen while it ran.
	CPU, Wall time.Duration
	PeakHeap  uint64
}

// Verdict over all keys: NotLinearizable when any key is, else Unknown when
// any key is, else Linearizable (also for an empty history: Keys says 0).
func (r Result) Verdict() Verdict {
	switch {
	case r.NotLinearizable > 0:
		return NotLinearizable
	case r.Unknown > 0:
		return Unknown
	}
	return Linearizable
}

// SessionResult counts session-guarantee violations per client (a client
// is a worker, which runs one operation at a time). A write precedes
// another when it was acknowledged before the other was invoked.
//   - monotonic reads: a client read a value, then (later, same key) a
//     value whose write precedes that value's write, or nothing although
//     no delete could have intervened;
//   - read your writes: a client's write was acknowledged, then its own
//     later read of the key returned a value whose write precedes it, or
//     nothing although no delete could have intervened.
type SessionResult struct {
	Clients        int
	Reads          int
	MonotonicReads int
	ReadYourWrites int
	Examples       []SessionViolation // the first few
}

// SessionViolation is one violation, with the two operations involved.
type SessionViolation struct {
	Guarantee string // "monotonic-reads" or "read-your-writes"
	Client    int
	Key       int
	First     history.Op // the earlier read (monotonic reads) or write (read your writes)
	Then      history.Op // the read that went back
}

// Check checks ops (any order; operations of every sampled key) key by key.
func Check(ctx context.Context, ops []history.Op, opts Options) (Result, error) {
	panic("linearize: not implemented")
}

// CheckSessions counts session-guarantee violations.
func CheckSessions(ops []history.Op) SessionResult { panic("linearize: not implemented") }
