package render

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
)

// nodeRow is one line of the per-node tables: what one node served in one
// phase.
type nodeRow struct {
	Phase, Node, Name, Count, Errors string
	Lat                              [3]string // p50, p99, max
	ServiceP99                       string    // "" in reports written before it was kept
	Ops                              []string  // count per op type, in nodeOpNames' order
	First, Slow, HasErrors           bool
	Span                             int // rows of the phase (on its first row)
}

// nodeRows lists, phase by phase, the nodes that served operations (the
// unknown node first), marking those the slow-node finding names.
func nodeRows(r *model.Report, findings []model.Finding) []nodeRow {
	opNames := nodeOpNames(r)
	slow := map[[2]string]bool{}
	for _, f := range findings {
		slow[[2]string{f.Phase, format.Node(f.Node)}] = true
	}
	var rows []nodeRow
	for _, p := range r.Phases {
		for i, n := range p.Nodes {
			node := format.Node(n.Node)
			if n.Node == 0 {
				node = "unknown"
			}
			rows = append(rows, nodeRow{Phase: p.Name, Node: node, Name: n.Name, Count: format.Count(n.Count),
				Errors: format.Errors(n.Errors, n.Count), HasErrors: n.Errors > 0,
				Lat:        [3]string{format.Micros(n.P50Us), format.Micros(n.P99Us), format.Micros(n.MaxUs)},
				ServiceP99: serviceP99(n), Ops: opCells(n.Ops, opNames), First: i == 0, Span: len(p.Nodes), Slow: slow[[2]string{p.Name, node}]})
		}
	}
	return rows
}

// nodeOpNames lists the op types any node of any phase counted
// (NodeStats.Ops), in the usual op order: the per-node table's count
// columns (reads each replica took, reads the primary did). None in
// reports written before the counts were kept.
func nodeOpNames(r *model.Report) []string {
	seen := map[string]bool{}
	var names []string
	for _, p := range r.Phases {
		for _, n := range p.Nodes {
			for op := range n.Ops {
				if !seen[op] {
					seen[op] = true
					names = append(names, op)
				}
			}
		}
	}
	format.SortOps(names)
	return names
}

// opCells is ops' count of each of names ("0" when it has none).
func opCells(ops map[string]int64, names []string) []string {
	out := make([]string, len(names))
	for i, op := range names {
		out[i] = format.Count(ops[op])
	}
	return out
}

func serviceP99(n model.NodeStats) string {
	if n.ServiceP99Us == 0 {
		return ""
	}
	return format.Micros(n.ServiceP99Us)
}

// nodesCaption says where the per-node numbers come from and the rule of
// the slow-node finding.
func nodesCaption() string {
	return "Operations by the node that served them (the driver's client says which); latency from the intended start, as the phase table's, and service p99 from the send (what the finding compares); \"unknown\": the operation failed before reaching a node. " +
		"Slow node: " + judge.SlowNodeRule() + "."
}

// mdNodes writes the per-node table of every phase that has one.
func mdNodes(b *bytes.Buffer, r *model.Report, findings []model.Finding) {
	rows := nodeRows(r, findings)
	if len(rows) == 0 {
		return
	}
	b.WriteString("## Per node\n\n")
	fmt.Fprintf(b, "%s\n\n", mdText(nodesCaption()))
	if len(findings) == 0 {
		b.WriteString("No slow node.\n\n")
	}
	opNames := nodeOpNames(r)
	mdRow(b, append([]string{"phase", "node", "name", "count", "errors", "p50", "p99", "max", "service p99"}, opNames...)...)
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---:|" + strings.Repeat("---:|", len(opNames)) + "\n")
	for _, row := range rows {
		node, svc := mdText(row.Node), row.ServiceP99
		if row.Slow {
			node, svc = "**"+node+" (slow)**", "**"+svc+"**"
		}
		mdRowRaw(b, append([]string{mdText(row.Phase), node, mdText(row.Name), row.Count, row.Errors, row.Lat[0], row.Lat[1], row.Lat[2], svc}, row.Ops...)...)
	}
	b.WriteString("\n")
}

// mdFindings writes each finding as a banner.
func mdFindings(b *bytes.Buffer, findings []model.Finding) {
	for _, f := range findings {
		fmt.Fprintf(b, "> **Slow node**: %s.\n\n", mdText(f.Detail))
	}
}

// addNodes adds the slow-node banners and the per-node tables.
func (v *htmlView) addNodes(r *model.Report) {
	findings := judge.SlowNodes(r)
	for _, f := range findings {
		v.SlowNodes = append(v.SlowNodes, f.Detail)
	}
	v.Nodes = nodeRows(r, findings)
	v.NodeOps = nodeOpNames(r)
	v.NodesNote = nodesCaption()
}
