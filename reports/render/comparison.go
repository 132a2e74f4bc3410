package render

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
)

// comparisonHeader is the lines common to the Markdown and text renderings.
func comparisonHeader(c *judge.Comparison) (titleLine string, lines []string) {
	scen := c.A.Scenario
	if c.A.Scenario != c.B.Scenario {
		scen = c.A.Scenario + " vs " + c.B.Scenario
	}
	titleLine = "evalrun comparison: " + scen
	lines = []string{"A (reference): " + c.A.String(), "B (candidate): " + c.B.String()}
	if !c.SameTarget {
		what := "different databases or drivers"
		if c.A.Scenario == c.B.Scenario {
			what += " on the same scenario"
		}
		lines = append(lines, "Comparing "+what)
	}
	if len(c.Capacity) > 0 {
		lines = append(lines, "Limit: the max rate held may fall by "+strings.TrimPrefix(c.Capacity[0].Limit, "-")+"; lost and stale keys as in any comparison")
	} else {
		lines = append(lines, "Limits: "+c.Limits.String())
	}
	if c.Sets {
		lines = append(lines, fmt.Sprintf("Statistics: medians of the runs of each set, Mann-Whitney U test at α=%g and the shift's confidence interval (as benchstat); "+
			"a metric regresses when its change is significant and beyond its limit (%s); lost and stale keys: the worst run of each set", c.Alpha, judge.NeedRunsLine(c.Alpha)))
	}
	return
}

// ComparisonMarkdown renders the comparison: header, verdict, notes, then a table
// per phase (op, metric, A, B, change, verdict), the operational and the
// safety tables.
func ComparisonMarkdown(c *judge.Comparison) []byte {
	var b bytes.Buffer
	t, lines := comparisonHeader(c)
	fmt.Fprintf(&b, "# %s\n\n", mdText(t))
	for _, l := range lines {
		fmt.Fprintf(&b, "- %s\n", mdText(l))
	}
	b.WriteString("\n")
	if c.Regressed() {
		fmt.Fprintf(&b, "**%s**\n\n", mdText(c.VerdictLine()))
		for _, r := range c.Regressions {
			fmt.Fprintf(&b, "- %s\n", mdText(r))
		}
		b.WriteString("\n")
	} else {
		fmt.Fprintf(&b, "%s\n\n", mdText(c.VerdictLine()))
	}
	if len(c.Notes) > 0 {
		b.WriteString("Notes:\n\n")
		for _, n := range c.Notes {
			fmt.Fprintf(&b, "- %s\n", mdText(n))
		}
		b.WriteString("\n")
	}
	mdCapacityComparison(&b, c)
	for _, p := range c.Phases {
		fmt.Fprintf(&b, "## Phase %s\n\n", mdText(p.Name))
		mdTableHead(&b, c, "op")
		for _, op := range p.Ops {
			for i, m := range op.Metrics {
				name := ""
				if i == 0 {
					name = op.Op
				}
				mdMetricRow(&b, name, m)
			}
		}
		b.WriteString("\n")
	}
	if len(c.Operational) > 0 {
		b.WriteString("## Operational\n\n")
		mdTableHead(&b, c, "step")
		for _, o := range c.Operational {
			name := o.Step
			if o.Node > 0 {
				name += " " + format.Node(o.Node)
			}
			if o.N > 1 {
				name += fmt.Sprintf(" #%d", o.N)
			}
			for i, m := range o.Metrics {
				n := ""
				if i == 0 {
					n = name
				}
				mdMetricRow(&b, n, m)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("## Safety\n\n")
	mdTableHead(&b, c, "")
	for _, m := range c.Safety {
		mdMetricRow(&b, "", m)
	}
	b.WriteString("\nLatencies are from the intended start (coordinated-omission corrected). " +
		"Change is relative for latencies, throughput and durations, in percentage points for the error rate, absolute for counts of keys.\n")
	if c.Sets {
		b.WriteString("A and B are the medians of each set's runs (safety: the worst run); the interval is that of the shift of B against A " +
			"(Hodges-Lehmann), p the Mann-Whitney U test's.\n")
	}
	return b.Bytes()
}

// mdTableHead writes the head of a metric table; first is the name of
// the op or step column, "" for none (safety).
func mdTableHead(b *bytes.Buffer, c *judge.Comparison, first string) {
	cells := []string{"metric", "A", "B", "change", "verdict"}
	align := "|---|---:|---:|---:|---|"
	if c.Sets {
		cells = []string{"metric", "A median", "B median", "change", "confidence interval of the change", "p (n)", "verdict"}
		align = "|---|---:|---:|---:|---:|---:|---|"
	}
	if first != "" {
		cells = append([]string{first}, cells...)
		align = "|---" + align
	}
	mdRow(b, cells...)
	b.WriteString(align + "\n")
}

// mdMetricRow writes one metric; first is the op or step column, left out
// when "" (the safety table has none).
func mdMetricRow(b *bytes.Buffer, first string, m judge.MetricComparison) {
	verdict := m.Verdict()
	switch {
	case m.Regression:
		verdict = "**REGRESSION** (limit " + mdText(m.Limit) + ")"
	case m.Inconclusive:
		verdict = "too few runs (limit " + mdText(m.Limit) + ")"
	case m.Checked:
		verdict = "ok (limit " + mdText(m.Limit) + ")"
	}
	cells := []string{mdText(m.Metric), mdText(format.Value(m.Kind, m.A)), mdText(format.Value(m.Kind, m.B)), mdText(m.ChangeText), verdict}
	if st := m.Stat; st != nil {
		pn := "worst run"
		if !st.Worst {
			pn = fmt.Sprintf("%s (%d+%d)", format.P(st.P), st.NA, st.NB)
			if st.Significant {
				pn = "**" + pn + "**"
			}
		}
		if m.Checked && !m.Regression && !m.Inconclusive && !st.Worst && !st.Significant {
			verdict = "no significant change (limit " + mdText(m.Limit) + ")"
		}
		cells = []string{mdText(m.Metric), mdText(format.SetValue(m.Kind, m.A)), mdText(format.SetValue(m.Kind, m.B)), mdText(m.ChangeText),
			mdText(judge.ShiftCIText(m)), pn, verdict}
	}
	if first != "" || m.Kind != model.KindKeys {
		cells = append([]string{mdText(first)}, cells...)
	}
	mdRowRaw(b, cells...)
}

// ComparisonText renders a short summary for a terminal: who was compared, the
// verdict, the regressions, the improvements beyond the limits and the
// notes.
func ComparisonText(c *judge.Comparison) string {
	var b strings.Builder
	t, lines := comparisonHeader(c)
	b.WriteString(t + "\n")
	for _, l := range lines {
		b.WriteString("  " + l + "\n")
	}
	fmt.Fprintf(&b, "%s (%d checks)\n", c.VerdictLine(), c.Checks())
	textCapacityComparison(&b, c)
	for _, r := range c.Regressions {
		b.WriteString("  REGRESSION " + r + "\n")
	}
	for _, r := range c.Improvements() {
		b.WriteString("  improved " + r + "\n")
	}
	for _, n := range c.Notes {
		b.WriteString("  note: " + n + "\n")
	}
	return b.String()
}
