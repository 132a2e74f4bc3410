// Package history records the complete history of every operation on a
// sample of keys (stage "traffic" of a run, as in etcd's
// tests/robustness): per operation the client, the key, invoke and return
// times on the run's clock, the identity of the value written or read,
// and the outcome. The history is written as history.jsonl next to the
// report, so that a verdict of package linearize can be checked again
// from the files (evalrun check DIR).
//
// Memory is bounded: once MaxOps operations are held, operations invoked
// after that moment are no longer recorded, and the history is a prefix
// of the run's (every operation invoked before the cutoff is kept, so the
// prefix is still a history that can be checked).
package history

import (
	"io"
	"time"
)

// Schema is the value of Header.Schema (the first line of history.jsonl).
const Schema = "evalrun.history/v1"

// Kind is an operation's type.
type Kind string

// Operation kinds.
const (
	Put    Kind = "put"
	Get    Kind = "get"
	Delete Kind = "delete"
)

// Outcome is what the client learned.
type Outcome string

// Outcomes. A put or delete that failed (an error, a timeout) has an
// unknown outcome: it may have taken effect at any time after its
// invocation, or never. A get that failed tells nothing and is kept only
// for the record (the check ignores it).
const (
	OK       Outcome = "ok"
	NotFound Outcome = "not_found" // a get that found no value
	Unknown  Outcome = "unknown"   // a put or delete that failed
	Failed   Outcome = "failed"    // a get that failed
)

// Op is one operation on a sampled key. Times are nanoseconds on the run's
// clock (the same clock as the report's windows and events).
type Op struct {
	Client int   `json:"client"` // the worker that ran it: one operation at a time
	Key    int   `json:"key"`    // key index (workload.KeyName gives the database key)
	Kind   Kind  `json:"op"`
	Invoke int64 `json:"invoke_ns"`
	Return int64 `json:"return_ns"`
	// Value identifies the value: for a put the write's sequence number
	// (encoded in the value, package safety), for a get the sequence number
	// of the value read; 0 for a delete and a get that found nothing or
	// failed.
	Value uint64 `json:"value,omitempty"`
	// Foreign: a get returned a value that no write of this run made for
	// this key (it cannot be decoded, or names another key).
	Foreign bool    `json:"foreign,omitempty"`
	Outcome Outcome `json:"outcome"`
	Node    int     `json:"node,omitempty"` // the node that served it, when the driver says
}

// Header is the first line of history.jsonl.
type Header struct {
	Schema string `json:"schema"`
	RunID  string `json:"run_id,omitempty"`
	Keys   []int  `json:"keys"` // the sampled key indexes
	Ops    int    `json:"ops"`  // operations in the file
	MaxOps int    `json:"max_ops"`
	// TruncatedAtNs, when > 0: the bound was reached, and operations
	// invoked at or after this time were not recorded.
	TruncatedAtNs int64 `json:"truncated_at_ns,omitempty"`
}

// Defaults for a scenario that says nothing.
const (
	DefaultKeys   = 64
	DefaultMaxOps = 500_000
)

// Sample returns n key indexes spread evenly over [0, keys) (all of them
// when keys <= n), the same for the same arguments.
func Sample(keys, n int) []int { panic("history: not implemented") }

// Recorder collects the history of the sampled keys. Its methods are safe
// for concurrent use; Sampled and Add cost nothing for a key not sampled.
type Recorder struct{}

// NewRecorder records every operation on keys (indexes below total), at
// most maxOps of them (<= 0: DefaultMaxOps).
func NewRecorder(total int, keys []int, maxOps int) *Recorder {
	panic("history: not implemented")
}

// Sampled reports whether key's operations are recorded. A nil Recorder
// samples nothing.
func (r *Recorder) Sampled(key int) bool { return false }

// Add records op (its key must be sampled).
func (r *Recorder) Add(op Op) {}

// Ops returns the recorded operations ordered by Invoke, and the header
// that describes them.
func (r *Recorder) Ops() (Header, []Op) { panic("history: not implemented") }

// Write writes a history as JSON lines: the header, then one Op a line.
func Write(w io.Writer, h Header, ops []Op) error { panic("history: not implemented") }

// Read reads what Write wrote; an error names the line.
func Read(r io.Reader) (Header, []Op, error) { panic("history: not implemented") }

// ReadFile reads a history.jsonl file.
func ReadFile(path string) (Header, []Op, error) { panic("history: not implemented") }

var _ = time.Second
