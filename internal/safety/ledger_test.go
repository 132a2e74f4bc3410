package safety

import (
	"testing"
	"time"
)

type write struct {
	tomb        bool
	invoke, end time.Duration
	acked       bool
}

func val(key int, seq uint64) []byte {
	b := make([]byte, 32)
	Encode(b, key, seq)
	return b
}

func TestLedgerVerdicts(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name   string
		writes []write
		found  bool
		read   int // index into writes of the value read back (when found); -1 = foreign value
		want   Verdict
	}{
		{"latest acked value", []write{{false, 1 * ms, 2 * ms, true}, {false, 3 * ms, 4 * ms, true}}, true, 1, Verified},
		{"value overwritten before the next write began is stale", []write{{false, 1 * ms, 2 * ms, true}, {false, 3 * ms, 4 * ms, true}}, true, 0, Stale},
		{"acked key not found is lost", []write{{false, 1 * ms, 2 * ms, true}}, false, 0, Lost},
		{"acked delete then not found", []write{{false, 1 * ms, 2 * ms, true}, {true, 3 * ms, 4 * ms, true}}, false, 0, Verified},
		{"value after acked delete is stale", []write{{false, 1 * ms, 2 * ms, true}, {true, 3 * ms, 4 * ms, true}}, true, 0, Stale},
		{"concurrent writes: the first may win", []write{{false, 1 * ms, 5 * ms, true}, {false, 2 * ms, 4 * ms, true}}, true, 0, Verified},
		{"concurrent writes: the second may win", []write{{false, 1 * ms, 5 * ms, true}, {false, 2 * ms, 4 * ms, true}}, true, 1, Verified},
		{"failed write may have applied", []write{{false, 1 * ms, 2 * ms, true}, {false, 3 * ms, 4 * ms, false}}, true, 1, Verified},
		{"failed delete may have applied", []write{{false, 1 * ms, 2 * ms, true}, {true, 3 * ms, 4 * ms, false}}, false, 0, Verified},
		{"foreign value is stale", []write{{false, 1 * ms, 2 * ms, true}}, true, -1, Stale},
		{"preload before the run clock (negative times)", []write{{false, -10 * ms, -9 * ms, true}}, true, 0, Verified},
		{"preload then a run write", []write{{false, -10 * ms, -9 * ms, true}, {false, 3 * ms, 4 * ms, true}}, true, 0, Stale},
		{"nothing acked: skipped", []write{{false, 1 * ms, 2 * ms, false}}, false, 0, Skipped},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := New(4, 10*time.Second)
			const key = 2
			seqs := make([]uint64, len(tc.writes))
			// issue all, then complete all, in invoke/end order
			type ev struct {
				at  time.Duration
				i   int
				end bool
			}
			var evs []ev
			for i, w := range tc.writes {
				evs = append(evs, ev{w.invoke, i, false}, ev{w.end, i, true})
			}
			for a := range evs {
				for b := a + 1; b < len(evs); b++ {
					if evs[b].at < evs[a].at {
						evs[a], evs[b] = evs[b], evs[a]
					}
				}
			}
			for _, e := range evs {
				w := tc.writes[e.i]
				if !e.end {
					seqs[e.i] = l.Begin(key, w.tomb, e.at)
				} else {
					l.End(key, seqs[e.i], w.acked, e.at)
				}
			}
			var v []byte
			if tc.found {
				if tc.read < 0 {
					v = []byte("not ours at all, no header")
				} else {
					v = val(key, seqs[tc.read])
				}
			}
			if got := l.Check(key)(tc.found, v); got != tc.want {
				t.Errorf("verdict = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLiveCheckAcceptsWritesIssuedDuringTheRead(t *testing.T) {
	l := New(1, time.Second)
	s1 := l.Begin(0, false, 1)
	l.End(0, s1, true, 2)
	judge := l.Check(0) // the read is issued now
	s2 := l.Begin(0, false, 3)
	l.End(0, s2, true, 4)
	if got := judge(true, val(0, s1)); got != Verified {
		t.Errorf("value current when the read began: %v, want Verified", got)
	}
	if got := judge(true, val(0, s2)); got != Verified {
		t.Errorf("value written during the read: %v, want Verified", got)
	}
	d := l.Begin(0, true, 5)
	l.End(0, d, true, 6)
	if got := judge(false, nil); got != Verified {
		t.Errorf("deleted during the read: %v, want Verified", got)
	}
}

func TestNotFoundReads(t *testing.T) {
	l := New(2, time.Second)
	if l.NotFoundRead(0, 5) {
		t.Error("never written key counted")
	}
	s := l.Begin(0, false, 1)
	if l.NotFoundRead(0, 2) {
		t.Error("read while the write was in flight counted")
	}
	l.End(0, s, true, 3)
	if !l.NotFoundRead(0, 4) {
		t.Error("read after the ack not counted")
	}
	d := l.Begin(0, true, 5)
	if l.NotFoundRead(0, 6) {
		t.Error("read while a delete was in flight counted")
	}
	l.End(0, d, true, 7)
	if got := l.NotFoundReads(); got != 1 {
		t.Errorf("NotFoundReads = %d, want 1", got)
	}
}

func TestCheckpoint(t *testing.T) {
	l := New(3, time.Second)
	a := l.Begin(0, false, 1)
	l.End(0, a, true, 2)
	b := l.Begin(1, false, 1)
	l.End(1, b, true, 2)
	cp := l.OpenCheckpoint()
	c := l.Begin(0, false, 3) // during the backup
	l.End(0, c, true, 4)
	d := l.Begin(1, true, 3) // delete during the backup
	l.End(1, d, true, 4)
	cp.Close()
	e := l.Begin(0, false, 5) // after the backup
	l.End(0, e, true, 6)
	if ks := cp.Keys(); len(ks) != 2 {
		t.Fatalf("checkpoint keys = %v, want 2 keys", ks)
	}
	for _, tc := range []struct {
		name  string
		key   int
		found bool
		seq   uint64
		want  Verdict
	}{
		{"value at backup start", 0, true, a, Verified},
		{"value written during backup", 0, true, c, Verified},
		{"value written after backup cannot be in it", 0, true, e, Stale},
		{"key missing from restore", 0, false, 0, Lost},
		{"deleted during backup", 1, false, 0, Verified},
		{"key written only after the checkpoint", 2, false, 0, Skipped},
	} {
		var v []byte
		if tc.found {
			v = val(tc.key, tc.seq)
		}
		if got := cp.Check(tc.key)(tc.found, v); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	b := make([]byte, 100)
	Encode(b, 1234, 987654321)
	k, s, err := Decode(b)
	if err != nil || k != 1234 || s != 987654321 {
		t.Fatalf("Decode = %d %d %v", k, s, err)
	}
	if _, _, err := Decode([]byte("short")); err == nil {
		t.Fatal("short value decoded")
	}
}

func BenchmarkEncode1KB(b *testing.B) {
	buf := make([]byte, 1024)
	b.SetBytes(int64(len(buf)))
	for i := 0; b.Loop(); i++ {
		Encode(buf, i&1023, uint64(i))
	}
}

func TestStaleRead(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	value := func(key int, seq uint64) []byte {
		b := make([]byte, ValueHeader)
		Encode(b, key, seq)
		return b
	}
	write := func(l *Ledger, key int, from, to time.Duration) uint64 {
		seq := l.Begin(key, false, from)
		l.End(key, seq, true, to)
		return seq
	}
	for _, tc := range []struct {
		name      string
		run       func(l *Ledger, m *ReadMark) []byte // makes the history, marks the read, returns what it read
		stale     bool
		staleness time.Duration
	}{
		{"the acknowledged value", func(l *Ledger, m *ReadMark) []byte {
			a := write(l, 1, ms(0), ms(1))
			l.MarkRead(1, ms(10), m)
			return value(1, a)
		}, false, 0},
		{"a value superseded before the read", func(l *Ledger, m *ReadMark) []byte {
			a := write(l, 1, ms(0), ms(1))
			write(l, 1, ms(2), ms(4))
			l.MarkRead(1, ms(10), m)
			return value(1, a)
		}, true, ms(6)},
		{"a write in flight at the read may or may not be seen", func(l *Ledger, m *ReadMark) []byte {
			a := write(l, 1, ms(0), ms(1))
			b := l.Begin(1, false, ms(2))
			l.MarkRead(1, ms(10), m)
			l.End(1, b, true, ms(12))
			return value(1, a)
		}, false, 0},
		{"a write issued after the read began", func(l *Ledger, m *ReadMark) []byte {
			write(l, 1, ms(0), ms(1))
			l.MarkRead(1, ms(10), m)
			c := write(l, 1, ms(11), ms(12))
			return value(1, c)
		}, false, 0},
		{"a value of another key", func(l *Ledger, m *ReadMark) []byte {
			write(l, 1, ms(0), ms(1))
			l.MarkRead(1, ms(10), m)
			return value(0, 1)
		}, true, ms(9)},
		{"nothing acknowledged yet", func(l *Ledger, m *ReadMark) []byte {
			l.MarkRead(1, ms(10), m)
			return []byte("anything")
		}, false, 0},
		{"the old value after a delete was acknowledged", func(l *Ledger, m *ReadMark) []byte {
			a := write(l, 1, ms(0), ms(1))
			d := l.Begin(1, true, ms(2))
			l.End(1, d, true, ms(3))
			l.MarkRead(1, ms(10), m)
			return value(1, a)
		}, true, ms(7)},
	} {
		l := New(4, time.Second)
		var m ReadMark
		v := tc.run(l, &m)
		stale, staleness := l.StaleRead(1, &m, v)
		if stale != tc.stale || staleness != tc.staleness {
			t.Errorf("%s: stale %v by %v, want %v by %v", tc.name, stale, staleness, tc.stale, tc.staleness)
		}
		if want := map[bool]int64{true: 1}[tc.stale]; l.StaleReads() != want {
			t.Errorf("%s: counted %d stale reads", tc.name, l.StaleReads())
		}
	}
}
