// Package safety remembers every write the database acknowledged (by key and
// value identity, never the value itself) and checks what the database
// returns against it: lost writes (an acknowledged key reads as not found),
// stale values (a value older than one that was acknowledged before the
// write of the value read... see Ledger), and not-found reads during the run.
//
// Values carry their own identity: the first 16 bytes of every value the
// workload writes are a magic tag, the key index and a sequence number that
// grows with each write issued (Encode/Decode).
//
// The rule for "stale" is real-time order: if write A was acknowledged
// before write B was issued, and B was acknowledged, a later read must not
// return A. Concurrent writes (overlapping in time) may end in either order,
// and a write whose outcome is unknown (it failed or timed out) may or may
// not have taken effect; both are accepted.
package safety

import (
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ValueHeader is the number of bytes at the start of a value that carry its identity.
const ValueHeader = 16

const magic uint32 = 0xE7A1_0001

// Encode writes the identity of write seq of key into buf[:ValueHeader] and a
// cheap deterministic filler into the rest (eight bytes per xorshift step:
// a write's value costs the load generator about 0.1 µs per KB). len(buf)
// must be >= ValueHeader.
func Encode(buf []byte, key int, seq uint64) {
	binary.BigEndian.PutUint32(buf[0:4], magic)
	binary.BigEndian.PutUint32(buf[4:8], uint32(key))
	binary.BigEndian.PutUint64(buf[8:16], seq)
	x := seq*0x9E3779B97F4A7C15 + uint64(key) | 1
	i := ValueHeader
	for ; i+8 <= len(buf); i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(buf[i:], x)
	}
	for ; i < len(buf); i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		buf[i] = byte(x)
	}
}

// ErrForeign: a value not written by evalrun (or for another key).
var ErrForeign = errors.New("value was not written by this run for this key")

// Decode returns the key index and sequence carried by a value.
func Decode(v []byte) (key int, seq uint64, err error) {
	if len(v) < ValueHeader || binary.BigEndian.Uint32(v[0:4]) != magic {
		return 0, 0, ErrForeign
	}
	return int(binary.BigEndian.Uint32(v[4:8])), binary.BigEndian.Uint64(v[8:16]), nil
}

const stripes = 256

const pending = int64(1<<63 - 1) // ack time of a write not (yet) acknowledged

// Ledger tracks writes per key. All methods are safe for concurrent use.
// Times are offsets on the run clock (nanoseconds since its start).
type Ledger struct {
	keys  []keyState
	locks [stripes]sync.Mutex
	seq   atomic.Uint64

	ackedWrites   atomic.Int64
	notFoundReads atomic.Int64
	staleReads    atomic.Int64
	// keepUnknown: a write of unknown outcome stays a possible final value
	// until an acknowledged write was issued this long after it.
	keepUnknown int64

	cpMu sync.Mutex
	cp   *Checkpoint // open checkpoint, if any
}

type keyState struct {
	acked     bool  // some write or delete was acknowledged
	maxInvoke int64 // latest issue time of an acknowledged write
	cands     []cand
}

// cand is a write that may be the key's current value.
type cand struct {
	seq    uint64
	invoke int64
	ack    int64 // pending while in flight; unknown outcome: -1
	tomb   bool  // a delete
}

const unknown = int64(-1)

// New returns a ledger for keys keys. keepUnknown bounds how long a write
// of unknown outcome is still accepted as a possible value (a few op
// timeouts is right).
func New(keys int, keepUnknown time.Duration) *Ledger {
	return &Ledger{keys: make([]keyState, keys), keepUnknown: int64(keepUnknown)}
}

// Keys returns the key count.
func (l *Ledger) Keys() int { return len(l.keys) }

// Begin registers a write (or delete when tomb) of key issued at invoke and
// returns its sequence number, to be encoded in the value.
func (l *Ledger) Begin(key int, tomb bool, invoke time.Duration) uint64 {
	seq := l.seq.Add(1)
	mu := &l.locks[key%stripes]
	mu.Lock()
	ks := &l.keys[key]
	ks.cands = append(ks.cands, cand{seq: seq, invoke: int64(invoke), ack: pending, tomb: tomb})
	mu.Unlock()
	if cp := l.checkpoint(); cp != nil {
		cp.touch(key, tomb)
	}
	return seq
}

// End records the outcome of write seq of key: acknowledged at end, or of
// unknown outcome (it failed: it may still have been applied).
func (l *Ledger) End(key int, seq uint64, acked bool, end time.Duration) {
	mu := &l.locks[key%stripes]
	mu.Lock()
	defer mu.Unlock()
	ks := &l.keys[key]
	i := ks.find(seq)
	if i < 0 {
		return
	}
	c := &ks.cands[i]
	if !acked {
		c.ack = unknown
		return
	}
	l.ackedWrites.Add(1)
	c.ack = int64(end)
	if !ks.acked || c.invoke > ks.maxInvoke {
		ks.maxInvoke = c.invoke
	}
	ks.acked = true
	ks.prune(l.keepUnknown)
}

func (ks *keyState) find(seq uint64) int {
	for i := range ks.cands {
		if ks.cands[i].seq == seq {
			return i
		}
	}
	return -1
}

// prune drops candidates that can no longer be the current value: writes
// acknowledged before the latest acknowledged write was issued, and writes
// of unknown outcome issued well before it.
func (ks *keyState) prune(keepUnknown int64) {
	out := ks.cands[:0]
	for _, c := range ks.cands {
		switch {
		case c.ack == pending:
		case c.ack == unknown:
			if c.invoke+keepUnknown < ks.maxInvoke {
				continue
			}
		case c.ack < ks.maxInvoke:
			continue
		}
		out = append(out, c)
	}
	ks.cands = out
}

// NotFoundRead notes a read of key, issued at invoke, that found nothing.
// It returns true and counts it when an acknowledged write of key completed
// before the read was issued and no delete of key may have happened since.
func (l *Ledger) NotFoundRead(key int, invoke time.Duration) bool {
	mu := &l.locks[key%stripes]
	mu.Lock()
	defer mu.Unlock()
	ks := &l.keys[key]
	if !ks.missingIsWrong(int64(invoke)) {
		return false
	}
	l.notFoundReads.Add(1)
	return true
}

// ReadMark is what a read during the run is judged against: the key's
// possible current values as the read was issued. A worker keeps one and
// reuses it, so marking a read does not allocate.
type ReadMark struct {
	issuedBefore uint64 // writes with a higher sequence were issued after the mark
	at           int64
	acked        bool // some write of the key had been acknowledged
	cands        []cand
}

// MarkRead takes the mark of a read of key issued at invoke; call it just
// before the read.
func (l *Ledger) MarkRead(key int, invoke time.Duration, m *ReadMark) {
	mu := &l.locks[key%stripes]
	mu.Lock()
	ks := &l.keys[key]
	m.acked = ks.acked
	m.cands = append(m.cands[:0], ks.cands...)
	mu.Unlock()
	m.issuedBefore = l.seq.Load()
	m.at = int64(invoke)
}

// StaleRead judges a value a read marked by m returned, by the rule of
// the read-back (Check): stale when the value's write had been superseded
// by an acknowledged write before the read was issued. It counts a stale
// read and returns how long before the read the earliest superseding
// write still possible as current had been acknowledged: a lower bound of
// how out of date the value was.
func (l *Ledger) StaleRead(key int, m *ReadMark, v []byte) (stale bool, staleness time.Duration) {
	if !m.acked {
		return false, 0
	}
	k, seq, err := Decode(v)
	if err == nil && k == key {
		if seq > m.issuedBefore {
			return false, 0
		}
		for _, c := range m.cands {
			if c.seq == seq && !c.tomb {
				return false, 0
			}
		}
	}
	l.staleReads.Add(1)
	first := int64(-1)
	for _, c := range m.cands {
		if c.ack != pending && c.ack != unknown && (first < 0 || c.ack < first) {
			first = c.ack
		}
	}
	if first >= 0 && first <= m.at {
		staleness = time.Duration(m.at - first)
	}
	return true, staleness
}

// StaleReads counts the reads during the run that returned a superseded
// value (StaleRead).
func (l *Ledger) StaleReads() int64 { return l.staleReads.Load() }

// missingIsWrong: some acknowledged non-delete completed before t and no
// delete is among the possible current values.
func (ks *keyState) missingIsWrong(t int64) bool {
	wrote := false
	for _, c := range ks.cands {
		if c.tomb {
			return false
		}
		if c.ack != pending && c.ack != unknown && c.ack < t {
			wrote = true
		}
	}
	return wrote
}

// Verdict of one read-back.
type Verdict uint8

const (
	Verified Verdict = iota
	Lost             // acknowledged data missing
	Stale            // an older value than acknowledged
	Skipped          // nothing acknowledged for the key: nothing to check
)

// Check judges a read-back of key made while the load may still run: call
// it just before the read is issued and call the returned function with
// what the read returned. A value is accepted when it was a possible
// current value as the read was issued, or was issued after that.
func (l *Ledger) Check(key int) func(found bool, v []byte) Verdict {
	mu := &l.locks[key%stripes]
	mu.Lock()
	ks := &l.keys[key]
	if !ks.acked {
		mu.Unlock()
		return func(bool, []byte) Verdict { return Skipped }
	}
	snap := append([]cand(nil), ks.cands...)
	mu.Unlock()
	issuedBefore := l.seq.Load()
	return func(found bool, v []byte) Verdict {
		if !found {
			for _, c := range snap {
				if c.tomb {
					return Verified
				}
			}
			if l.deletedSince(key, issuedBefore) {
				return Verified
			}
			return Lost
		}
		k, seq, err := Decode(v)
		if err != nil || k != key {
			return Stale
		}
		if seq > issuedBefore {
			return Verified
		}
		for _, c := range snap {
			if c.seq == seq && !c.tomb {
				return Verified
			}
		}
		return Stale
	}
}

func (l *Ledger) deletedSince(key int, seq uint64) bool {
	mu := &l.locks[key%stripes]
	mu.Lock()
	defer mu.Unlock()
	for _, c := range l.keys[key].cands {
		if c.tomb && c.seq > seq {
			return true
		}
	}
	return false
}

// AcknowledgedKeys lists the keys with an acknowledged write or delete.
func (l *Ledger) AcknowledgedKeys() []int {
	var out []int
	for k := range l.keys {
		mu := &l.locks[k%stripes]
		mu.Lock()
		if l.keys[k].acked {
			out = append(out, k)
		}
		mu.Unlock()
	}
	return out
}

// AcknowledgedWrites counts acknowledged writes and deletes.
func (l *Ledger) AcknowledgedWrites() int64 { return l.ackedWrites.Load() }

// NotFoundReads counts reads that missed an acknowledged key during the run.
func (l *Ledger) NotFoundReads() int64 { return l.notFoundReads.Load() }

func (l *Ledger) checkpoint() *Checkpoint {
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	return l.cp
}
