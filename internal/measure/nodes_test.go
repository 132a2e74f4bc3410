package measure

import (
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
