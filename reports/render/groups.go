package render

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/model"
)

// groupRow is one line of the per-group table: what one group of nodes
// (a shard's primary and replicas) served in one phase.
type groupRow struct {
	Phase, Group, Nodes, Count, Errors, Rate, WriteP99 string
	Lat                                                [3]string // p50, p99, max
	HasErrors, Hot, First                              bool
	Span                                               int // rows of the phase (on its first row)
}

// groupRows lists, phase by phase, the groups that served operations,
// marking the hot one (hotGroup).
func groupRows(r *model.Report) []groupRow {
	var rows []groupRow
	for _, p := range r.Phases {
		hot := hotGroup(p.Groups)
		for i, g := range p.Groups {
			nodes := make([]string, len(g.Nodes))
			for j, n := range g.Nodes {
				nodes[j] = format.Node(n)
			}
			write := ""
			if g.WriteP99Us > 0 {
				write = format.Micros(g.WriteP99Us)
			}
			rows = append(rows, groupRow{Phase: p.Name, Group: g.Group, Nodes: strings.Join(nodes, ", "), Count: format.Count(g.Count),
				Errors: format.Errors(g.Errors, g.Count), Rate: format.Rate(g.Throughput), WriteP99: write,
				Lat:       [3]string{format.Micros(g.P50Us), format.Micros(g.P99Us), format.Micros(g.MaxUs)},
				HasErrors: g.Errors > 0, Hot: i == hot, First: i == 0, Span: len(p.Groups)})
		}
	}
	return rows
}

// hotGroup is the index of the group whose p99 is at least hotFactor
// times every other group's, -1 when there are fewer than two groups or
// none stands out so (groups a few percent apart are not a hot one).
func hotGroup(groups []model.GroupStats) int {
	if len(groups) < 2 {
		return -1
	}
	hot := 0
	for i := 1; i < len(groups); i++ {
		if groups[i].P99Us > groups[hot].P99Us {
			hot = i
		}
	}
	for i, g := range groups {
		if i != hot && float64(groups[hot].P99Us) < hotFactor*float64(g.P99Us) {
			return -1
		}
	}
	return hot
}

// hotFactor is how many times every other group's p99 a hot group's is.
const hotFactor = 2

// groupsCaption says what a group's numbers are.
func groupsCaption() string {
	return "Operations by the group of nodes that served them (each group holds its own part of the keys); latency from the intended start, merged over the group's nodes; " +
		"ops/s: its successful operations over the phase; write p99: of its writes and deletes. Hot: a group whose p99 is at least twice every other group's in the phase."
}

// mdGroups writes the per-group table when the report has one.
func mdGroups(b *bytes.Buffer, r *model.Report) {
	rows := groupRows(r)
	if len(rows) == 0 {
		return
	}
	mdTableSection(b, "Per group", groupsCaption(), "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
		"phase", "group", "nodes", "count", "errors", "ops/s", "p50", "p99", "max", "write p99")
	for _, row := range rows {
		group, p99 := mdText(row.Group), row.Lat[1]
		if row.Hot {
			group, p99 = "**"+group+" (hot)**", "**"+p99+"**"
		}
		mdRowRaw(b, mdText(row.Phase), group, row.Nodes, row.Count, row.Errors, row.Rate, row.Lat[0], p99, row.Lat[2], row.WriteP99)
	}
	b.WriteString("\n")
}

// mdTableSection writes a section's title, its caption and the head of
// its table (the column names and their alignment row).
func mdTableSection(b *bytes.Buffer, title, caption, align string, head ...string) {
	fmt.Fprintf(b, "## %s\n\n%s\n\n", title, mdText(caption))
	mdRow(b, head...)
	b.WriteString(align + "\n")
}

// readRow is one read class (read, read-fresh) of one phase and its
// stale reads.
type readRow struct {
	Phase, Op, Count, Stale, MaxStale string
	HasStale, First                   bool
	Span                              int
}

// readRows lists, phase by phase, the read classes (op types read and
// read-fresh) with their stale reads: what a read routing buys. None when
// the report has no read-fresh reads and no stale read (nothing to tell
// apart).
func readRows(r *model.Report) []readRow {
	show := false
	for _, p := range r.Phases {
		for op, s := range p.Ops {
			show = show || op == "read-fresh" || s.StaleReads > 0
		}
	}
	if !show {
		return nil
	}
	var rows []readRow
	for _, p := range r.Phases {
		first := len(rows)
		for _, op := range format.OpOrder(p.Ops) {
			if op != "read" && op != "read-fresh" {
				continue
			}
			s := p.Ops[op]
			maxStale := ""
			if s.StaleReads > 0 {
				maxStale = format.Micros(s.MaxStalenessUs)
			}
			rows = append(rows, readRow{Phase: p.Name, Op: op, Count: format.Count(s.Count), Stale: format.Count(s.StaleReads),
				MaxStale: maxStale, HasStale: s.StaleReads > 0})
		}
		if len(rows) > first {
			rows[first].First, rows[first].Span = true, len(rows)-first
		}
	}
	return rows
}

// readsCaption says what a stale read is.
func readsCaption() string {
	return "Reads by class: read may be served by a replica, read-fresh by where every acknowledged write is visible. " +
		"A stale read returned a value superseded by a write acknowledged before the read began; max staleness: at least how long it had been superseded."
}

// mdReads writes the reads-by-class table when the report has one.
func mdReads(b *bytes.Buffer, r *model.Report) {
	rows := readRows(r)
	if len(rows) == 0 {
		return
	}
	mdTableSection(b, "Reads by class", readsCaption(), "|---|---|---:|---:|---:|",
		"phase", "class", "count", "stale reads", "max staleness")
	for _, row := range rows {
		stale := row.Stale
		if row.HasStale {
			stale = "**" + stale + "**"
		}
		mdRowRaw(b, mdText(row.Phase), row.Op, row.Count, stale, row.MaxStale)
	}
	b.WriteString("\n")
}

// addGroups adds the per-group and reads-by-class tables.
func (v *htmlView) addGroups(r *model.Report) {
	v.Groups, v.GroupsNote = groupRows(r), groupsCaption()
	v.Reads, v.ReadsNote = readRows(r), readsCaption()
}
