package history

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestSample(t *testing.T) {
	tests := []struct {
		keys, n int
		want    []int
	}{
		{keys: 10, n: 5, want: []int{0, 2, 4, 6, 8}},
		{keys: 10, n: 3, want: []int{0, 3, 6}},
		{keys: 4, n: 10, want: []int{0, 1, 2, 3}},
		{keys: 4, n: 4, want: []int{0, 1, 2, 3}},
		{keys: 1000, n: 1, want: []int{0}},
		{keys: 0, n: 5, want: nil},
		{keys: 10, n: 0, want: nil},
		{keys: 10, n: -1, want: nil},
	}
	for _, tt := range tests {
		got := Sample(tt.keys, tt.n)
		if !slices.Equal(got, tt.want) {
			t.Errorf("Sample(%d, %d) = %v, want %v", tt.keys, tt.n, got, tt.want)
		}
	}
}

func TestSampleSpreadAndDeterministic(t *testing.T) {
	for _, tc := range []struct{ keys, n int }{{100_000, 64}, {5000, 128}, {130, 64}, {65, 64}} {
		a, b := Sample(tc.keys, tc.n), Sample(tc.keys, tc.n)
		if !slices.Equal(a, b) {
			t.Fatalf("Sample(%d, %d) differs between calls", tc.keys, tc.n)
		}
		if len(a) != tc.n {
			t.Fatalf("Sample(%d, %d): %d keys", tc.keys, tc.n, len(a))
		}
		gap := tc.keys / tc.n
		for i := 1; i < len(a); i++ {
			if d := a[i] - a[i-1]; d < gap || d > gap+1 {
				t.Fatalf("Sample(%d, %d): gap %d between %d and %d, want %d or %d", tc.keys, tc.n, d, a[i-1], a[i], gap, gap+1)
			}
		}
		if last := a[len(a)-1]; last >= tc.keys || last < tc.keys-gap-1 {
			t.Fatalf("Sample(%d, %d): last key %d does not reach the end", tc.keys, tc.n, last)
		}
	}
}

func TestRecorderSampled(t *testing.T) {
	r := NewRecorder(10, []int{1, 5, 5, 9, 10, -1}, 0)
	for k, want := range map[int]bool{-1: false, 0: false, 1: true, 5: true, 9: true, 10: false, 1 << 40: false} {
		if got := r.Sampled(k); got != want {
			t.Errorf("Sampled(%d) = %v, want %v", k, got, want)
		}
	}
	var none *Recorder
	if none.Sampled(1) {
		t.Error("a nil Recorder samples key 1")
	}
	none.Add(Op{Key: 1}) // must not panic
	h, _ := r.Ops()
	if !slices.Equal(h.Keys, []int{1, 5, 9}) || h.MaxOps != DefaultMaxOps || h.Schema != Schema {
		t.Errorf("header %+v: want keys [1 5 9], max ops %d, schema %s", h, DefaultMaxOps, Schema)
	}
}

func op(client, key int, invoke, ret int64) Op {
	return Op{Client: client, Key: key, Kind: Put, Invoke: invoke, Return: ret, Value: uint64(invoke), Outcome: OK}
}

// TestRecorderBound: ops are added in the order they return; the table
// says which are kept and where the history is cut.
func TestRecorderBound(t *testing.T) {
	tests := []struct {
		name       string
		maxOps     int
		add        []Op
		wantInvoke []int64 // invokes of the ops kept, in order
		wantCutoff int64
	}{
		{
			name:       "under the bound",
			maxOps:     3,
			add:        []Op{op(0, 1, 30, 31), op(1, 1, 10, 40), op(2, 1, 20, 21)},
			wantInvoke: []int64{10, 20, 30},
		},
		{
			name:   "the op that does not fit sets the cutoff; in-flight ops invoked before it are kept",
			maxOps: 2,
			add: []Op{
				op(0, 1, 10, 11), op(1, 1, 20, 21),
				op(2, 1, 30, 35), // does not fit: cutoff 30
				op(3, 1, 25, 50), // invoked before the cutoff, was in flight: kept beyond the bound
				op(0, 1, 40, 41), // after the cutoff: dropped
				op(1, 1, 30, 60), // at the cutoff: dropped
			},
			wantInvoke: []int64{10, 20, 25},
			wantCutoff: 30,
		},
		{
			name:   "held ops invoked at or after the cutoff are left out",
			maxOps: 2,
			add: []Op{
				op(0, 1, 50, 51), op(1, 1, 60, 61),
				op(2, 1, 40, 70), // does not fit: cutoff 40, ops at 50 and 60 go
			},
			wantInvoke: []int64{},
			wantCutoff: 40,
		},
		{
			name:       "ops of keys not sampled are ignored",
			maxOps:     1,
			add:        []Op{op(0, 2, 10, 11), op(0, 1, 20, 21)},
			wantInvoke: []int64{20},
		},
		{
			name:       "a cutoff at 0 ns still says truncated",
			maxOps:     1,
			add:        []Op{op(0, 1, 0, 1), op(1, 1, 0, 2)},
			wantInvoke: []int64{0},
			wantCutoff: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRecorder(4, []int{1, 3}, tt.maxOps)
			for _, o := range tt.add {
				r.Add(o)
			}
			h, ops := r.Ops()
			got := []int64{}
			for _, o := range ops {
				got = append(got, o.Invoke)
			}
			if !slices.Equal(got, tt.wantInvoke) {
				t.Errorf("kept ops invoked at %v, want %v", got, tt.wantInvoke)
			}
			if h.TruncatedAtNs != tt.wantCutoff || h.Ops != len(ops) || h.MaxOps != tt.maxOps {
				t.Errorf("header %+v: want truncated at %d, ops %d, max ops %d", h, tt.wantCutoff, len(ops), tt.maxOps)
			}
		})
	}
}

func TestRecorderOrderAndConcurrency(t *testing.T) {
	const clients, each = 8, 500
	r := NewRecorder(100, Sample(100, 10), 0)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				inv := int64((each - i) * clients * 10)
				r.Add(op(c, (i%10)*10, inv, inv+5))
				r.Add(op(c, 5, inv, inv+5)) // not sampled
			}
		}()
	}
	wg.Wait()
	h, ops := r.Ops()
	if h.Ops != clients*each || len(ops) != clients*each {
		t.Fatalf("%d ops (header %d), want %d", len(ops), h.Ops, clients*each)
	}
	if !slices.IsSortedFunc(ops, func(a, b Op) int {
		if a.Invoke != b.Invoke {
			return int(a.Invoke - b.Invoke)
		}
		return a.Client - b.Client
	}) {
		t.Fatal("ops are not ordered by invoke, then client")
	}
}

func sampleOps() []Op {
	return []Op{
		{Client: -1, Key: 3, Kind: Put, Invoke: 100, Return: 200, Value: 1, Outcome: OK},
		{Client: 0, Key: 3, Kind: Get, Invoke: 250, Return: 260, Value: 1, Outcome: OK, Node: 2},
		{Client: 1, Key: 3, Kind: Get, Invoke: 270, Return: 280, Foreign: true, Outcome: OK},
		{Client: 2, Key: 7, Kind: Delete, Invoke: 300, Return: 900, Outcome: Unknown, Node: 1},
		{Client: 0, Key: 7, Kind: Get, Invoke: 910, Return: 920, Outcome: NotFound},
		{Client: 1, Key: 7, Kind: Get, Invoke: 930, Return: 999, Outcome: Failed},
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		ops  []Op
	}{
		{name: "ops", h: Header{Schema: Schema, RunID: "r1", Keys: []int{3, 7}, MaxOps: 10, TruncatedAtNs: 1000}, ops: sampleOps()},
		{name: "empty", h: Header{Schema: Schema, Keys: []int{}, MaxOps: 10}, ops: []Op{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.h, tt.ops); err != nil {
				t.Fatal(err)
			}
			if lines := strings.Count(buf.String(), "\n"); lines != len(tt.ops)+1 {
				t.Fatalf("%d lines, want %d", lines, len(tt.ops)+1)
			}
			h, ops, err := Read(&buf)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.h
			want.Ops = len(tt.ops)
			if !reflect.DeepEqual(h, want) {
				t.Errorf("header %+v, want %+v", h, want)
			}
			if !reflect.DeepEqual(ops, tt.ops) {
				t.Errorf("ops %+v, want %+v", ops, tt.ops)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	const header = `{"schema":"evalrun.history/v1","keys":[3],"ops":1,"max_ops":10}`
	const good = `{"client":0,"key":3,"op":"put","invoke_ns":1,"return_ns":2,"value":1,"outcome":"ok"}`
	tests := []struct {
		name, text, want string
	}{
		{"empty file", "", "line 1: no header"},
		{"not JSON header", "hello\n", "line 1: the header"},
		{"another major", `{"schema":"evalrun.history/v2","keys":[],"ops":0}` + "\n", `line 1: schema "evalrun.history/v2"`},
		{"not a history", `{"schema":"something/v1","keys":[],"ops":0}` + "\n", "is not a history"},
		{"malformed op", header + "\n" + `{"client":0,` + "\n", "line 2:"},
		{"unknown kind", header + "\n" + strings.Replace(good, `"put"`, `"cas"`, 1) + "\n", `line 2: unknown op "cas"`},
		{"unknown outcome", header + "\n" + strings.Replace(good, `"ok"`, `"maybe"`, 1) + "\n", `line 2: unknown outcome "maybe"`},
		{"returns before invoke", header + "\n" + strings.Replace(good, `"return_ns":2`, `"return_ns":0`, 1) + "\n", "line 2: returns"},
		{"cut short", header + "\n", "the header says 1 operations, the file holds 0"},
		{"third line", header + "\n\n" + good + "\n" + good + "\n", "the header says 1 operations, the file holds 2"},
		{"bad third line", strings.Replace(header, `"ops":1`, `"ops":2`, 1) + "\n" + good + "\n" + "{]\n", "line 3:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Read(strings.NewReader(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	// a minor version of the same major is read
	if _, _, err := Read(strings.NewReader(strings.Replace(header, "v1", "v1.4", 1) + "\n" + good + "\n")); err != nil {
		t.Errorf("schema v1.4: %v", err)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "history.jsonl")
	if _, _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("missing file: error %v does not name %s", err, path)
	}
	if err := os.WriteFile(path, []byte(`{"schema":"evalrun.history/v1","keys":[],"ops":0}`+"\nnot json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := ReadFile(path)
	if err == nil || !strings.Contains(err.Error(), path+": line 2:") {
		t.Fatalf("error %v, want it to name %s and line 2", err, path)
	}
}

// BenchmarkRecorder is the load's cost per operation: Sampled for every
// operation, and Add for a sampled one (a recorder below its bound,
// renewed every DefaultMaxOps operations outside the timer; and one past
// its bound, which drops).
func BenchmarkRecorder(b *testing.B) {
	const keys = 100_000
	sample := Sample(keys, DefaultKeys)
	b.Run("Sampled", func(b *testing.B) {
		r := NewRecorder(keys, sample, 0)
		b.ReportAllocs()
		n := 0
		for i := 0; b.Loop(); i++ {
			if r.Sampled(i % keys) {
				n++
			}
		}
		_ = n
	})
	b.Run("Sampled+Add", func(b *testing.B) {
		r := NewRecorder(keys, sample, DefaultMaxOps)
		b.ReportAllocs()
		held := 0
		for i := 0; b.Loop(); i++ {
			if held == DefaultMaxOps {
				b.StopTimer()
				r, held = NewRecorder(keys, sample, DefaultMaxOps), 0
				b.StartTimer()
			}
			k := sample[i%len(sample)]
			if r.Sampled(k) {
				r.Add(op(i%64, k, int64(i), int64(i+1)))
				held++
			}
		}
	})
	b.Run("Sampled+Add/parallel-past-bound", func(b *testing.B) {
		r := NewRecorder(keys, sample, 1)
		r.Add(op(0, sample[0], 0, 1))
		r.Add(op(0, sample[0], 1, 2)) // cutoff at 1
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				k := sample[i%len(sample)]
				if r.Sampled(k) {
					r.Add(op(0, k, int64(i+2), int64(i+3)))
				}
			}
		})
	})
}

// A key that reaches MaxOpsPerKey keeps the operations invoked before its
// cutoff (also one added after the cutoff was set), and the other keys
// keep everything.
func TestRecorderBoundsEachKey(t *testing.T) {
	r := NewRecorder(10, []int{2, 5}, 0)
	for i := range MaxOpsPerKey + 10 {
		r.Add(Op{Client: 1, Key: 2, Kind: Put, Invoke: int64(100 + 10*i), Return: int64(105 + 10*i), Value: uint64(i + 1), Outcome: OK})
	}
	cutoff := int64(100 + 10*MaxOpsPerKey)
	r.Add(Op{Client: 2, Key: 2, Kind: Put, Invoke: cutoff - 1, Return: cutoff + 50, Value: 77777, Outcome: OK})               // in flight at the cutoff: kept
	r.Add(Op{Client: 4, Key: 2, Kind: Get, Invoke: cutoff - 1, Return: cutoff + 50, Value: 88888, Outcome: OK})               // in flight: it may have seen a write the prefix lacks
	r.Add(Op{Client: 5, Key: 2, Kind: Get, Invoke: cutoff - 2, Return: cutoff - 1, Value: uint64(MaxOpsPerKey), Outcome: OK}) // returned before: kept
	r.Add(Op{Client: 3, Key: 5, Kind: Put, Invoke: cutoff + 100, Return: cutoff + 110, Value: 99999, Outcome: OK})
	h, ops := r.Ops()
	if len(h.TruncatedKeys) != 1 || h.TruncatedKeys[0] != (KeyCutoff{Key: 2, AtNs: cutoff}) || h.TruncatedAtNs != 0 || h.MaxOpsPerKey != MaxOpsPerKey {
		t.Fatalf("header %+v: want key 2 cut at %d, nothing else", h, cutoff)
	}
	var key2, key5 int
	for _, op := range ops {
		switch op.Key {
		case 2:
			key2++
			if op.Invoke >= cutoff || op.Kind == Get && op.Return >= cutoff {
				t.Errorf("op %+v kept: invoked after key 2's cutoff %d, or a get that returned after it", op, cutoff)
			}
		case 5:
			key5++
		}
	}
	if key2 != MaxOpsPerKey+2 || key5 != 1 {
		t.Errorf("held %d ops of key 2 (want %d) and %d of key 5 (want 1)", key2, MaxOpsPerKey+2, key5)
	}
}
