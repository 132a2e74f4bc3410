package judge

import (
	"slices"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/reports/model"
)

func TestSlowNodes(t *testing.T) {
	ms := int64(1000)
	row := func(node int, count, p99Us int64) model.NodeStats {
		return model.NodeStats{Node: node, Name: "node" + string(rune('0'+node)), Count: count, P50Us: p99Us / 2, P99Us: p99Us, MaxUs: p99Us * 2}
	}
	tests := []struct {
		name  string
		nodes []model.NodeStats
		want  []int    // the nodes named slow
		words []string // in the first finding's detail
	}{
		{name: "healthy", nodes: []model.NodeStats{row(1, 5000, 4*ms), row(2, 5000, 5*ms), row(3, 5000, 6*ms)}},
		{name: "within 3x at a low rate", nodes: []model.NodeStats{row(1, 1000, 3*ms), row(2, 1000, 3*ms), row(3, 1000, 9*ms)}},
		{name: "one slow", nodes: []model.NodeStats{row(1, 5000, 4*ms), row(2, 5000, 60*ms), row(3, 5000, 5*ms)},
			want: []int{2}, words: []string{"node2 (node 2) is slow in phase high", "p99 60ms", "13.3x the median p99 of its 2 peers (4.5ms)", "threshold 4x and 5ms above"}},
		{name: "slow and failing", nodes: []model.NodeStats{row(1, 5000, 4*ms), {Node: 2, Count: 800, Errors: 790, P99Us: 90 * ms}, row(3, 5000, 5*ms)},
			want: []int{2}, words: []string{"n2 (node 2) is slow in phase high: service p99 90ms over 800 operations (of which 790 (98.8%) failed)"}},
		{name: "two slow out of five", nodes: []model.NodeStats{row(1, 900, 50*ms), row(2, 900, 3*ms), row(3, 900, 80*ms), row(4, 900, 4*ms), row(5, 900, 3*ms)},
			want: []int{1, 3}},
		{name: "two slow out of three: the median is theirs too", nodes: []model.NodeStats{row(1, 900, 50*ms), row(2, 900, 3*ms), row(3, 900, 80*ms)}},
		{name: "too few operations on the slow node", nodes: []model.NodeStats{row(1, 5000, 4*ms), row(2, 150, 90*ms), row(3, 5000, 4*ms)}},
		{name: "a node with few operations is no peer", nodes: []model.NodeStats{row(1, 5000, 4*ms), row(2, 5000, 90*ms), row(3, 20, 4*ms)},
			want: []int{2}},
		{name: "one node: nothing to compare", nodes: []model.NodeStats{row(1, 5000, 90*ms)}},
		{name: "tiny absolute latencies", nodes: []model.NodeStats{row(1, 5000, 200), row(2, 5000, 3000), row(3, 5000, 250)}},
		// The harness's workers all wait on node 2: every node's latency
		// from the intended start is high, only node 2 answers slowly.
		{name: "a harness queue behind one node: the service time names it", nodes: []model.NodeStats{
			withService(row(1, 5000, 900*ms), 2*ms), withService(row(2, 5000, 950*ms), 80*ms), withService(row(3, 5000, 900*ms), 2*ms)},
			want: []int{2}},
		{name: "late everywhere, every node answers fast: none is slow", nodes: []model.NodeStats{
			withService(row(1, 5000, 4*ms), 1*ms), withService(row(2, 5000, 90*ms), 1*ms), withService(row(3, 5000, 4*ms), 1*ms)}},
		{name: "the unknown node is nobody's peer", nodes: []model.NodeStats{row(0, 5000, 900*ms), row(1, 5000, 4*ms), row(2, 5000, 4*ms)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &model.Report{Phases: []model.Phase{{Name: "low"}, {Name: "high", Nodes: tt.nodes}}}
			got := SlowNodes(r)
			var nodes []int
			for _, f := range got {
				if f.Kind != model.FindingSlowNode || f.Phase != "high" {
					t.Errorf("finding %+v: want kind %s in phase high", f, model.FindingSlowNode)
				}
				nodes = append(nodes, f.Node)
			}
			if len(nodes) != len(tt.want) || !slices.Equal(nodes, tt.want) {
				t.Fatalf("slow nodes %v, want %v (%+v)", nodes, tt.want, got)
			}
			for _, w := range tt.words {
				if !strings.Contains(got[0].Detail, w) {
					t.Errorf("detail %q lacks %q", got[0].Detail, w)
				}
			}
		})
	}
}

func withService(n model.NodeStats, p99Us int64) model.NodeStats {
	n.ServiceP99Us = p99Us
	return n
}
