package render

import (
	"strings"
	"testing"

	"github.com/evalrun/evalrun/reports/model"
)

// withGroups is report-a with, in every phase, per-node op counts, the
// given groups, and a read-fresh op beside the reads; the reads of the
// fault phase were stale.
func withGroups(t *testing.T, groups []model.GroupStats) *model.Report {
	r := withNodes(t)
	for i := range r.Phases {
		p := &r.Phases[i]
		for j := range p.Nodes {
			p.Nodes[j].Ops = map[string]int64{"read": 100 + int64(j), "read-fresh": 7, "write": 40}
		}
		p.Groups = groups
		p.Ops["read-fresh"] = model.OpStats{Count: 21, P99Us: 900}
		if p.Name == "fault" {
			rd := p.Ops["read"]
			rd.StaleReads, rd.MaxStalenessUs = 12, 4_800_000
			p.Ops["read"] = rd
		}
	}
	return r
}

// The per-group table marks the hot group (a p99 at least twice every
// other group's); the per-node table counts each op type; reads by class
// show read-fresh and the stale reads per class.
func TestGroupsAndReads(t *testing.T) {
	g := func(name string, p99 int64, nodes ...int) model.GroupStats {
		return model.GroupStats{Group: name, Nodes: nodes, Count: 1000, Throughput: 100, P50Us: 800, P99Us: p99, MaxUs: 2 * p99,
			WriteP99Us: p99 + 1000, Ops: map[string]int64{"read": 500, "write": 500}}
	}
	tests := []struct {
		name         string
		groups       []model.GroupStats
		want, reject []string // in both the Markdown and the HTML
	}{
		{
			name:   "three groups, one hot",
			groups: []model.GroupStats{g("shard1", 4000, 1, 2), g("shard2", 61000, 3, 4), g("shard3", 5000, 5, 6)},
			want:   []string{"Per group", "shard2 (hot)", "n3, n4", "62ms", "Reads by class", "read-fresh", "4.8s"},
			reject: []string{"shard1 (hot)", "shard3 (hot)"},
		},
		{
			name:   "a shared highest p99: no hot group",
			groups: []model.GroupStats{g("shard1", 4000, 1), g("shard2", 4000, 2)},
			want:   []string{"Per group", "shard1", "shard2"},
			reject: []string{"(hot)"},
		},
		{
			name:   "the highest p99 under twice another's: no hot group",
			groups: []model.GroupStats{g("shard1", 38000, 1), g("shard2", 38500, 2), g("shard3", 60000, 3)},
			want:   []string{"Per group", "shard3"},
			reject: []string{"(hot)"},
		},
		{
			name:   "one group: none is hot",
			groups: []model.GroupStats{g("shard1", 4000, 1, 2, 3)},
			want:   []string{"Per group", "n1, n2, n3"},
			reject: []string{"(hot)"},
		},
		{
			name:   "no groups: no table",
			want:   []string{"Reads by class"},
			reject: []string{"Per group"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := withGroups(t, tt.groups)
			md, err := Markdown(r)
			if err != nil {
				t.Fatal(err)
			}
			page, err := HTML(r)
			if err != nil {
				t.Fatal(err)
			}
			for name, out := range map[string]string{"markdown": string(md), "html": string(page)} {
				for _, w := range tt.want {
					if !strings.Contains(out, w) {
						t.Errorf("%s lacks %q", name, w)
					}
				}
				for _, w := range tt.reject {
					if strings.Contains(out, w) {
						t.Errorf("%s has %q", name, w)
					}
				}
			}
			if !strings.Contains(string(md), "| service p99 | read | read-fresh | write |") {
				t.Errorf("markdown: the per-node table lacks a count column per op type:\n%s", md)
			}
			if !strings.Contains(string(md), "| fault | read | ") || !strings.Contains(string(md), "| **12** | 4.8s |") {
				t.Errorf("markdown: the reads by class lack the fault phase's stale reads:\n%s", md)
			}
		})
	}
}
