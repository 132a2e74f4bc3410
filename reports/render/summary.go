package render

import (
	"fmt"
	"strings"
	"time"

	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
)

// This file derives the human summary shared by the Markdown and the HTML
// renderings, so both say the same thing in the same words.

// latencyNote explains how latencies were measured.
const latencyNote = "Latencies are measured from each operation's intended start time " +
	"(coordinated-omission corrected): time spent waiting for a free slot, " +
	"or behind a stalled database, counts."

// item is one labelled line of the summary.
type item struct {
	Label string
	Value string
	Alert bool // render as a warning
}

// target names the database under test: "etcd 3.5.17 (driver etcd, provider docker)".
func target(r *model.Report) string {
	d := r.Driver
	db := d.DB
	if db == "" {
		db = d.Name
	}
	if d.DBVersion != "" {
		db += " " + d.DBVersion
	}
	var extra []string
	if d.Name != "" {
		extra = append(extra, "driver "+d.Name)
	}
	if d.Provider != "" {
		extra = append(extra, "provider "+d.Provider)
	}
	if d.Nodes > 0 {
		extra = append(extra, fmt.Sprintf("%d nodes", d.Nodes))
	}
	if len(extra) > 0 {
		db += " (" + strings.Join(extra, ", ") + ")"
	}
	return db
}

func scenarioName(r *model.Report) string {
	if r.Scenario.Name != "" {
		return r.Scenario.Name
	}
	if r.Scenario.Source != "" {
		return r.Scenario.Source
	}
	return "unnamed scenario"
}

// title is the one-line headline of a report.
func title(r *model.Report) string {
	return fmt.Sprintf("%s on %s — %s", scenarioName(r), target(r), format.Status(r))
}

// totals sums completed operations and errors over the phases (over the
// windows when the report has no phases).
func totals(r *model.Report) (count, errs int64) {
	if len(r.Phases) > 0 {
		for _, p := range r.Phases {
			count += p.Total.Count
			errs += p.Total.Errors
		}
		return
	}
	for _, w := range r.Windows {
		count += w.Count
		errs += w.Errors
	}
	return
}

// summaryItems is the short summary: run, duration, load, operations,
// schedule keeping and the safety verdict.
func summaryItems(r *model.Report) []item {
	var items []item
	run := r.Run.ID
	if !r.Run.Start.IsZero() {
		run += ", started " + r.Run.Start.UTC().Format(time.DateTime) + " UTC"
	}
	if r.Run.Version != "" {
		run += ", evalrun " + r.Run.Version
	}
	run += fmt.Sprintf(", seed %d", r.Run.Seed)
	items = append(items, item{Label: "Run", Value: strings.TrimPrefix(run, ", ")})

	dur := format.RunDuration(r.Run.DurationMs)
	if ts := r.Scenario.TimeScale; ts != 0 && ts != 1 {
		dur += fmt.Sprintf(" (scenario time scaled ×%g)", ts)
	}
	items = append(items, item{Label: "Duration", Value: dur})

	w := r.Workload
	wl := fmt.Sprintf("%s ops/s target, concurrency %d", format.Rate(w.TargetRate), w.Concurrency)
	if len(w.Mix) > 0 {
		wl += "; mix " + format.Mix(w.Mix)
	}
	wl += fmt.Sprintf("; %s keys", format.Count(int64(w.Keys)))
	if w.Distribution != "" {
		wl += " " + w.Distribution
	}
	wl += fmt.Sprintf(", %d B values, timeout %s", w.ValueSize, format.Millis(w.TimeoutMs))
	if w.Preload {
		wl += ", preloaded"
	}
	items = append(items, item{Label: "Workload", Value: wl})

	count, errs := totals(r)
	items = append(items, item{
		Label: "Operations",
		Value: fmt.Sprintf("%s completed, %s errors (%s)", format.Count(count), format.Count(errs), format.Percent(format.ErrorRate(errs, count))),
		Alert: errs > 0,
	})

	l := r.Load
	items = append(items, item{
		Label: "Schedule",
		Value: fmt.Sprintf("%s intended, %s issued; %s late (started more than %s after the intended time), %s missed (not started within %s); max start lag %s",
			format.Count(l.Intended), format.Count(l.Issued), format.Count(l.Late), format.Micros(l.LateThresholdUs),
			format.Count(l.Missed), format.Millis(l.MaxLagMs), format.Micros(l.MaxStartLagUs)),
		Alert: l.Missed > 0,
	})
	if line := workersLine(r); line != "" {
		items = append(items, item{Label: "Workers", Value: line})
	}
	if line := StartLagLine(r); line != "" {
		items = append(items, item{Label: "Start lag", Value: line})
	}

	if e := r.Files.HdrLogError; e != "" {
		items = append(items, item{Label: "Interval log", Value: "incomplete: " + format.OneLine(e), Alert: true})
	}
	if line := HarnessCPULine(r); line != "" {
		items = append(items, item{Label: "evalrun CPU", Value: line})
	}
	if line := judge.Saturation(r); line != "" {
		items = append(items, item{Label: "Load generator", Value: line, Alert: true})
	}

	verdict, loss := judge.ReportSafetyVerdict(r)
	items = append(items, item{Label: "Safety", Value: verdict, Alert: loss || !r.Safety.Checked})
	if c := r.Consistency; c != nil {
		items = append(items, item{Label: "Consistency", Value: judge.ConsistencyVerdict(c),
			Alert: judge.ConsistencyFailed(c) || c.Verdict != "linearizable" || !c.Checked})
	}
	if s := r.Safety; s.ReadSettings != "" {
		rb := "read with " + s.ReadSettings
		if s.StrictReadSettings != "" {
			rb += "; a key found missing counts as lost only when a strict read finds nothing too (" + s.StrictReadSettings + ")"
		} else {
			rb += "; the driver has no stricter read: a key found missing counts as lost"
		}
		items = append(items, item{Label: "Read-back", Value: rb})
	}
	return items
}

// opRow is one line of a per-phase table.
type opRow struct {
	Phase  string
	Op     string
	Stats  model.OpStats
	Window string // phase time range, first row of a phase only
	Total  bool
}

// phaseRows lists every phase's op types in a stable order, then its total.
func phaseRows(r *model.Report) []opRow {
	var rows []opRow
	for _, p := range r.Phases {
		win := fmt.Sprintf("%s–%s", format.Offset(p.StartMs), format.Offset(p.EndMs))
		for i, op := range format.OpOrder(p.Ops) {
			row := opRow{Phase: p.Name, Op: op, Stats: p.Ops[op]}
			if i == 0 {
				row.Window = win
			}
			rows = append(rows, row)
		}
		row := opRow{Phase: p.Name, Op: "all", Stats: p.Total, Total: true}
		if len(p.Ops) == 0 {
			row.Window = win
		}
		rows = append(rows, row)
	}
	return rows
}

// latencyCells formats p50, p90, p99, p99.9 and max, "—" when nothing completed.
func latencyCells(s model.OpStats) [5]string {
	if s.Count == 0 {
		return [5]string{"—", "—", "—", "—", "—"}
	}
	return [5]string{format.Micros(s.P50Us), format.Micros(s.P90Us), format.Micros(s.P99Us), format.Micros(s.P999Us), format.Micros(s.MaxUs)}
}

// opsCells formats the operational columns: time to first error,
// unavailable, recovery to baseline p99, duration, bytes.
func opsCells(o model.Operational) [6]string {
	c := [6]string{"—", "—", "—", "—", "—", "—"}
	if v := o.TimeToFirstErrorMs; v != nil {
		if *v < 0 {
			c[0] = "no errors"
		} else {
			c[0] = format.Millis(*v)
		}
	}
	if v := o.UnavailableMs; v != nil {
		c[1] = format.Millis(*v)
	}
	if v := o.RecoveryToBaselineMs; v != nil {
		if *v < 0 {
			c[2] = "not recovered"
		} else {
			c[2] = format.Millis(*v)
		}
	}
	if v := o.DurationMs; v != nil {
		c[3] = format.Millis(*v)
	}
	if v := o.Bytes; v != nil {
		c[4] = format.Bytes(*v)
	}
	if o.PeakP99Us > 0 {
		c[5] = format.Micros(o.PeakP99Us)
	}
	return c
}

// opsStep names an operational step, with its backup method when it has
// one ("backup mariabackup"), so that backups taken different ways read
// side by side.
func opsStep(o model.Operational) string {
	if o.Method != "" {
		return o.Step + " " + o.Method
	}
	return o.Step
}

// handoffCell formats the handoff column: duration and partitions,
// "not done" when handoff was tracked but not seen to finish.
func handoffCell(o model.Operational) string {
	if o.HandoffMs == nil && o.HandoffPartitions == nil {
		return "—"
	}
	d := "not done"
	if o.HandoffMs != nil {
		d = format.Millis(*o.HandoffMs)
	}
	if p := o.HandoffPartitions; p != nil && *p > 0 {
		d += fmt.Sprintf(" (%d partitions)", *p)
	}
	return d
}

// failoverCell formats the failover column: "no write" when no write was
// acknowledged after the step.
func failoverCell(o model.Operational) string {
	switch v := o.FailoverMs; {
	case v == nil:
		return "—"
	case *v < 0:
		return "no write"
	default:
		return format.Millis(*v)
	}
}

// freezeCell formats the freeze column: how long a snapshot froze its
// source.
func freezeCell(o model.Operational) string {
	if o.FreezeMs == nil {
		return "—"
	}
	return format.Millis(*o.FreezeMs)
}

// anyFreeze reports whether some backup froze a node, so the freeze
// column shows only for runs that have one.
func anyFreeze(ops []model.Operational) bool {
	for _, o := range ops {
		if o.FreezeMs != nil {
			return true
		}
	}
	return false
}

// anyFailover reports whether some step is a failover, so the failover
// column shows only for runs that have one.
func anyFailover(ops []model.Operational) bool {
	for _, o := range ops {
		if o.FailoverMs != nil {
			return true
		}
	}
	return false
}

// anyHandoff reports whether some step carries handoff numbers, so the
// handoff column shows only for drivers that report handoff.
func anyHandoff(ops []model.Operational) bool {
	for _, o := range ops {
		if o.HandoffMs != nil || o.HandoffPartitions != nil {
			return true
		}
	}
	return false
}

// eventEnd formats the end of an event ("—" when it has none).
func eventEnd(e model.Event) string {
	if e.EndMs <= 0 && e.StartMs > 0 {
		return "—"
	}
	return format.Offset(e.EndMs)
}

// evidenceRows lays out one key's evidence as table rows: one a replica,
// the key, verdict and reads on the first.
func evidenceRows(e model.KeyEvidence) [][7]string {
	if len(e.Replicas) == 0 {
		held := "not inspected (the driver cannot read single replicas)"
		if e.InspectError != "" {
			held = "not inspected: " + e.InspectError
		}
		return [][7]string{{e.Key, e.Verdict, e.Judged, "", "", "", held}}
	}
	rows := make([][7]string, len(e.Replicas))
	for i, rp := range e.Replicas {
		primary := "fallback"
		if rp.Primary {
			primary = "primary"
		}
		rows[i] = [7]string{"", "", "", rp.Partition, rp.Node, primary, rp.Holds}
	}
	rows[0][0], rows[0][1], rows[0][2] = e.Key, e.Verdict, e.Judged
	return rows
}

// HarnessCPULine sums the harness's CPU over the phases: per operation
// sent, split user/sys, and as a share of one core. "" when not measured.
func HarnessCPULine(r *model.Report) string {
	var user, sys, ops, ms int64
	for _, p := range r.Phases {
		if c := p.HarnessCPU; c != nil {
			user += c.UserUs
			sys += c.SysUs
			ops += p.Total.Count - p.Total.Missed
			ms += p.EndMs - p.StartMs
		}
	}
	if user+sys == 0 || ops == 0 || ms <= 0 {
		return ""
	}
	per := float64(user+sys) / float64(ops)
	return fmt.Sprintf("%s per operation (user %s, sys %s), %s of one core over the run",
		format.MicrosF(per), format.MicrosF(float64(user)/float64(ops)), format.MicrosF(float64(sys)/float64(ops)),
		format.Percent(100*float64(user+sys)/1000/float64(ms)))
}

// workersLine says how far the worker pool grew and how many operations
// were in flight at most; "" for a report from before the pool grew.
func workersLine(r *model.Report) string {
	w, l := r.Workload, r.Load
	if w.MaxConcurrency == 0 || l.Workers == 0 {
		return ""
	}
	pool := fmt.Sprintf("the pool stayed at %d workers", w.Concurrency)
	if l.Workers > int64(w.Concurrency) {
		pool = fmt.Sprintf("the pool grew from %d to %s workers", w.Concurrency, format.Count(l.Workers))
	}
	line := fmt.Sprintf("at most %s operations in flight; %s (bound %d)", format.Count(l.PeakInFlight), pool, w.MaxConcurrency)
	if l.BoundWaits > 0 {
		line += fmt.Sprintf("; %s operations waited for a worker at the bound", format.Count(l.BoundWaits))
	}
	return line
}

// StartLagLine gives each phase's start lag (actual start - intended
// start of the operations sent: p50, p99, max), the harness's own timing
// error plus any wait for a worker; "" when no phase has one.
func StartLagLine(r *model.Report) string {
	var parts []string
	for _, p := range r.Phases {
		if s := p.StartLag; s != nil {
			parts = append(parts, fmt.Sprintf("%s p50 %s, p99 %s, max %s", p.Name, format.Micros(s.P50Us), format.Micros(s.P99Us), format.Micros(s.MaxUs)))
		}
	}
	return strings.Join(parts, "; ")
}
