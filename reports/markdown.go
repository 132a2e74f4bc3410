package reports

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Markdown renders r as the Markdown a CI job posts: a title line, a short
// summary with the safety verdict, then the events, per-phase and
// operational tables. The output depends only on r.
func Markdown(r *Report) ([]byte, error) {
	if r == nil {
		return nil, fmt.Errorf("markdown: nil report")
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# evalrun: %s\n\n", mdText(title(r)))

	if !r.Complete {
		fmt.Fprintf(&b, "> **%s** — the numbers below cover only what ran.\n\n", mdText(status(r)))
	}
	verdict, loss := SafetyVerdict(r.Safety, r.Phases)
	if loss {
		fmt.Fprintf(&b, "> **DATA LOSS**: %s lost and %s stale keys after acknowledged writes.\n\n",
			fmtCount(r.Safety.Lost), fmtCount(r.Safety.Stale))
	}
	if line := Saturation(r); line != "" {
		fmt.Fprintf(&b, "> **Load generator saturated**: %s.\n\n", mdText(line))
	}
	if d := oneLine(r.Scenario.Description); d != "" {
		fmt.Fprintf(&b, "%s\n\n", mdText(d))
	}

	for _, it := range summaryItems(r) {
		v := mdText(it.Value)
		if it.Label == "Safety" {
			v = mdSafety(verdict)
		}
		fmt.Fprintf(&b, "- **%s:** %s\n", it.Label, v)
	}
	if s := r.Safety; len(s.LostKeys) > 0 || len(s.StaleKeys) > 0 {
		if len(s.LostKeys) > 0 {
			fmt.Fprintf(&b, "- **Lost keys** (first %d): %s\n", len(s.LostKeys), mdKeys(s.LostKeys))
		}
		if len(s.StaleKeys) > 0 {
			fmt.Fprintf(&b, "- **Stale keys** (first %d): %s\n", len(s.StaleKeys), mdKeys(s.StaleKeys))
		}
	}
	if s := r.Safety; len(s.QuorumNotFoundKeys) > 0 {
		fmt.Fprintf(&b, "- **Quorum not-found keys** (first %d): %s\n", len(s.QuorumNotFoundKeys), mdKeys(s.QuorumNotFoundKeys))
	}
	if s := r.Safety; len(s.UnconfirmedKeys) > 0 {
		fmt.Fprintf(&b, "- **Unconfirmed keys** (first %d): %s\n", len(s.UnconfirmedKeys), mdKeys(s.UnconfirmedKeys))
	}
	if s := r.Safety; len(s.ReadStaleKeys) > 0 {
		fmt.Fprintf(&b, "- **Stale on the read path** (first %d): %s\n", len(s.ReadStaleKeys), mdKeys(s.ReadStaleKeys))
	}
	b.WriteString("\n")

	b.WriteString("## Events\n\n")
	if len(r.Events) == 0 {
		b.WriteString("No timeline events.\n\n")
	} else {
		mdRow(&b, "step", "node", "start", "end", "outcome")
		b.WriteString("|---|---|---:|---:|---|\n")
		for _, e := range r.Events {
			out := string(e.Outcome)
			if e.Detail != "" {
				out += " — " + e.Detail
			}
			mdRow(&b, e.Step, fmtNode(e.Node), fmtOffset(e.StartMs), eventEnd(e), out)
		}
		b.WriteString("\n")
	}

	b.WriteString("## Phases\n\n")
	if len(r.Phases) == 0 {
		b.WriteString("No phases recorded.\n\n")
	} else {
		mdRow(&b, "phase", "op", "count", "errors", "late", "missed", "p50", "p90", "p99", "p99.9", "max", "ops/s")
		b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, row := range phaseRows(r) {
			l := latencyCells(row.Stats)
			phase, op := row.Phase, row.Op
			if row.Total {
				op = "**all**"
			}
			mdRowRaw(&b, mdText(phase), op, fmtCount(row.Stats.Count), fmtErrors(row.Stats.Errors, row.Stats.Count),
				fmtCount(row.Stats.Late), fmtCount(row.Stats.Missed), l[0], l[1], l[2], l[3], l[4], fmtRate(row.Stats.Throughput))
		}
		b.WriteString("\n")
	}

	mdGauges(&b, r.Phases)

	b.WriteString("## Operational\n\n")
	if len(r.Operational) == 0 {
		b.WriteString("No fault, membership, backup or restore steps.\n\n")
	} else {
		handoff, failover := anyHandoff(r.Operational), anyFailover(r.Operational)
		head := []string{"step", "node", "at", "time to first error", "unavailable", "recovery to baseline p99", "duration", "bytes", "peak p99"}
		rule := "|---|---|---:|---:|---:|---:|---:|---:|---:|"
		if failover {
			head, rule = append(head, "failover (to first acked write)"), rule+"---:|"
		}
		if handoff {
			head, rule = append(head, "handoff"), rule+"---:|"
		}
		mdRow(&b, head...)
		b.WriteString(rule + "\n")
		for _, o := range r.Operational {
			c := opsCells(o)
			row := []string{opsStep(o), fmtNode(o.Node), fmtOffset(o.AtMs), c[0], c[1], c[2], c[3], c[4], c[5]}
			if failover {
				row = append(row, failoverCell(o))
			}
			if handoff {
				row = append(row, handoffCell(o))
			}
			mdRow(&b, row...)
		}
		b.WriteString("\n")
	}

	if v := r.Safety.Verifications; len(v) > 0 {
		b.WriteString("## Read-backs\n\n")
		readStale := anyReadStale(v)
		head := []string{"step", "target", "at", "took", "checked", "verified", "lost", "stale", "quorum not-found", "unconfirmed", "unreadable"}
		rule := "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		if readStale {
			head, rule = append(head, "stale on the read path"), rule+"---:|"
		}
		mdRow(&b, head...)
		b.WriteString(rule + "\n")
		for _, x := range v {
			row := []string{x.Step, x.Target, fmtOffset(x.AtMs), fmtMs(x.DurationMs), fmtCount(x.Checked),
				fmtCount(x.Verified), fmtCount(x.Lost), fmtCount(x.Stale), fmtCount(x.QuorumNotFound),
				fmtCount(x.Unconfirmed), fmtCount(x.Unreadable)}
			if readStale {
				row = append(row, fmtCount(x.ReadStale))
			}
			mdRow(&b, row...)
		}
		b.WriteString("\n")
	}

	if ev := r.Safety.Evidence; len(ev) > 0 {
		b.WriteString("## Keys not verified: how each was judged, what each replica held\n\n")
		mdRow(&b, "key", "verdict", "judged by", "partition", "node", "primary", "replica held")
		b.WriteString("|---|---|---|---|---|---|---|\n")
		for _, e := range ev {
			for _, row := range evidenceRows(e) {
				mdRow(&b, row[:]...)
			}
		}
		b.WriteString("\n")
	}

	fmt.Fprintf(&b, "%s Offsets (start, end, at) are from the start of the workload.\n", latencyNote)
	return b.Bytes(), nil
}

// mdText makes s safe inside Markdown text and table cells: one line,
// pipes and backslashes escaped, no HTML tags.
func mdText(s string) string {
	s = oneLine(s)
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "<", "&lt;")
	return s
}

// mdSafety renders the safety verdict with its first word in bold.
func mdSafety(verdict string) string {
	head, rest, ok := strings.Cut(verdict, " — ")
	if !ok {
		return mdText(verdict)
	}
	return "**" + mdText(head) + "** — " + mdText(rest)
}

func mdKeys(keys []string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = "`" + strings.ReplaceAll(oneLine(k), "`", "'") + "`"
	}
	return strings.Join(parts, ", ")
}

// mdRow writes a table row, escaping every cell.
func mdRow(b *bytes.Buffer, cells ...string) {
	for i := range cells {
		cells[i] = mdText(cells[i])
	}
	mdRowRaw(b, cells...)
}

// mdRowRaw writes a table row of cells already escaped.
func mdRowRaw(b *bytes.Buffer, cells ...string) {
	b.WriteString("| ")
	b.WriteString(strings.Join(cells, " | "))
	b.WriteString(" |\n")
}

// mdGauges writes, when the cluster reported gauges, each gauge's samples
// summarised per phase (a replica's worst lag while a spike lasted).
func mdGauges(b *bytes.Buffer, phases []Phase) {
	rows := gaugeRows(phases)
	if len(rows) == 0 {
		return
	}
	b.WriteString("## Cluster gauges per phase\n\n")
	mdRow(b, "gauge", "phase", "samples", "min", "p99", "max", "last")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|\n")
	for _, g := range rows {
		mdRow(b, g.Gauge, g.Phase, g.Samples, g.Min, g.P99, g.Max, g.Last)
	}
	b.WriteString("\n")
}

// gaugeRow is one gauge in one phase, formatted.
type gaugeRow struct {
	Gauge, Phase, Samples, Min, P99, Max, Last string
}

// gaugeRows lists every gauge's summary per phase, by gauge name, then in
// phase order.
func gaugeRows(phases []Phase) []gaugeRow {
	names := map[string]bool{}
	for _, p := range phases {
		for name := range p.Gauges {
			names[name] = true
		}
	}
	var rows []gaugeRow
	for _, name := range slices.Sorted(maps.Keys(names)) {
		for _, p := range phases {
			g, ok := p.Gauges[name]
			if !ok {
				continue
			}
			rows = append(rows, gaugeRow{Gauge: name, Phase: p.Name, Samples: fmtCount(int64(g.Samples)),
				Min: fmtGauge(g.Min), P99: fmtGauge(g.P99), Max: fmtGauge(g.Max), Last: fmtGauge(g.Last)})
		}
	}
	return rows
}

// fmtGauge prints a gauge's value with up to three decimals.
func fmtGauge(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// anyReadStale: some read-back found keys stale on the read path only.
func anyReadStale(vs []Verification) bool {
	for _, v := range vs {
		if v.ReadStale > 0 {
			return true
		}
	}
	return false
}
