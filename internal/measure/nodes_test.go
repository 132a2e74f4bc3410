package measure

import (
	"reflect"
	"testing"
	"time"

	"github.com/evalrun/evalrun/reports/model"
)

// Per-node statistics: per phase and node, the count and errors of the
// operations sent, and their latency from the intended start; missed
// operations reach no node; node 0 is the unknown node; shards merge.
func TestNodeStats(t *testing.T) {
	ms := time.Millisecond
	type rec struct {
		node    int
		latency time.Duration // from the intended start
		class   Class
		phase   string
	}
	many := func(n, node int, lat time.Duration, class Class, phase string) []rec {
		out := make([]rec, n)
		for i := range out {
			out[i] = rec{node, lat, class, phase}
		}
		return out
	}
	cat := func(parts ...[]rec) []rec {
		var out []rec
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name    string
		perNode bool
		recs    []rec
		want    map[string][]model.NodeStats // by phase; p50/p99/max in ms
	}{
		{
			name: "three nodes, one slow", perNode: true,
			recs: cat(many(100, 1, 2*ms, OK, "a"), many(100, 2, 2*ms, OK, "a"), many(99, 3, 40*ms, OK, "a"), many(1, 3, 900*ms, Timeout, "a")),
			want: map[string][]model.NodeStats{"a": {
				{Node: 1, Count: 100, P50Us: 2, P99Us: 2, MaxUs: 2},
				{Node: 2, Count: 100, P50Us: 2, P99Us: 2, MaxUs: 2},
				{Node: 3, Count: 100, Errors: 1, P50Us: 40, P99Us: 40, MaxUs: 900},
			}},
		},
		{
			name: "unknown node and missed operations", perNode: true,
			recs: cat(many(10, 1, ms, OK, "a"), many(5, 0, 3*ms, Unavailable, "a"), many(7, 2, 50*ms, Missed, "a")),
			want: map[string][]model.NodeStats{"a": {
				{Node: 0, Count: 5, Errors: 5, P50Us: 3, P99Us: 3, MaxUs: 3},
				{Node: 1, Count: 10, P50Us: 1, P99Us: 1, MaxUs: 1},
			}},
		},
		{
			name: "per phase", perNode: true,
			recs: cat(many(4, 1, ms, OK, "a"), many(6, 2, 8*ms, Other, "b")),
			want: map[string][]model.NodeStats{
				"a": {{Node: 1, Count: 4, P50Us: 1, P99Us: 1, MaxUs: 1}},
				"b": {{Node: 2, Count: 6, Errors: 6, P50Us: 8, P99Us: 8, MaxUs: 8}},
			},
		},
		{
			name: "only unknown: no table", perNode: true,
			recs: many(10, 0, ms, OK, "a"),
			want: map[string][]model.NodeStats{"a": nil},
		},
		{
			name: "client that cannot tell: no table", perNode: false,
			recs: many(10, 2, ms, OK, "a"),
			want: map[string][]model.NodeStats{"a": nil},
		},
		{
			name: "an index beyond the bound is unknown", perNode: true,
			recs: cat(many(3, 1, ms, OK, "a"), many(2, maxTrackedNode+1, ms, OK, "a")),
			want: map[string][]model.NodeStats{"a": {
				{Node: 0, Count: 2, P50Us: 1, P99Us: 1, MaxUs: 1},
				{Node: 1, Count: 3, P50Us: 1, P99Us: 1, MaxUs: 1},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRecorder(Config{Ops: []string{"read"}, Start: time.Now(), FirstPhase: "a", PerNode: tt.perNode, CPU: func() CPUTime { return CPUTime{} }})
			if err != nil {
				t.Fatal(err)
			}
			at := time.Duration(0)
			for i, o := range tt.recs {
				if r.Phase() != o.phase {
					r.SetPhase(o.phase, at)
				}
				r.Record(i, Outcome{Intended: at, Start: at, End: at + o.latency, Class: o.class, Node: o.node})
				at += ms
			}
			for _, p := range r.PhaseStats(at) {
				got := p.Nodes
				want := tt.want[p.Name]
				if len(got) != len(want) {
					t.Fatalf("phase %s: nodes %+v, want %+v", p.Name, got, want)
				}
				for i := range want {
					if !sameNodeRow(got[i], want[i]) {
						t.Errorf("phase %s: node row %d = %+v, want %+v", p.Name, i, got[i], want[i])
					}
				}
			}
		})
	}
}

// sameNodeRow compares a row with one whose latencies are in ms: the
// histograms keep two significant digits, so within 1%.
func sameNodeRow(got, wantMs model.NodeStats) bool {
	near := func(us, ms int64) bool { return us >= ms*990 && us <= ms*1010 }
	return got.Node == wantMs.Node && got.Count == wantMs.Count && got.Errors == wantMs.Errors &&
		near(got.P50Us, wantMs.P50Us) && near(got.P99Us, wantMs.P99Us) && near(got.MaxUs, wantMs.MaxUs)
}

// Per-node op counts and per-group statistics: a group merges its nodes
// (count, errors, ops, latency), its throughput is its successes over the
// phase, its write p99 is that of its writes and deletes only; nodes
// outside every group and the unknown node belong to none; without
// groups there are none.
func TestGroupStats(t *testing.T) {
	ms := time.Millisecond
	const read, write, del, fresh = 0, 1, 2, 3
	type rec struct {
		n, node, op int
		latency     time.Duration
		class       Class
	}
	groups := map[int]string{1: "shard1", 2: "shard1", 3: "shard2", 4: "shard2"}
	tests := []struct {
		name      string
		groups    map[int]string
		recs      []rec
		wantNodes map[int]map[string]int64 // node -> ops
		want      []model.GroupStats       // latencies in ms; Throughput per s of a 10 s phase
	}{
		{
			name: "two groups, one hot", groups: groups,
			recs: []rec{
				{100, 1, write, 2 * ms, OK}, {50, 2, read, ms, OK}, {10, 2, fresh, ms, OK},
				{100, 3, write, 80 * ms, OK}, {20, 3, del, 80 * ms, Timeout}, {60, 4, read, ms, OK},
				{5, 0, read, ms, Unavailable},
			},
			wantNodes: map[int]map[string]int64{0: {"read": 5}, 1: {"write": 100}, 2: {"read": 50, "read-fresh": 10},
				3: {"write": 100, "delete": 20}, 4: {"read": 60}},
			want: []model.GroupStats{
				{Group: "shard1", Nodes: []int{1, 2}, Count: 160, Throughput: 16, P50Us: 2, P99Us: 2, MaxUs: 2,
					Ops: map[string]int64{"read": 50, "read-fresh": 10, "write": 100}, WriteP99Us: 2},
				{Group: "shard2", Nodes: []int{3, 4}, Count: 180, Errors: 20, Throughput: 16, P50Us: 80, P99Us: 80, MaxUs: 80,
					Ops: map[string]int64{"read": 60, "write": 100, "delete": 20}, WriteP99Us: 80},
			},
		},
		{
			name: "a group that only read has no write p99; a node of no group counts in none", groups: map[int]string{1: "a", 2: "b"},
			recs:      []rec{{10, 1, read, 3 * ms, OK}, {10, 2, write, ms, OK}, {10, 3, write, 9 * ms, OK}},
			wantNodes: map[int]map[string]int64{1: {"read": 10}, 2: {"write": 10}, 3: {"write": 10}},
			want: []model.GroupStats{
				{Group: "a", Nodes: []int{1}, Count: 10, Throughput: 1, P50Us: 3, P99Us: 3, MaxUs: 3, Ops: map[string]int64{"read": 10}},
				{Group: "b", Nodes: []int{2}, Count: 10, Throughput: 1, P50Us: 1, P99Us: 1, MaxUs: 1, Ops: map[string]int64{"write": 10}, WriteP99Us: 1},
			},
		},
		{
			name:      "no groups",
			recs:      []rec{{10, 1, read, ms, OK}, {10, 2, write, ms, OK}},
			wantNodes: map[int]map[string]int64{1: {"read": 10}, 2: {"write": 10}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRecorder(Config{Ops: []string{"read", "write", "delete", "read-fresh"}, Start: time.Now(), FirstPhase: "a",
				PerNode: true, NodeGroups: tt.groups, WriteOps: []int{write, del}, CPU: func() CPUTime { return CPUTime{} }})
			if err != nil {
				t.Fatal(err)
			}
			i := 0
			for _, o := range tt.recs {
				for range o.n {
					r.Record(i, Outcome{Op: o.op, Class: o.class, Node: o.node, End: o.latency})
					i++
				}
			}
			phases := r.PhaseStats(10 * time.Second)
			if len(phases) != 1 {
				t.Fatalf("%d phases", len(phases))
			}
			p := phases[0]
			gotNodes := map[int]map[string]int64{}
			for _, n := range p.Nodes {
				gotNodes[n.Node] = n.Ops
			}
			if !reflect.DeepEqual(gotNodes, tt.wantNodes) {
				t.Errorf("node ops %v, want %v", gotNodes, tt.wantNodes)
			}
			if len(p.Groups) != len(tt.want) {
				t.Fatalf("groups %+v, want %+v", p.Groups, tt.want)
			}
			for i, want := range tt.want {
				got := p.Groups[i]
				near := func(us, ms int64) bool { return us >= ms*990 && us <= ms*1010 }
				if got.Group != want.Group || !reflect.DeepEqual(got.Nodes, want.Nodes) || got.Count != want.Count || got.Errors != want.Errors ||
					got.Throughput != want.Throughput || !reflect.DeepEqual(got.Ops, want.Ops) ||
					!near(got.P50Us, want.P50Us) || !near(got.P99Us, want.P99Us) || !near(got.MaxUs, want.MaxUs) || !near(got.WriteP99Us, want.WriteP99Us) {
					t.Errorf("group %d = %+v, want (ms) %+v", i, got, want)
				}
			}
		})
	}
}
