package linearize

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/internal/history"
)

// Builders of single operations on key 0 (see onKey for others).

func put(client int, invoke, ret int64, value uint64) history.Op {
	return history.Op{Client: client, Kind: history.Put, Invoke: invoke, Return: ret, Value: value, Outcome: history.OK}
}

func putUnknown(client int, invoke, ret int64, value uint64) history.Op {
	op := put(client, invoke, ret, value)
	op.Outcome = history.Unknown
	return op
}

func get(client int, invoke, ret int64, value uint64) history.Op {
	op := history.Op{Client: client, Kind: history.Get, Invoke: invoke, Return: ret, Value: value, Outcome: history.OK}
	if value == 0 {
		op.Outcome = history.NotFound
	}
	return op
}

func getFailed(client int, invoke, ret int64) history.Op {
	op := get(client, invoke, ret, 0)
	op.Outcome = history.Failed
	return op
}

func getForeign(client int, invoke, ret int64) history.Op {
	op := get(client, invoke, ret, 999_999)
	op.Foreign = true
	return op
}

func del(client int, invoke, ret int64) history.Op {
	return history.Op{Client: client, Kind: history.Delete, Invoke: invoke, Return: ret, Outcome: history.OK}
}

func delUnknown(client int, invoke, ret int64) history.Op {
	op := del(client, invoke, ret)
	op.Outcome = history.Unknown
	return op
}

func onKey(key int, ops ...history.Op) []history.Op {
	out := slices.Clone(ops)
	for i := range out {
		out[i].Key = key
	}
	return out
}

func TestCheckVerdicts(t *testing.T) {
	tests := []struct {
		name string
		ops  []history.Op
		want Verdict
		// blocked, for a violation: the operation that cannot follow the
		// longest linearizable prefix (the last of Anomaly).
		blocked *history.Op
	}{
		{name: "empty", ops: nil, want: Linearizable},
		{name: "sequential", want: Linearizable, ops: []history.Op{
			put(0, 0, 10, 1), get(1, 20, 30, 1), put(1, 40, 50, 2), get(0, 60, 70, 2),
			del(0, 80, 90), get(1, 100, 110, 0), put(2, 120, 130, 3), get(2, 140, 150, 3),
		}},
		{name: "concurrent", want: Linearizable, ops: []history.Op{
			put(0, 0, 100, 1),
			get(1, 10, 20, 0),  // before the put took effect
			get(2, 30, 40, 1),  // after
			put(3, 50, 150, 2), // concurrent with the next two reads
			get(1, 60, 70, 1),
			get(2, 80, 160, 2),
			get(4, 90, 170, 2),
			get(1, 200, 210, 2),
		}},
		{name: "same instant return and invoke are concurrent", want: Linearizable, ops: []history.Op{
			put(0, 0, 10, 1), get(1, 10, 20, 0),
		}},
		{name: "unknown put read later", want: Linearizable, ops: []history.Op{
			put(0, 0, 10, 1), putUnknown(0, 20, 30, 2),
			get(1, 40, 50, 1), // it had not taken effect yet
			get(1, 60, 70, 2), // now it has
			get(2, 80, 90, 2),
		}},
		{name: "unknown put never read", want: Linearizable, ops: []history.Op{
			put(0, 0, 10, 1), putUnknown(0, 20, 30, 2), get(1, 40, 50, 1), get(1, 60, 70, 1),
		}},
		{name: "unknown delete took effect late", want: Linearizable, ops: []history.Op{
			put(0, 0, 10, 1), delUnknown(0, 20, 30), get(1, 40, 50, 1), get(1, 60, 70, 0),
		}},
		{name: "failed get tells nothing", want: Linearizable, ops: []history.Op{
			put(0, 0, 10, 1), getFailed(1, 20, 30), get(1, 40, 50, 1),
		}},
		{name: "get not found after acknowledged delete", want: Linearizable, ops: []history.Op{
			put(0, 0, 10, 1), del(0, 20, 30), get(1, 40, 50, 0),
		}},
		{name: "stale read: second read returns an older value", want: NotLinearizable,
			blocked: new(get(2, 50, 60, 1)), ops: []history.Op{
				put(0, 0, 10, 1), put(0, 20, 100, 2),
				get(1, 30, 40, 2), get(2, 50, 60, 1),
			}},
		{name: "read of a value overwritten before the read began", want: NotLinearizable,
			blocked: new(get(1, 40, 50, 1)), ops: []history.Op{
				put(0, 0, 10, 1), put(0, 20, 30, 2), get(1, 40, 50, 1),
			}},
		{name: "unknown write seen, then vanished", want: NotLinearizable,
			blocked: new(get(2, 60, 70, 1)), ops: []history.Op{
				put(0, 0, 10, 1), putUnknown(0, 20, 30, 2),
				get(1, 40, 50, 2), get(2, 60, 70, 1),
			}},
		{name: "lost write: acknowledged put, then not found", want: NotLinearizable,
			blocked: new(get(1, 20, 30, 0)), ops: []history.Op{
				put(0, 0, 10, 1), get(1, 20, 30, 0),
			}},
		{name: "foreign value", want: NotLinearizable,
			blocked: new(getForeign(1, 20, 30)), ops: []history.Op{
				put(0, 0, 10, 1), getForeign(1, 20, 30),
			}},
		{name: "foreign value as the first operation", want: NotLinearizable,
			blocked: new(getForeign(1, 0, 5)), ops: []history.Op{
				getForeign(1, 0, 5), put(0, 10, 20, 1),
			}},
		{name: "read of a deleted value", want: NotLinearizable,
			blocked: new(get(1, 40, 50, 1)), ops: []history.Op{
				put(0, 0, 10, 1), del(0, 20, 30), get(1, 40, 50, 1),
			}},
		{name: "read of a value before its write was invoked", want: NotLinearizable,
			blocked: new(get(1, 0, 10, 1)), ops: []history.Op{
				get(1, 0, 10, 1), put(0, 20, 30, 1),
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops := onKey(3, tt.ops...)
			res, err := Check(t.Context(), ops, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Verdict(); got != tt.want {
				t.Fatalf("verdict %s, want %s (findings %+v)", got, tt.want, res.Findings)
			}
			if res.Ops != len(ops) {
				t.Errorf("Ops = %d, want %d", res.Ops, len(ops))
			}
			if tt.want == Linearizable {
				if len(res.Findings) != 0 {
					t.Errorf("findings %+v on a linearizable history", res.Findings)
				}
				return
			}
			if res.NotLinearizable != 1 || len(res.Findings) != 1 {
				t.Fatalf("NotLinearizable %d, findings %d, want 1 and 1", res.NotLinearizable, len(res.Findings))
			}
			f := res.Findings[0]
			if f.Key != 3 || f.Name != "key 3" || f.Ops != len(ops) {
				t.Errorf("finding names key %d %q with %d ops, want 3, \"key 3\", %d", f.Key, f.Name, f.Ops, len(ops))
			}
			if len(f.Anomaly) == 0 || len(f.Anomaly) > maxAnomalyOps {
				t.Fatalf("anomaly has %d ops, want 1..%d", len(f.Anomaly), maxAnomalyOps)
			}
			want := *tt.blocked
			want.Key = 3
			if last := f.Anomaly[len(f.Anomaly)-1]; last != want {
				t.Errorf("anomaly ends with %+v, want %+v (anomaly %+v)", last, want, f.Anomaly)
			}
		})
	}
}

func TestCheckSeveralKeys(t *testing.T) {
	ops := slices.Concat(
		onKey(0, put(0, 0, 10, 1), get(1, 20, 30, 1)),
		onKey(1, put(0, 0, 10, 2), get(1, 20, 30, 0)), // lost write
		onKey(2, put(2, 5, 15, 3), put(3, 40, 50, 4), get(2, 60, 70, 3)),
		onKey(5, getFailed(0, 0, 10)),
	)
	res, err := Check(t.Context(), ops, Options{KeyName: func(k int) string { return fmt.Sprintf("evalrun/%04d", k) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Keys != 4 || res.Linearizable != 2 || res.NotLinearizable != 2 || res.Unknown != 0 {
		t.Fatalf("keys %d: %d linearizable, %d not, %d unknown; want 4: 2, 2, 0", res.Keys, res.Linearizable, res.NotLinearizable, res.Unknown)
	}
	var keys []int
	for _, f := range res.Findings {
		keys = append(keys, f.Key)
		for _, op := range f.Anomaly {
			if op.Key != f.Key {
				t.Errorf("anomaly of key %d holds an op of key %d", f.Key, op.Key)
			}
		}
	}
	if !slices.Equal(keys, []int{1, 2}) || res.Findings[0].Name != "evalrun/0001" {
		t.Errorf("findings for keys %v named %q, want [1 2] and evalrun/0001", keys, res.Findings[0].Name)
	}
	// The heap the check adds may be 0 for histories this small (a GC
	// during the check can free more than it holds); its bound is that it
	// is not the whole process's heap.
	if res.Wall <= 0 || res.CPU < 0 || res.PeakHeap > 1<<30 {
		t.Errorf("cost not measured: wall %v, CPU %v, peak heap %d", res.Wall, res.CPU, res.PeakHeap)
	}
}

// hardHistory has n acknowledged puts all concurrent, then a get that finds
// nothing. No order explains that get, and porcupine can only learn it by
// trying every subset of the puts with every last put (n·2^(n-1) states),
// which no machine finishes: with n = 40, a budget of hours comes out
// unknown just as one of a millisecond does.
func hardHistory(key, n int) []history.Op {
	var ops []history.Op
	for i := range n {
		ops = append(ops, put(i, 0, 100, uint64(i+1)))
	}
	ops = append(ops, get(n, 200, 300, 0))
	return onKey(key, ops...)
}

// A search that grows past its memory bound ends as unknown, and the
// other keys are still checked. The time budget is far beyond the test's
// timeout: only the memory bound can end it (porcupine memoizes every
// state it visits, so its heap grows for as long as it searches).
func TestCheckMemoryBound(t *testing.T) {
	ops := slices.Concat(hardHistory(0, 40), onKey(1, put(0, 0, 10, 1), get(1, 20, 30, 1)))
	res, err := Check(t.Context(), ops, Options{BudgetPerKey: 24 * time.Hour, MaxHeap: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict() != Unknown || res.Linearizable != 1 || res.Unknown != 1 {
		t.Fatalf("verdict %s (%d linearizable, %d unknown), want key 0 unknown and key 1 linearizable", res.Verdict(), res.Linearizable, res.Unknown)
	}
	if f := res.Findings[0]; f.Key != 0 || !strings.Contains(f.Reason, "memory bound") {
		t.Errorf("finding %+v, want key 0 unknown for its memory bound", f)
	}
}

func TestCheckBudget(t *testing.T) {
	ops := slices.Concat(hardHistory(0, 40), onKey(1, put(0, 0, 10, 1), get(1, 20, 30, 1)))
	res, err := Check(t.Context(), ops, Options{BudgetPerKey: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict() != Unknown || res.NotLinearizable != 0 || res.Unknown < 1 {
		t.Fatalf("verdict %s (%d not linearizable, %d unknown), want unknown", res.Verdict(), res.NotLinearizable, res.Unknown)
	}
	f := res.Findings[0]
	if f.Key != 0 || f.Verdict != Unknown || f.Reason != "check ran out of its 1ms budget" {
		t.Errorf("finding %+v, want key 0 unknown for its budget", f)
	}
	if len(f.Anomaly) != 0 || f.Visualization != "" {
		t.Errorf("an unknown key has an anomaly or a visualisation: %+v", f)
	}
}

func TestUnreadUnknownPutsAreDropped(t *testing.T) {
	// 30 puts of unknown outcome that no get read, concurrent with a lost
	// write: kept, they would make the search try each subset of them
	// before the lost write's get could be refuted (far beyond the
	// budget); dropped (sound: placed last they explain nothing), the
	// violation is found at once.
	ops := []history.Op{put(0, 0, 10, 1)}
	for i := range 30 {
		ops = append(ops, putUnknown(i+2, 1, 5, uint64(100+i)))
	}
	ops = append(ops, get(1, 20, 30, 0))
	res, err := Check(t.Context(), ops, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict() != NotLinearizable {
		t.Fatalf("verdict %s (findings %+v), want not linearizable", res.Verdict(), res.Findings)
	}
	if a := res.Findings[0].Anomaly; len(a) != 2 || a[0] != ops[0] || a[1] != ops[len(ops)-1] {
		t.Errorf("anomaly %+v, want the put and the get that lost it", a)
	}
}

func TestCheckTotalBudget(t *testing.T) {
	ops := slices.Concat(hardHistory(0, 40), hardHistory(1, 40))
	res, err := Check(t.Context(), ops, Options{BudgetPerKey: time.Hour, Total: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Unknown != 2 || res.Verdict() != Unknown {
		t.Fatalf("%d unknown, verdict %s; want 2, unknown", res.Unknown, res.Verdict())
	}
	for _, f := range res.Findings {
		if !strings.Contains(f.Reason, "total budget of 1ms ran out") {
			t.Errorf("key %d: reason %q, want the total budget", f.Key, f.Reason)
		}
	}
}

func TestCheckCancelled(t *testing.T) {
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		ops := slices.Concat(onKey(0, put(0, 0, 10, 1)), onKey(1, put(0, 0, 10, 2)), onKey(2, get(0, 0, 10, 0)))
		res, err := Check(ctx, ops, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Unknown != 3 || res.Linearizable != 0 {
			t.Fatalf("%d unknown, %d linearizable; want 3, 0", res.Unknown, res.Linearizable)
		}
		for _, f := range res.Findings {
			if f.Reason != "check cancelled: context canceled" {
				t.Errorf("key %d: reason %q", f.Key, f.Reason)
			}
		}
	})
	t.Run("during", func(t *testing.T) {
		// The budget is far beyond the test's timeout: only the
		// cancellation can end this check.
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		stop := time.AfterFunc(20*time.Millisecond, cancel)
		defer stop.Stop()
		res, err := Check(ctx, hardHistory(0, 40), Options{BudgetPerKey: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if res.Unknown != 1 || res.Findings[0].Reason != "check cancelled: context canceled" {
			t.Fatalf("%d unknown, findings %+v; want the key unknown, cancelled", res.Unknown, res.Findings)
		}
	})
}

func TestCheckVisualization(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "linearizability")
	ops := slices.Concat(
		onKey(7, put(0, 0, 10, 1), put(1, 20, 30, 2), get(4000, 40, 50, 1)),
		onKey(8, put(0, 0, 10, 3), get(1, 20, 30, 3)),
		onKey(9, put(0, 0, 10, 4), get(1, 20, 30, 0)),
	)
	names := func(k int) string { return fmt.Sprintf("evalrun/key:%d", k) }
	res, err := Check(t.Context(), ops, Options{VisualizeDir: dir, KeyName: names})
	if err != nil {
		t.Fatal(err)
	}
	if res.NotLinearizable != 2 {
		t.Fatalf("%d keys not linearizable, want 2", res.NotLinearizable)
	}
	for _, f := range res.Findings {
		file := fmt.Sprintf("evalrun_key_%d.html", f.Key)
		if want := filepath.Join("linearizability", file); f.Visualization != want {
			t.Errorf("key %d: visualization %q, want %q", f.Key, f.Visualization, want)
		}
		html, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(html), "put ") || !strings.Contains(string(html), "get → ") {
			t.Errorf("key %d: the visualisation does not describe the operations", f.Key)
		}
		// Its rows are clients numbered from 0: client 4000 is the third
		// row, and named.
		if f.Key == 7 && (strings.Contains(string(html), `"ClientId":4000`) ||
			!strings.Contains(string(html), `"ClientId":2`) || !strings.Contains(string(html), "client 4000")) {
			t.Errorf("key 7: the visualisation's client rows are not renumbered from 0")
		}
		if len(f.Anomaly) == 0 {
			t.Errorf("key %d: no anomaly", f.Key)
		}
		for _, op := range f.Anomaly {
			if op.Key != f.Key {
				t.Errorf("anomaly of key %d holds an op of key %d", f.Key, op.Key)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("%d files written, want one per violation (2)", len(entries))
	}
}

func TestAnomalyBounded(t *testing.T) {
	// A long correct prefix, then a lost write: the anomaly is the
	// prefix's last 11 operations and the read that cannot follow.
	var ops []history.Op
	var now int64
	for v := uint64(1); v <= 30; v++ {
		ops = append(ops, put(0, now, now+5, v), get(1, now+10, now+15, v))
		now += 20
	}
	lost := get(1, now+10, now+15, 0)
	ops = append(ops, lost)
	res, err := Check(t.Context(), ops, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.NotLinearizable != 1 {
		t.Fatalf("verdict %s, want not linearizable", res.Verdict())
	}
	a := res.Findings[0].Anomaly
	want := append(slices.Clone(ops[len(ops)-12:len(ops)-1]), lost)
	if !slices.Equal(a, want) {
		t.Errorf("anomaly\n%+v\nwant\n%+v", a, want)
	}
}

// TestSavedHistories re-checks the hand-written histories in testdata,
// named <name>.<verdict>.json (a JSON array of history.Op).
func TestSavedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("%d saved histories, want at least 2", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			parts := strings.Split(filepath.Base(file), ".")
			want := Verdict(parts[len(parts)-2])
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var ops []history.Op
			if err := json.Unmarshal(data, &ops); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			res, err := Check(t.Context(), ops, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict() != want {
				t.Errorf("%s: %s, want %s (findings %+v)", file, res.Verdict(), want, res.Findings)
			}
		})
	}
}
