package render

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
)

// This file renders the history check (model.Consistency) as the section
// "Consistency (linearizability)" of the Markdown and the HTML page: the
// verdict, the promise, the keys found not linearizable or unknown with
// the operations that cannot be ordered, the session guarantees and what
// the check cost. A run that recorded no history shows nothing.

// consistencyView is what both renderings show of the check.
type consistencyView struct {
	Verdict  string
	Failed   bool // a promised violation: a safety failure
	Alert    bool // the verdict is not "linearizable: yes"
	Items    []item
	Findings []findingView
	Sessions string
	// SessionAlert: violations were counted.
	SessionAlert bool
	Examples     [][5]string // guarantee, client, key, first, then
}

// findingView is one key not linearizable, or unknown.
type findingView struct {
	Key, Ops, Verdict, Reason, Visualization string
	Alert                                    bool
	Anomaly                                  [][7]string // client, op, invoke, return, value, outcome, node
}

// anomalyHeads are the columns of a finding's anomaly operations.
var anomalyHeads = []string{"client", "op", "invoke", "return", "value", "outcome", "node"}

func newConsistencyView(c *model.Consistency) *consistencyView {
	if c == nil {
		return nil
	}
	v := &consistencyView{
		Verdict: judge.ConsistencyVerdict(c),
		Failed:  judge.ConsistencyFailed(c),
		Alert:   !c.Checked || c.Verdict != "linearizable" || judge.ConsistencyFailed(c),
	}
	promised := c.Promised
	if promised == "" {
		promised = "not stated by the driver"
	}
	v.Items = []item{
		{Label: "Verdict", Value: v.Verdict, Alert: v.Alert},
		{Label: "Promised", Value: fmt.Sprintf("%s (linearizable: %s; session guarantees: %s)", promised, yesNo(c.PromisedLinearizable), yesNo(c.PromisedSessions))},
	}
	if c.PromiseDetail != "" {
		v.Items = append(v.Items, item{Label: "Why", Value: c.PromiseDetail})
	}
	v.Items = append(v.Items,
		item{Label: "Keys checked", Value: fmt.Sprintf("%s: %s linearizable, %s not linearizable, %s unknown",
			format.Count(int64(c.Keys)), format.Count(int64(c.Linearizable)), format.Count(int64(c.NotLinearizable)), format.Count(int64(c.Unknown))),
			Alert: c.NotLinearizable > 0 || c.Unknown > 0},
		item{Label: "Operations", Value: format.Count(int64(c.Ops))},
		item{Label: "Budget per key", Value: format.Millis(c.BudgetPerKeyMs) + " (a key whose check runs out of it is unknown, never linearizable)"},
	)
	if c.TruncatedKeys > 0 {
		v.Items = append(v.Items, item{Label: "Keys cut", Value: fmt.Sprintf("%d keys reached the bound of %s operations a key (the check's memory grows with the square of a key's operations); each holds the operations invoked before its own cutoff, and that prefix is checked",
			c.TruncatedKeys, format.Count(int64(c.MaxOpsPerKey)))})
	}
	if c.Truncated {
		v.Items = append(v.Items, item{Label: "History", Value: "truncated: it reached its bound (max ops) and holds only the operations invoked before " + format.Offset(c.TruncatedAtMs), Alert: true})
	} else {
		v.Items = append(v.Items, item{Label: "History", Value: "complete: every operation on the sampled keys"})
	}
	cost := fmt.Sprintf("CPU %s, wall %s, peak heap %s",
		format.Millis(c.CheckCPUMs), format.Millis(c.CheckWallMs), format.Bytes(int64(c.CheckPeakHeapB)))
	if c.RunCPUMs > 0 && c.RunMaxRSSB > 0 {
		cost += fmt.Sprintf(" (the run before it: CPU %s, the check %.1f%% of it; the process's peak memory %s, the check's heap %.1f%% of it)",
			format.Millis(c.RunCPUMs), 100*float64(c.CheckCPUMs)/float64(c.RunCPUMs),
			format.Bytes(int64(c.RunMaxRSSB)), 100*float64(c.CheckPeakHeapB)/float64(c.RunMaxRSSB))
	}
	v.Items = append(v.Items, item{Label: "Check cost", Value: cost})

	for _, f := range c.Findings {
		fv := findingView{Key: f.Key, Ops: format.Count(int64(f.Ops)), Verdict: f.Verdict, Reason: f.Reason,
			Visualization: f.Visualization, Alert: f.Verdict == "not_linearizable"}
		if fv.Key == "" {
			fv.Key = "key " + strconv.Itoa(f.KeyIdx)
		}
		for _, op := range f.Anomaly {
			fv.Anomaly = append(fv.Anomaly, historyOpRow(op))
		}
		v.Findings = append(v.Findings, fv)
	}

	s := c.Sessions
	v.Sessions = fmt.Sprintf("%s clients, %s reads: %s monotonic-reads violations, %s read-your-writes violations",
		format.Count(int64(s.Clients)), format.Count(int64(s.Reads)), format.Count(int64(s.MonotonicReads)), format.Count(int64(s.ReadYourWrites)))
	if n := s.MonotonicReads + s.ReadYourWrites; n > 0 {
		v.SessionAlert = true
		if c.PromisedSessions {
			v.Sessions += " (promised: a safety failure)"
		} else {
			v.Sessions += " (not promised: observed, as documented)"
		}
	}
	for _, e := range s.Examples {
		v.Examples = append(v.Examples, [5]string{e.Guarantee, strconv.Itoa(e.Client), e.Key, opText(e.First), opText(e.Then)})
	}
	return v
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// historyOpRow is one operation as the anomaly tables show it.
func historyOpRow(op model.HistoryOp) [7]string {
	value := "—"
	switch {
	case op.Foreign:
		value = "a value no write of this run made"
	case op.Value != 0:
		value = "write " + strconv.FormatUint(op.Value, 10)
	}
	node := "—"
	if op.Node > 0 {
		node = format.Node(op.Node)
	}
	return [7]string{strconv.Itoa(op.Client), op.Op, offsetMs(op.InvokeMs), offsetMs(op.ReturnMs), value, op.Outcome, node}
}

// opText is an operation in one phrase: "get write 17 (ok) 12.300s–12.304s".
func opText(op model.HistoryOp) string {
	r := historyOpRow(op)
	s := r[1]
	if r[4] != "—" {
		s += " " + r[4]
	}
	return fmt.Sprintf("%s (%s) %s–%s", s, r[5], r[2], r[3])
}

// offsetMs is a time since the workload started, to the microsecond.
func offsetMs(ms float64) string {
	return strconv.FormatFloat(ms/1000, 'f', 6, 64) + "s"
}

// mdConsistency writes the section; nothing when the run recorded no
// history.
func mdConsistency(b *bytes.Buffer, c *model.Consistency) {
	v := newConsistencyView(c)
	if v == nil {
		return
	}
	b.WriteString("## Consistency (linearizability)\n\n")
	for _, it := range v.Items {
		val := mdText(it.Value)
		if it.Alert {
			val = "**" + val + "**"
		}
		fmt.Fprintf(b, "- **%s:** %s\n", it.Label, val)
	}
	b.WriteString("\n")
	if len(v.Findings) > 0 {
		b.WriteString("### Keys not linearizable or unknown\n\n")
		mdRow(b, "key", "ops", "verdict", "reason", "visualization")
		b.WriteString("|---|---:|---|---|---|\n")
		for _, f := range v.Findings {
			link := "—"
			if f.Visualization != "" {
				link = "[" + mdText(f.Visualization) + "](" + mdLinkTarget(f.Visualization) + ")"
			}
			mdRowRaw(b, "`"+mdText(f.Key)+"`", f.Ops, mdText(f.Verdict), mdText(orDash(f.Reason)), link)
		}
		b.WriteString("\n")
		for _, f := range v.Findings {
			if len(f.Anomaly) == 0 {
				continue
			}
			fmt.Fprintf(b, "Operations of `%s` that cannot be ordered (times from the start of the workload):\n\n", mdText(f.Key))
			mdRow(b, anomalyHeads...)
			b.WriteString("|---:|---|---:|---:|---|---|---|\n")
			for _, row := range f.Anomaly {
				mdRow(b, row[:]...)
			}
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(b, "**Session guarantees** (per client, on the sampled keys): %s\n\n", mdText(v.Sessions))
	if len(v.Examples) > 0 {
		mdRow(b, "guarantee", "client", "key", "first", "then")
		b.WriteString("|---|---:|---|---|---|\n")
		for _, e := range v.Examples {
			mdRow(b, e[:]...)
		}
		b.WriteString("\n")
	}
}

// mdLinkTarget keeps a relative link usable in Markdown (spaces and
// parentheses escaped).
func mdLinkTarget(p string) string {
	var out []byte
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case ' ', '(', ')', '<', '>':
			out = append(out, fmt.Sprintf("%%%02X", c)...)
		default:
			out = append(out, c)
		}
	}
	return string(out)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// consistencyHTML is the page's section (htmlView.Consistency).
const consistencyHTML = `{{with .Consistency}}
<h2>Consistency (linearizability)</h2>
<table class="kv">
{{range .Items}}<tr><th>{{.Label}}</th><td{{if .Alert}} class="alert"{{end}}>{{.Value}}</td></tr>
{{end}}</table>
{{if .Findings}}<h3>Keys not linearizable or unknown</h3>
<table>
<tr><th>key</th><th class="n">ops</th><th>verdict</th><th>reason</th><th>visualization</th></tr>
{{range .Findings}}<tr><td><code>{{.Key}}</code></td><td class="n">{{.Ops}}</td><td{{if .Alert}} class="alert"{{end}}>{{.Verdict}}</td><td class="small">{{.Reason}}</td><td>{{if .Visualization}}<a href="{{.Visualization}}">{{.Visualization}}</a>{{else}}—{{end}}</td></tr>
{{end}}</table>
{{range .Findings}}{{if .Anomaly}}<p>Operations of <code>{{.Key}}</code> that cannot be ordered (times from the start of the workload):</p>
<table>
<tr><th class="n">client</th><th>op</th><th class="n">invoke</th><th class="n">return</th><th>value</th><th>outcome</th><th>node</th></tr>
{{range .Anomaly}}<tr><td class="n">{{index . 0}}</td><td>{{index . 1}}</td><td class="n">{{index . 2}}</td><td class="n">{{index . 3}}</td><td>{{index . 4}}</td><td>{{index . 5}}</td><td>{{index . 6}}</td></tr>
{{end}}</table>
{{end}}{{end}}{{end}}<p><strong>Session guarantees</strong> (per client, on the sampled keys): <span{{if .SessionAlert}} class="alert"{{end}}>{{.Sessions}}</span></p>
{{if .Examples}}<table>
<tr><th>guarantee</th><th class="n">client</th><th>key</th><th>first</th><th>then</th></tr>
{{range .Examples}}<tr><td>{{index . 0}}</td><td class="n">{{index . 1}}</td><td><code>{{index . 2}}</code></td><td class="small">{{index . 3}}</td><td class="small">{{index . 4}}</td></tr>
{{end}}</table>
{{end}}{{end}}`
