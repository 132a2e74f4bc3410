package render

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
)

// Markdown renders r as the Markdown a CI job posts: a title line, a short
// summary with the safety verdict, then the events, per-phase and
// operational tables. The output depends only on r.
func Markdown(r *model.Report) ([]byte, error) {
	if r == nil {
		return nil, fmt.Errorf("markdown: nil report")
	}
	var b bytes.Buffer
	verdict := mdHead(&b, r)
	findings := judge.SlowNodes(r)
	mdFindings(&b, findings)
	mdSummary(&b, r, verdict)
	mdCapacity(&b, r)
	mdEvents(&b, r.Events)
	mdPhases(&b, r)
	mdNodes(&b, r, findings)
	mdGroups(&b, r)
	mdReads(&b, r)
	mdGauges(&b, r.Phases)
	mdOperational(&b, r.Operational)
	mdReadBacks(&b, r.Safety.Verifications)
	mdEvidence(&b, r.Safety.Evidence)
	mdConsistency(&b, r.Consistency)
	fmt.Fprintf(&b, "%s Offsets (start, end, at) are from the start of the workload.\n", latencyNote)
	return b.Bytes(), nil
}

// mdHead writes the title and the banners (incomplete, data loss, a
// promised consistency violated, saturation) and the description; it returns the safety verdict.
func mdHead(b *bytes.Buffer, r *model.Report) string {
	fmt.Fprintf(b, "# evalrun: %s\n\n", mdText(title(r)))

	if !r.Complete {
		fmt.Fprintf(b, "> **%s** — the numbers below cover only what ran.\n\n", mdText(format.Status(r)))
	}
	verdict, _ := judge.ReportSafetyVerdict(r)
	if _, loss := judge.SafetyVerdict(r.Safety, r.Phases); loss {
		fmt.Fprintf(b, "> **DATA LOSS**: %s lost and %s stale keys after acknowledged writes.\n\n",
			format.Count(r.Safety.Lost), format.Count(r.Safety.Stale))
	}
	if line := judge.ConsistencyFailureLine(r.Consistency); line != "" {
		fmt.Fprintf(b, "> **NOT LINEARIZABLE** (a safety failure): %s.\n\n", mdText(line))
	}
	if line := judge.Saturation(r); line != "" {
		fmt.Fprintf(b, "> **Load generator saturated**: %s.\n\n", mdText(line))
	}
	if d := format.OneLine(r.Scenario.Description); d != "" {
		fmt.Fprintf(b, "%s\n\n", mdText(d))
	}
	return verdict
}

// mdSummary writes the short summary and the keys the safety verdict is about.
func mdSummary(b *bytes.Buffer, r *model.Report, verdict string) {
	for _, it := range summaryItems(r) {
		v := mdText(it.Value)
		if it.Label == "Safety" {
			v = mdSafety(verdict)
		}
		fmt.Fprintf(b, "- **%s:** %s\n", it.Label, v)
	}
	if s := r.Safety; len(s.LostKeys) > 0 || len(s.StaleKeys) > 0 {
		if len(s.LostKeys) > 0 {
			fmt.Fprintf(b, "- **Lost keys** (first %d): %s\n", len(s.LostKeys), mdKeys(s.LostKeys))
		}
		if len(s.StaleKeys) > 0 {
			fmt.Fprintf(b, "- **Stale keys** (first %d): %s\n", len(s.StaleKeys), mdKeys(s.StaleKeys))
		}
	}
	if s := r.Safety; len(s.QuorumNotFoundKeys) > 0 {
		fmt.Fprintf(b, "- **Quorum not-found keys** (first %d): %s\n", len(s.QuorumNotFoundKeys), mdKeys(s.QuorumNotFoundKeys))
	}
	if s := r.Safety; len(s.UnconfirmedKeys) > 0 {
		fmt.Fprintf(b, "- **Unconfirmed keys** (first %d): %s\n", len(s.UnconfirmedKeys), mdKeys(s.UnconfirmedKeys))
	}
	if s := r.Safety; len(s.ReadStaleKeys) > 0 {
		fmt.Fprintf(b, "- **Stale on the read path** (first %d): %s\n", len(s.ReadStaleKeys), mdKeys(s.ReadStaleKeys))
	}
	b.WriteString("\n")
}

// mdEvents writes the timeline's steps as they ran.
func mdEvents(b *bytes.Buffer, events []model.Event) {
	b.WriteString("## Events\n\n")
	if len(events) == 0 {
		b.WriteString("No timeline events.\n\n")
	} else {
		mdRow(b, "step", "node", "start", "end", "outcome")
		b.WriteString("|---|---|---:|---:|---|\n")
		for _, e := range events {
			out := string(e.Outcome)
			if e.Detail != "" {
				out += " — " + e.Detail
			}
			mdRow(b, e.Step, format.Node(e.Node), format.Offset(e.StartMs), eventEnd(e), out)
		}
		b.WriteString("\n")
	}
}

// mdPhases writes the per-phase table.
func mdPhases(b *bytes.Buffer, r *model.Report) {
	b.WriteString("## Phases\n\n")
	if len(r.Phases) == 0 {
		b.WriteString("No phases recorded.\n\n")
	} else {
		mdRow(b, "phase", "op", "count", "errors", "late", "missed", "p50", "p90", "p99", "p99.9", "max", "ops/s")
		b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, row := range phaseRows(r) {
			l := latencyCells(row.Stats)
			phase, op := row.Phase, row.Op
			if row.Total {
				op = "**all**"
			}
			mdRowRaw(b, mdText(phase), op, format.Count(row.Stats.Count), format.Errors(row.Stats.Errors, row.Stats.Count),
				format.Count(row.Stats.Late), format.Count(row.Stats.Missed), l[0], l[1], l[2], l[3], l[4], format.Rate(row.Stats.Throughput))
		}
		b.WriteString("\n")
	}
}

// mdOperational writes a row per fault, recovery, membership, backup or
// restore step; the freeze, failover and handoff columns only when a step
// has them.
func mdOperational(b *bytes.Buffer, ops []model.Operational) {
	b.WriteString("## Operational\n\n")
	if len(ops) == 0 {
		b.WriteString("No fault, membership, backup or restore steps.\n\n")
	} else {
		handoff, failover, freeze := anyHandoff(ops), anyFailover(ops), anyFreeze(ops)
		head := []string{"step", "node", "at", "time to first error", "unavailable", "recovery to baseline p99", "duration", "bytes", "peak p99"}
		rule := "|---|---|---:|---:|---:|---:|---:|---:|---:|"
		if freeze {
			head, rule = append(head, "freeze"), rule+"---:|"
		}
		if failover {
			head, rule = append(head, "failover (to first acked write)"), rule+"---:|"
		}
		if handoff {
			head, rule = append(head, "handoff"), rule+"---:|"
		}
		mdRow(b, head...)
		b.WriteString(rule + "\n")
		for _, o := range ops {
			c := opsCells(o)
			row := []string{opsStep(o), format.Node(o.Node), format.Offset(o.AtMs), c[0], c[1], c[2], c[3], c[4], c[5]}
			if freeze {
				row = append(row, freezeCell(o))
			}
			if failover {
				row = append(row, failoverCell(o))
			}
			if handoff {
				row = append(row, handoffCell(o))
			}
			mdRow(b, row...)
		}
		b.WriteString("\n")
	}
}

// mdReadBacks writes the read-backs of the acknowledged keys.
func mdReadBacks(b *bytes.Buffer, v []model.Verification) {
	if len(v) == 0 {
		return
	}
	b.WriteString("## Read-backs\n\n")
	readStale := anyReadStale(v)
	head := []string{"step", "target", "at", "took", "checked", "verified", "lost", "stale", "quorum not-found", "unconfirmed", "unreadable"}
	rule := "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	if readStale {
		head, rule = append(head, "stale on the read path"), rule+"---:|"
	}
	mdRow(b, head...)
	b.WriteString(rule + "\n")
	for _, x := range v {
		row := []string{x.Step, x.Target, format.Offset(x.AtMs), format.Millis(x.DurationMs), format.Count(x.Checked),
			format.Count(x.Verified), format.Count(x.Lost), format.Count(x.Stale), format.Count(x.QuorumNotFound),
			format.Count(x.Unconfirmed), format.Count(x.Unreadable)}
		if readStale {
			row = append(row, format.Count(x.ReadStale))
		}
		mdRow(b, row...)
	}
	b.WriteString("\n")
}

// mdEvidence writes how each key not verified was judged and what each
// replica held.
func mdEvidence(b *bytes.Buffer, ev []model.KeyEvidence) {
	if len(ev) == 0 {
		return
	}
	b.WriteString("## Keys not verified: how each was judged, what each replica held\n\n")
	mdRow(b, "key", "verdict", "judged by", "partition", "node", "primary", "replica held")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, e := range ev {
		for _, row := range evidenceRows(e) {
			mdRow(b, row[:]...)
		}
	}
	b.WriteString("\n")
}

// mdText makes s safe inside Markdown text and table cells: one line,
// pipes and backslashes escaped, no HTML tags.
func mdText(s string) string {
	s = format.OneLine(s)
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
		parts[i] = "`" + strings.ReplaceAll(format.OneLine(k), "`", "'") + "`"
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
func mdGauges(b *bytes.Buffer, phases []model.Phase) {
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
func gaugeRows(phases []model.Phase) []gaugeRow {
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
			rows = append(rows, gaugeRow{Gauge: name, Phase: p.Name, Samples: format.Count(int64(g.Samples)),
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
func anyReadStale(vs []model.Verification) bool {
	for _, v := range vs {
		if v.ReadStale > 0 {
			return true
		}
	}
	return false
}
