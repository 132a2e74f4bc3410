package render

import (
	"strings"
	"testing"

	"github.com/evalrun/evalrun/reports/internal/reporttest"
	"github.com/evalrun/evalrun/reports/model"
)

// withNodes is report-a with per-node tables: in the fault phase node 2
// is slow (a finding), elsewhere every node is alike; the fault phase has
// operations of unknown node.
func withNodes(t *testing.T) *model.Report {
	r := reporttest.Read(t, "report-a.json")
	alike := func(count, p99 int64) []model.NodeStats {
		return []model.NodeStats{
			{Node: 1, Name: "node1", Count: count, P50Us: p99 / 3, P99Us: p99, MaxUs: 2 * p99},
			{Node: 2, Name: "node2", Count: count, P50Us: p99 / 3, P99Us: p99 + 300, MaxUs: 2 * p99},
			{Node: 3, Name: "node3", Count: count, P50Us: p99 / 3, P99Us: p99 - 200, MaxUs: 2 * p99},
		}
	}
	for i := range r.Phases {
		p := &r.Phases[i]
		p.Nodes = alike(p.Total.Count/3, 4400)
		if p.Name == "fault" {
			p.Nodes = append([]model.NodeStats{{Node: 0, Count: 151, Errors: 151, P50Us: 1000000, P99Us: 1540000, MaxUs: 2000000}}, p.Nodes...)
			p.Nodes[2].P99Us, p.Nodes[2].MaxUs, p.Nodes[2].Errors = 61000, 250000, 12
		}
	}
	return r
}

func TestPerNodeGolden(t *testing.T) {
	r := withNodes(t)
	md, err := Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "report-nodes.md", md)
	page, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "report-nodes.html", page)
	for name, out := range map[string]string{"markdown": string(md), "html": string(page)} {
		if n := strings.Count(out, "node2 (node 2) is slow in phase fault"); n != 1 {
			t.Errorf("%s: the finding shows %d times, want once as a banner", name, n)
		}
		if strings.Contains(out, "is slow in phase baseline") || strings.Contains(out, "node1 (node 1) is slow") {
			t.Errorf("%s names a node that is not slow", name)
		}
	}
}

// A report without per-node tables (an old one, or a driver that cannot
// tell) has no per-node section and no finding.
func TestNoPerNodeSection(t *testing.T) {
	r := reporttest.Read(t, "report-a.json")
	md, _ := Markdown(r)
	page, _ := HTML(r)
	for name, out := range map[string]string{"markdown": string(md), "html": string(page)} {
		if strings.Contains(out, "Per node") || strings.Contains(out, "Slow node") {
			t.Errorf("%s: a per-node section or finding without per-node data", name)
		}
	}
}
