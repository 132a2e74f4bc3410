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
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
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
	// MaxOpsPerKey bounds each key's operations; TruncatedKeys are the keys
	// that reached it, each holding the operations invoked before its
	// cutoff (a prefix of that key's history, which can still be checked).
	MaxOpsPerKey  int         `json:"max_ops_per_key,omitempty"`
	TruncatedKeys []KeyCutoff `json:"truncated_keys,omitempty"`
}

// KeyCutoff is where one key's history was cut.
type KeyCutoff struct {
	Key  int   `json:"key"`
	AtNs int64 `json:"at_ns"`
}

// MaxOpsPerKey bounds the operations held for one key. The check's memory
// grows with the square of a key's operations (porcupine keeps, for each
// state it has seen, the set of operations linearized so far: a bitset of
// them all): a key of 4,000 operations took about 4 MB, so the bound
// keeps a key's check to a few MB however long the run.
const MaxOpsPerKey = 2000

// Defaults for a scenario that says nothing.
const (
	DefaultKeys   = 64
	DefaultMaxOps = 500_000
)

// Sample returns n key indexes spread evenly over [0, keys) (all of them
// when keys <= n), the same for the same arguments: index i of n is
// floor(i*keys/n), so the sample covers the key space from its first key
// to near its last, with the same gap between neighbours (to within one).
// It is nil when keys or n is not positive.
func Sample(keys, n int) []int {
	if keys <= 0 || n <= 0 {
		return nil
	}
	if n >= keys {
		all := make([]int, keys)
		for i := range all {
			all[i] = i
		}
		return all
	}
	out := make([]int, n)
	for i := range out {
		out[i] = int(int64(i) * int64(keys) / int64(n))
	}
	return out
}

// Recorder collects the history of the sampled keys. Its methods are safe
// for concurrent use; Sampled and Add cost nothing for a key not sampled.
//
// The bound: once maxOps operations are held, the first operation that
// does not fit sets the cutoff, its invocation time. From then on an
// operation invoked at or after the cutoff is dropped (and so are those
// already held that were invoked at or after it: Ops leaves them out),
// while one invoked before it (in flight at the cutoff, at most one per
// client) is still kept, so the history is every operation invoked before
// the cutoff: a prefix that can be checked. It may hold a few more than
// maxOps operations, never more than maxOps plus the clients.
type Recorder struct {
	sampled []bool // indexed by key: O(1), no allocation
	keys    []int
	maxOps  int

	perKey    []int32 // operations held, by key
	keyCutoff []int64 // by key: > 0 once the key reached MaxOpsPerKey

	mu sync.Mutex
	// chunks hold the ops in the order added, chunkOps a chunk: growing
	// never copies what is held, nor holds twice the memory.
	chunks    [][]Op
	held      int
	truncated bool
	cutoff    int64 // when truncated: operations invoked at or after it are dropped
}

// NewRecorder records every operation on keys (indexes below total), at
// most maxOps of them (<= 0: DefaultMaxOps). Keys outside [0, total) are
// ignored, and so are repeated ones.
func NewRecorder(total int, keys []int, maxOps int) *Recorder {
	if maxOps <= 0 {
		maxOps = DefaultMaxOps
	}
	r := &Recorder{sampled: make([]bool, max(total, 0)), maxOps: maxOps}
	r.perKey = make([]int32, len(r.sampled))
	r.keyCutoff = make([]int64, len(r.sampled))
	for _, k := range keys {
		if k >= 0 && k < total && !r.sampled[k] {
			r.sampled[k] = true
			r.keys = append(r.keys, k)
		}
	}
	slices.Sort(r.keys)
	return r
}

// Keys returns the sampled key indexes, sorted (nil for a nil Recorder).
func (r *Recorder) Keys() []int {
	if r == nil {
		return nil
	}
	return slices.Clone(r.keys)
}

// Sampled reports whether key's operations are recorded. A nil Recorder
// samples nothing.
func (r *Recorder) Sampled(key int) bool {
	return r != nil && uint(key) < uint(len(r.sampled)) && r.sampled[key]
}

// Add records op (its key must be sampled; an operation on another key is
// ignored, and so is any on a nil Recorder).
func (r *Recorder) Add(op Op) {
	if !r.Sampled(op.Key) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.truncated && op.Invoke >= r.cutoff || r.cutOff(op) {
		return
	}
	if !r.truncated && r.held >= r.maxOps {
		r.truncated = true
		r.cutoff = max(op.Invoke, 1) // TruncatedAtNs > 0 says truncated
		return
	}
	if r.perKey[op.Key] >= MaxOpsPerKey && r.keyCutoff[op.Key] == 0 { // the same rule, for one key
		r.keyCutoff[op.Key] = max(op.Invoke, 1)
		return
	}
	r.perKey[op.Key]++
	if n := len(r.chunks); n == 0 || len(r.chunks[n-1]) == cap(r.chunks[n-1]) {
		r.chunks = append(r.chunks, make([]Op, 0, chunkOps))
	}
	last := &r.chunks[len(r.chunks)-1]
	*last = append(*last, op)
	r.held++
}

// inPrefix reports whether op belongs to the checkable prefix: invoked
// before its key's cutoff and the global one, and, for a get, returned
// before them too. A get still in flight at a cutoff may have seen a
// write invoked after it, which the prefix does not hold: kept, it would
// read a value from nowhere and make a linearizable history look
// otherwise (an etcd run was reported not linearizable so). A get that
// returned before the cutoff was linearized before every operation
// invoked after it, so leaving those out changes nothing it saw.
func (r *Recorder) inPrefix(op Op) bool {
	cut := int64(0) // the earliest cutoff that applies, 0: none
	if r.truncated {
		cut = r.cutoff
	}
	if c := r.keyCutoff[op.Key]; c > 0 && (cut == 0 || c < cut) {
		cut = c
	}
	if cut == 0 {
		return true
	}
	if op.Invoke >= cut {
		return false
	}
	return op.Kind != Get || op.Return < cut
}

// cutOff reports whether op's key was cut before op was invoked.
func (r *Recorder) cutOff(op Op) bool {
	c := r.keyCutoff[op.Key]
	return c > 0 && op.Invoke >= c
}

// chunkOps is the size of a Recorder's chunk (about 350 kB).
const chunkOps = 4096

// Ops returns the recorded operations ordered by Invoke (then Client, for
// the same instant), and the header that describes them. The Recorder
// keeps recording; Ops may be called again.
func (r *Recorder) Ops() (Header, []Op) {
	if r == nil {
		return Header{Schema: Schema, Keys: []int{}}, nil
	}
	r.mu.Lock()
	h := Header{Schema: Schema, Keys: slices.Clone(r.keys), MaxOps: r.maxOps, MaxOpsPerKey: MaxOpsPerKey}
	ops := make([]Op, 0, r.held)
	for _, chunk := range r.chunks {
		for _, op := range chunk {
			if r.inPrefix(op) {
				ops = append(ops, op)
			}
		}
	}
	for _, k := range r.keys {
		if c := r.keyCutoff[k]; c > 0 {
			h.TruncatedKeys = append(h.TruncatedKeys, KeyCutoff{Key: k, AtNs: c})
		}
	}
	if r.truncated {
		h.TruncatedAtNs = r.cutoff
	}
	r.mu.Unlock()
	if h.Keys == nil {
		h.Keys = []int{}
	}
	slices.SortStableFunc(ops, func(a, b Op) int {
		return cmp.Or(cmp.Compare(a.Invoke, b.Invoke), cmp.Compare(a.Client, b.Client))
	})
	h.Ops = len(ops)
	return h, ops
}

// Write writes a history as JSON lines: the header, then one Op a line.
// The header's Ops is set to len(ops) and an empty Schema to Schema.
func Write(w io.Writer, h Header, ops []Op) error {
	h.Ops = len(ops)
	if h.Schema == "" {
		h.Schema = Schema
	}
	if h.Keys == nil {
		h.Keys = []int{}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(h); err != nil {
		return fmt.Errorf("history: writing the header: %w", err)
	}
	for i := range ops {
		if err := enc.Encode(&ops[i]); err != nil {
			return fmt.Errorf("history: writing operation %d: %w", i+1, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("history: writing: %w", err)
	}
	return nil
}

// maxLine bounds a line of history.jsonl (an Op is about 150 bytes; the
// header holds the sampled keys).
const maxLine = 16 << 20

// Read reads what Write wrote; an error names the line. It refuses a
// schema of another major version (evalrun.history/v2), a line that is not
// an Op, an Op of an unknown kind or outcome, and a file whose number of
// operations is not the header's (a file cut short).
func Read(r io.Reader) (Header, []Op, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var (
		h    Header
		ops  []Op
		line int
		seen bool
	)
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if !seen {
			if err := json.Unmarshal(b, &h); err != nil {
				return Header{}, nil, fmt.Errorf("line %d: the header: %w", line, err)
			}
			if err := checkSchema(h.Schema); err != nil {
				return Header{}, nil, fmt.Errorf("line %d: %w", line, err)
			}
			seen = true
			ops = make([]Op, 0, min(max(h.Ops, 0), 1<<20))
			continue
		}
		var op Op
		if err := json.Unmarshal(b, &op); err != nil {
			return Header{}, nil, fmt.Errorf("line %d: %w", line, err)
		}
		if err := op.validate(); err != nil {
			return Header{}, nil, fmt.Errorf("line %d: %w", line, err)
		}
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		return Header{}, nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	if !seen {
		return Header{}, nil, errors.New("line 1: no header (an empty history file)")
	}
	if h.Ops != len(ops) {
		return Header{}, nil, fmt.Errorf("line %d: the header says %d operations, the file holds %d (cut short?)", line, h.Ops, len(ops))
	}
	return h, ops, nil
}

// checkSchema accepts Schema and any minor version of its major
// (evalrun.history/v1.3), and nothing else.
func checkSchema(s string) error {
	const prefix = "evalrun.history/v"
	major, _, _ := strings.Cut(strings.TrimPrefix(Schema, prefix), ".")
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return fmt.Errorf("schema %q is not a history (want %s)", s, Schema)
	}
	if got, _, _ := strings.Cut(rest, "."); got != major {
		return fmt.Errorf("schema %q: this evalrun reads %s only", s, Schema)
	}
	return nil
}

func (op *Op) validate() error {
	switch op.Kind {
	case Put, Get, Delete:
	default:
		return fmt.Errorf("unknown op %q (want put, get or delete)", op.Kind)
	}
	switch op.Outcome {
	case OK, NotFound, Unknown, Failed:
	default:
		return fmt.Errorf("unknown outcome %q", op.Outcome)
	}
	if op.Return < op.Invoke {
		return fmt.Errorf("returns (%d ns) before it is invoked (%d ns)", op.Return, op.Invoke)
	}
	return nil
}

// ReadFile reads a history.jsonl file; an error names the file and line.
func ReadFile(path string) (Header, []Op, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, nil, err // *PathError names the file
	}
	defer f.Close()
	h, ops, err := Read(f)
	if err != nil {
		return Header{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, ops, nil
}
