package safety

import "sync"

// Checkpoint freezes what a backup taken from now on must contain: every
// write acknowledged before the checkpoint opened. Writes issued while it is
// open (during the backup) may or may not be in the backup; both are
// accepted.
type Checkpoint struct {
	l        *Ledger
	seqStart uint64
	seqEnd   uint64
	state    map[int]keyState // acknowledged keys at open, candidates copied
	mu       sync.Mutex
	touched  map[int]bool // key -> a delete was issued while open
}

// OpenCheckpoint starts a checkpoint. Close it when the backup is done.
func (l *Ledger) OpenCheckpoint() *Checkpoint {
	cp := &Checkpoint{l: l, state: map[int]keyState{}, touched: map[int]bool{}}
	l.cpMu.Lock()
	l.cp = cp
	cp.seqStart = l.seq.Load()
	l.cpMu.Unlock()
	for k := range l.keys {
		mu := &l.locks[k%stripes]
		mu.Lock()
		ks := l.keys[k]
		if ks.acked {
			ks.cands = append([]cand(nil), ks.cands...)
			cp.state[k] = ks
		}
		mu.Unlock()
	}
	return cp
}

func (cp *Checkpoint) touch(key int, tomb bool) {
	cp.mu.Lock()
	cp.touched[key] = cp.touched[key] || tomb
	cp.mu.Unlock()
}

// Close ends the checkpoint: writes issued from now on are not expected in
// the backup.
func (cp *Checkpoint) Close() {
	l := cp.l
	l.cpMu.Lock()
	if l.cp == cp {
		l.cp = nil
	}
	cp.seqEnd = l.seq.Load()
	l.cpMu.Unlock()
}

// Keys lists the keys the restored data must account for.
func (cp *Checkpoint) Keys() []int {
	out := make([]int, 0, len(cp.state))
	for k := range cp.l.keys {
		if _, ok := cp.state[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// Check judges a read-back of key from a restored copy of the backup
// (the copy is not under load, so there is nothing to snapshot).
func (cp *Checkpoint) Check(key int) func(found bool, v []byte) Verdict {
	return func(found bool, v []byte) Verdict { return cp.check(key, found, v) }
}

func (cp *Checkpoint) check(key int, found bool, v []byte) Verdict {
	ks, ok := cp.state[key]
	if !ok {
		return Skipped
	}
	cp.mu.Lock()
	deletedDuring := cp.touched[key]
	cp.mu.Unlock()
	if !found {
		if deletedDuring {
			return Verified
		}
		for _, c := range ks.cands {
			if c.tomb {
				return Verified
			}
		}
		return Lost
	}
	k, seq, err := Decode(v)
	if err != nil || k != key {
		return Stale
	}
	if seq > cp.seqStart && seq <= cp.seqEnd {
		return Verified // issued during the backup
	}
	for _, c := range ks.cands {
		if c.seq == seq && !c.tomb {
			return Verified
		}
	}
	return Stale
}
