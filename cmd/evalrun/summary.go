package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/reports/render"
)

func us(v int64) string { return fmtDur(time.Duration(v) * time.Microsecond) }

func msOrDash(p *int64, never string) string {
	switch {
	case p == nil:
		return "—"
	case *p < 0:
		return never
	}
	return fmtDur(time.Duration(*p) * time.Millisecond)
}

// printSummary prints the short summary a person reads after a run.
func printSummary(w io.Writer, r *model.Report) {
	state := "complete"
	if !r.Complete {
		state = "INCOMPLETE: " + r.Incomplete
	}
	fmt.Fprintf(w, "\n%s on %s %s (%s, %d nodes): %s\n", r.Scenario.Name, r.Driver.Name, r.Driver.DBVersion, r.Driver.Provider, r.Driver.Nodes, state)
	fmt.Fprintf(w, "load: target %.0f ops/s, %d intended, %d late (max start lag %s), %d missed\n",
		r.Workload.TargetRate, r.Load.Intended, r.Load.Late, us(r.Load.MaxStartLagUs), r.Load.Missed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tops\terrors\tlate\tmissed\tp50\tp99\tmax\tops/s\t")
	for _, p := range r.Phases {
		t := p.Total
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%.0f\t\n", p.Name, t.Count, t.Errors, t.Late, t.Missed, us(t.P50Us), us(t.P99Us), us(t.MaxUs), t.Throughput)
	}
	_ = tw.Flush()
	if line := render.HarnessCPULine(r); line != "" {
		fmt.Fprintf(w, "evalrun CPU: %s\n", line)
	}
	if line := judge.Saturation(r); line != "" {
		fmt.Fprintf(w, "LOAD GENERATOR SATURATED: %s\n", line)
	}
	for _, f := range judge.SlowNodes(r) {
		fmt.Fprintf(w, "SLOW NODE: %s\n", f.Detail)
	}
	for _, o := range r.Operational {
		node := ""
		if o.Node > 0 {
			node = fmt.Sprintf(" node %d", o.Node)
		}
		handoff := ""
		if o.HandoffMs != nil || o.HandoffPartitions != nil {
			handoff = "; handoff not done"
			if o.HandoffMs != nil {
				handoff = "; handoff " + msOrDash(o.HandoffMs, "not done")
			}
			if p := o.HandoffPartitions; p != nil && *p > 0 {
				handoff += fmt.Sprintf(" (%d partitions)", *p)
			}
		}
		if o.FailoverMs != nil {
			handoff = "; a write acknowledged again after " + msOrDash(o.FailoverMs, "never") + handoff
		}
		if o.Detail != "" {
			handoff += " (" + o.Detail + ")"
		}
		switch o.Kind {
		case "fault", "recovery", "failover":
			fmt.Fprintf(w, "%s%s at %s: first error after %s, unavailable %s, back to baseline p99 after %s%s\n",
				o.Step, node, fmtDur(time.Duration(o.AtMs)*time.Millisecond),
				msOrDash(o.TimeToFirstErrorMs, "never"), msOrDash(o.UnavailableMs, "—"), msOrDash(o.RecoveryToBaselineMs, "not recovered"), handoff)
		default:
			extra := ""
			if o.Bytes != nil {
				extra = fmt.Sprintf(", %d bytes", *o.Bytes)
			}
			fmt.Fprintf(w, "%s%s at %s: took %s%s%s\n", o.Step, node, fmtDur(time.Duration(o.AtMs)*time.Millisecond), msOrDash(o.DurationMs, "—"), extra, handoff)
		}
	}
	s := r.Safety
	verdict, _ := judge.ReportSafetyVerdict(r) // the one verdict, as the Markdown and HTML say it
	fmt.Fprintf(w, "safety: %s\n", verdict)
	if c := judge.ConsistencyVerdict(r.Consistency); c != "" {
		fmt.Fprintf(w, "consistency: %s\n", c)
	}
	if s.ReadSettings != "" {
		strict := "no stricter read: a key found missing counts as lost"
		if s.StrictReadSettings != "" {
			strict = "lost only when a strict read (" + s.StrictReadSettings + ") finds nothing too"
		}
		fmt.Fprintf(w, "  read back with %s; %s\n", s.ReadSettings, strict)
	}
	for _, v := range s.Verifications {
		if v.Step == "final" {
			continue
		}
		fmt.Fprintf(w, "  %s (%s): checked %d, verified %d, lost %d, stale %d\n", v.Step, v.Target, v.Checked, v.Verified, v.Lost, v.Stale)
	}
}
