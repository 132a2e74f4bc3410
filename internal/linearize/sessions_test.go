package linearize

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/evalrun/evalrun/internal/history"
	"github.com/evalrun/evalrun/internal/measure"
)

func TestCheckSessions(t *testing.T) {
	tests := []struct {
		name           string
		ops            []history.Op
		monotonicReads int
		readYourWrites int
		linearizable   bool // the verdict of Check on the same history
	}{
		{name: "correct history", linearizable: true, ops: []history.Op{
			put(0, 0, 10, 1), get(0, 20, 30, 1), get(1, 20, 30, 1), put(1, 40, 50, 2),
			get(0, 60, 70, 2), get(1, 60, 70, 2), del(0, 80, 90), get(0, 100, 110, 0), get(1, 100, 110, 0),
		}},
		{name: "monotonic reads: a value whose write precedes the one read before", monotonicReads: 1, ops: []history.Op{
			put(0, 0, 10, 1), put(0, 20, 25, 2), get(1, 30, 40, 2), get(1, 50, 60, 1),
		}},
		{name: "monotonic reads: nothing, and no delete", monotonicReads: 1, ops: []history.Op{
			put(0, 0, 10, 1), get(1, 20, 30, 1), get(1, 40, 50, 0),
		}},
		{name: "monotonic reads: nothing, after a delete", linearizable: true, ops: []history.Op{
			put(0, 0, 10, 1), get(1, 20, 30, 1), del(2, 32, 35), get(1, 40, 50, 0),
		}},
		{name: "monotonic reads: nothing, a delete of unknown outcome may have intervened", linearizable: true, ops: []history.Op{
			put(0, 0, 10, 1), get(1, 20, 30, 1), delUnknown(2, 35, 36), get(1, 40, 50, 0),
		}},
		{name: "monotonic reads: nothing, but the only delete preceded the write", monotonicReads: 1, ops: []history.Op{
			del(2, 0, 5), put(0, 10, 20, 1), get(1, 30, 40, 1), get(1, 50, 60, 0),
		}},
		{name: "monotonic reads: concurrent writes may be seen in either order", ops: []history.Op{
			// Not linearizable (put 1 cannot come after put 2 and before
			// the second read), yet no session guarantee is broken: the
			// writes do not precede one another.
			put(0, 0, 30, 1), put(2, 20, 40, 2), get(1, 50, 60, 2), get(1, 70, 80, 1),
		}},
		{name: "monotonic reads: an unknown write never precedes", linearizable: true, ops: []history.Op{
			putUnknown(0, 0, 10, 1), put(0, 20, 25, 2), get(1, 30, 40, 2), get(1, 50, 60, 1),
		}},
		{name: "read your writes: an older value after the client's own write", readYourWrites: 1, ops: []history.Op{
			put(2, 0, 10, 1), put(1, 20, 30, 2), get(1, 40, 50, 1),
		}},
		{name: "read your writes: nothing after the client's own put", readYourWrites: 1, ops: []history.Op{
			put(1, 0, 10, 1), get(1, 20, 30, 0),
		}},
		{name: "read your writes: nothing, a concurrent delete may have intervened", linearizable: true, ops: []history.Op{
			put(1, 0, 10, 1), del(2, 5, 25), get(1, 20, 30, 0),
		}},
		{name: "read your writes: a value older than the client's own delete", readYourWrites: 1, ops: []history.Op{
			put(2, 0, 10, 1), del(1, 20, 30), get(1, 40, 50, 1),
		}},
		{name: "read your writes: nothing after the client's own delete", linearizable: true, ops: []history.Op{
			put(2, 0, 10, 1), del(1, 20, 30), get(1, 40, 50, 0),
		}},
		{name: "read your writes: the client's write of unknown outcome does not count", linearizable: true, ops: []history.Op{
			put(2, 0, 10, 1), putUnknown(1, 20, 30, 2), get(1, 40, 50, 1),
		}},
		{name: "both: another client's read is not this client's", monotonicReads: 1, readYourWrites: 1, ops: []history.Op{
			put(1, 0, 10, 1), put(1, 20, 30, 2), get(1, 40, 50, 2),
			get(2, 45, 55, 1), // client 2 never read 2: no violation
			get(1, 60, 70, 1), // client 1 goes back: both guarantees
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops := onKey(2, tt.ops...)
			got := CheckSessions(ops)
			if got.MonotonicReads != tt.monotonicReads || got.ReadYourWrites != tt.readYourWrites {
				t.Errorf("monotonic reads %d, read your writes %d; want %d, %d (examples %+v)",
					got.MonotonicReads, got.ReadYourWrites, tt.monotonicReads, tt.readYourWrites, got.Examples)
			}
			if len(got.Examples) != got.MonotonicReads+got.ReadYourWrites {
				t.Errorf("%d examples for %d violations", len(got.Examples), got.MonotonicReads+got.ReadYourWrites)
			}
			for _, ex := range got.Examples {
				if ex.Key != 2 || ex.Then.Kind != history.Get || ex.First.Client != ex.Client && ex.Guarantee == ReadYourWrites {
					t.Errorf("example %+v", ex)
				}
			}
			res, err := Check(t.Context(), ops, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if (res.Verdict() == Linearizable) != tt.linearizable {
				t.Errorf("Check: %s, want linearizable %v", res.Verdict(), tt.linearizable)
			}
			if res.Sessions.MonotonicReads != got.MonotonicReads || res.Sessions.ReadYourWrites != got.ReadYourWrites {
				t.Errorf("Check's sessions %+v differ from CheckSessions' %+v", res.Sessions, got)
			}
		})
	}
}

func TestCheckSessionsCounts(t *testing.T) {
	ops := []history.Op{
		put(0, 0, 10, 1), get(1, 20, 30, 1), getFailed(2, 20, 30), get(3, 20, 30, 0), del(4, 40, 50),
	}
	got := CheckSessions(ops)
	if got.Clients != 5 || got.Reads != 2 {
		t.Errorf("clients %d, reads %d; want 5, 2", got.Clients, got.Reads)
	}
}

func TestCheckSessionsExamplesAreTheEarliest(t *testing.T) {
	// 25 clients each lose their own write (read your writes), in reverse
	// order of time on different keys.
	var ops []history.Op
	for c := 25; c >= 1; c-- {
		at := int64(c) * 100
		ops = append(ops, onKey(c, put(c, at, at+10, uint64(c)), get(c, at+20, at+30, 0))...)
	}
	got := CheckSessions(ops)
	if got.ReadYourWrites != 25 || len(got.Examples) != maxSessionExamples {
		t.Fatalf("%d violations, %d examples; want 25, %d", got.ReadYourWrites, len(got.Examples), maxSessionExamples)
	}
	for i, ex := range got.Examples {
		if ex.Client != i+1 || ex.Guarantee != ReadYourWrites || ex.First.Kind != history.Put {
			t.Errorf("example %d: %+v, want client %d's", i, ex, i+1)
		}
	}
}

// naiveSessions is the definition of SessionResult applied literally,
// comparing every read with every earlier read and write of its client
// (O(n²)), to check CheckSessions against.
func naiveSessions(ops []history.Op) (monotonicReads, readYourWrites int) {
	writeOf := func(op history.Op) *history.Op {
		if op.Kind != history.Get || op.Outcome != history.OK || op.Foreign {
			return nil
		}
		for i := range ops {
			if ops[i].Kind == history.Put && ops[i].Key == op.Key && ops[i].Value == op.Value {
				return &ops[i]
			}
		}
		return nil
	}
	acked := func(op *history.Op) bool {
		return op.Outcome == history.OK || op.Kind == history.Delete && op.Outcome == history.NotFound
	}
	precedes := func(a, b *history.Op) bool { return acked(a) && a.Return < b.Invoke }
	deleteCouldIntervene := func(key int, write *history.Op, read history.Op) bool {
		for i := range ops {
			d := &ops[i]
			if d.Key == key && d.Kind == history.Delete && d.Invoke <= read.Return && !precedes(d, write) {
				return true
			}
		}
		return false
	}
	isRead := func(op history.Op) bool {
		return op.Kind == history.Get && (op.Outcome == history.OK || op.Outcome == history.NotFound)
	}
	for _, r2 := range ops {
		if !isRead(r2) {
			continue
		}
		w2 := writeOf(r2)
		mr, ryw := false, false
		for _, earlier := range ops {
			if earlier.Client != r2.Client || earlier.Key != r2.Key || earlier.Invoke >= r2.Invoke {
				continue
			}
			if isRead(earlier) {
				if w1 := writeOf(earlier); w1 != nil {
					if (w2 != nil && precedes(w2, w1)) ||
						(r2.Outcome == history.NotFound && !deleteCouldIntervene(r2.Key, w1, r2)) {
						mr = true
					}
				}
			}
			if (earlier.Kind == history.Put || earlier.Kind == history.Delete) && acked(&earlier) {
				if (w2 != nil && precedes(w2, &earlier)) ||
					(r2.Outcome == history.NotFound && earlier.Kind == history.Put && !deleteCouldIntervene(r2.Key, &earlier, r2)) {
					ryw = true
				}
			}
		}
		if mr {
			monotonicReads++
		}
		if ryw {
			readYourWrites++
		}
	}
	return monotonicReads, readYourWrites
}

// randomHistory is an arbitrary history (not that of any store): each of a
// few clients runs operations one at a time on a few keys, reads return
// any value written to the key (or nothing), outcomes vary.
func randomHistory(rng *rand.Rand, n int) []history.Op {
	const clients, keys = 4, 2
	next := make([]int64, clients)
	var ops []history.Op
	written := make([][]uint64, keys)
	var seq uint64
	for range n {
		c := rng.IntN(clients)
		key := rng.IntN(keys)
		invoke := next[c] + rng.Int64N(5)
		ret := invoke + rng.Int64N(20)
		next[c] = ret + 1
		op := history.Op{Client: c, Key: key, Invoke: invoke, Return: ret, Outcome: history.OK}
		switch r := rng.IntN(10); {
		case r < 4:
			seq++
			op.Kind, op.Value = history.Put, seq
			written[key] = append(written[key], seq)
			if rng.IntN(5) == 0 {
				op.Outcome = history.Unknown
			}
		case r < 5:
			op.Kind = history.Delete
			if rng.IntN(4) == 0 {
				op.Outcome = history.Unknown
			}
		default:
			op.Kind = history.Get
			switch {
			case len(written[key]) == 0 || rng.IntN(4) == 0:
				op.Outcome = history.NotFound
			case rng.IntN(20) == 0:
				op.Outcome = history.Failed
			default:
				op.Value = written[key][rng.IntN(len(written[key]))]
			}
		}
		ops = append(ops, op)
	}
	return ops
}

func TestCheckSessionsAgreesWithDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var violations int
	for i := range 2000 {
		ops := randomHistory(rng, 2+rng.IntN(30))
		got := CheckSessions(ops)
		mr, ryw := naiveSessions(ops)
		if got.MonotonicReads != mr || got.ReadYourWrites != ryw {
			t.Fatalf("history %d: monotonic reads %d, read your writes %d; the definition says %d, %d\n%+v",
				i, got.MonotonicReads, got.ReadYourWrites, mr, ryw, ops)
		}
		violations += mr + ryw
	}
	if violations == 0 {
		t.Fatal("the random histories hold no violation: the comparison shows nothing")
	}
}

// simulatedHistory is a correct register's history: clients run operations
// one at a time on random keys, each taking effect at a random instant
// between its invocation and return (1% of puts and deletes fail, and take
// effect or not); gets return the value present at their instant.
func simulatedHistory(seed uint64, keys, n, clients int) []history.Op {
	rng := rand.New(rand.NewPCG(seed, 7))
	type timed struct {
		op     history.Op
		at     int64
		effect bool
	}
	next := make([]int64, clients)
	all := make([]timed, 0, n)
	var seq uint64
	for range n {
		c := rng.IntN(clients)
		invoke := next[c] + rng.Int64N(200_000)
		at := invoke + rng.Int64N(1_000_000)
		ret := at + rng.Int64N(1_000_000)
		next[c] = ret
		op := history.Op{Client: c, Key: rng.IntN(keys), Invoke: invoke, Return: ret, Outcome: history.OK}
		effect := true
		switch r := rng.IntN(100); {
		case r < 45:
			seq++
			op.Kind, op.Value = history.Put, seq
		case r < 50:
			op.Kind = history.Delete
		default:
			op.Kind = history.Get
		}
		if op.Kind != history.Get && rng.IntN(100) == 0 {
			op.Outcome, effect = history.Unknown, rng.IntN(2) == 0
		}
		all = append(all, timed{op, at, effect})
	}
	order := make([]int, len(all))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(all[a].at, all[b].at) })
	state := make([]uint64, keys)
	for _, i := range order {
		t := &all[i]
		switch t.op.Kind {
		case history.Put:
			if t.effect {
				state[t.op.Key] = t.op.Value
			}
		case history.Delete:
			if t.effect {
				state[t.op.Key] = 0
			}
		case history.Get:
			if t.op.Value = state[t.op.Key]; t.op.Value == 0 {
				t.op.Outcome = history.NotFound
			}
		}
	}
	ops := make([]history.Op, len(all))
	for i, t := range all {
		ops[i] = t.op
	}
	// Ordered by invocation, as a Recorder gives them.
	slices.SortStableFunc(ops, func(a, b history.Op) int { return cmp.Compare(a.Invoke, b.Invoke) })
	return ops
}

func TestSimulatedHistoryPasses(t *testing.T) {
	ops := simulatedHistory(1, 16, 20_000, 50)
	res, err := Check(t.Context(), ops, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict() != Linearizable || res.Keys != 16 || res.Sessions.MonotonicReads+res.Sessions.ReadYourWrites != 0 {
		t.Fatalf("verdict %s over %d keys, sessions %+v; want linearizable over 16, no violation", res.Verdict(), res.Keys, res.Sessions)
	}
	// The same history with one read made stale is caught.
	for i, op := range ops {
		if op.Kind == history.Get && op.Value > 1000 {
			ops[i].Value = 1
			break
		}
	}
	if res, _ := Check(t.Context(), ops, Options{}); res.NotLinearizable != 1 {
		t.Fatalf("a stale read: %d keys not linearizable, want 1", res.NotLinearizable)
	}
}

func BenchmarkCheck(b *testing.B) {
	ops := simulatedHistory(1, 64, 200_000, 50)
	var cpu float64
	for b.Loop() {
		res, err := Check(b.Context(), ops, Options{})
		if err != nil || res.Verdict() != Linearizable {
			b.Fatalf("%s, %v", res.Verdict(), err)
		}
		cpu += res.CPU.Seconds()
		b.ReportMetric(float64(res.PeakHeap)/(1<<20), "peak-heap-MiB")
	}
	b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
}

// BenchmarkCheckSessions reports the process's CPU time beside ns/op,
// which a loaded machine inflates.
func BenchmarkCheckSessions(b *testing.B) {
	ops := simulatedHistory(1, 64, 500_000, 50)
	var cpu time.Duration
	for b.Loop() {
		before := measure.ProcessCPU()
		CheckSessions(ops)
		used := measure.ProcessCPU().Sub(before)
		cpu += used.User + used.Sys
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}
