package reports

import (
	"fmt"
	"math"
	"strings"
	"time"
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
func target(r *Report) string {
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

// status is "complete" or "INCOMPLETE: reason".
func status(r *Report) string {
	if r.Complete {
		return "complete"
	}
	reason := oneLine(r.Incomplete)
	if reason == "" {
		reason = "no reason recorded"
	}
	return "INCOMPLETE: " + reason
}

func scenarioName(r *Report) string {
	if r.Scenario.Name != "" {
		return r.Scenario.Name
	}
	if r.Scenario.Source != "" {
		return r.Scenario.Source
	}
	return "unnamed scenario"
}

// title is the one-line headline of a report.
func title(r *Report) string {
	return fmt.Sprintf("%s on %s — %s", scenarioName(r), target(r), status(r))
}

// totals sums completed operations and errors over the phases (over the
// windows when the report has no phases).
func totals(r *Report) (count, errs int64) {
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

// SafetyVerdict is the one data-safety verdict of a report, in one line:
// DATA LOSS (lost or stale acknowledged writes) before NOT CHECKED before
// OK, with the counts; loss reports the first. The CLI summary, the
// Markdown and the HTML page all say it this way. phases give the
// not-found reads of acknowledged keys per phase.
func SafetyVerdict(s Safety, phases []Phase) (string, bool) {
	loss := s.Lost > 0 || s.Stale > 0
	var b strings.Builder
	switch {
	case loss:
		b.WriteString("DATA LOSS — ")
	case !s.Checked:
		b.WriteString("NOT CHECKED (the run ended before the final read-back) — ")
	default:
		b.WriteString("OK — ")
	}
	fmt.Fprintf(&b, "%s acknowledged keys (%s acknowledged writes): %s verified, %s lost, %s stale",
		fmtCount(s.Acknowledged), fmtCount(s.AcknowledgedWrites), fmtCount(s.Verified),
		fmtCount(s.Lost), fmtCount(s.Stale))
	if s.QuorumNotFound > 0 {
		fmt.Fprintf(&b, ", %s quorum not-found (missed by the read, found on a replica by the strict read)", fmtCount(s.QuorumNotFound))
	}
	if s.Unconfirmed > 0 {
		fmt.Fprintf(&b, ", %s unconfirmed (missed by the read; the strict read failed)", fmtCount(s.Unconfirmed))
	}
	if s.ReadStale > 0 {
		fmt.Fprintf(&b, ", %s stale on the read path (an older value from the read, the acknowledged one from the strict read)", fmtCount(s.ReadStale))
	}
	if s.Unreadable > 0 {
		fmt.Fprintf(&b, ", %s unreadable", fmtCount(s.Unreadable))
	}
	fmt.Fprintf(&b, "; %s not-found reads of acknowledged keys during the run", fmtCount(s.NotFoundReads))
	var by []string
	for _, p := range phases {
		if n := p.Total.NotFoundAcked; n > 0 {
			by = append(by, fmt.Sprintf("%s %s", p.Name, fmtCount(n)))
		}
	}
	if len(by) > 0 && s.NotFoundReads > 0 {
		fmt.Fprintf(&b, " (by phase: %s)", strings.Join(by, ", "))
	}
	if s.StaleReads > 0 {
		fmt.Fprintf(&b, "; %s stale reads (an older value than one acknowledged before the read)", fmtCount(s.StaleReads))
		var most int64
		by = by[:0]
		for _, p := range phases {
			if n := p.Total.StaleReads; n > 0 {
				by = append(by, fmt.Sprintf("%s %s", p.Name, fmtCount(n)))
			}
			most = max(most, p.Total.MaxStalenessUs)
		}
		if len(by) > 0 {
			fmt.Fprintf(&b, " (by phase: %s; the most stale by at least %s)", strings.Join(by, ", "), fmtUs(most))
		}
	}
	if s.Siblings > 0 {
		fmt.Fprintf(&b, "; %s reads with siblings", fmtCount(s.Siblings))
	}
	return b.String(), loss
}

// summaryItems is the short summary: run, duration, load, operations,
// schedule keeping and the safety verdict.
func summaryItems(r *Report) []item {
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

	dur := fmtRunDuration(r.Run.DurationMs)
	if ts := r.Scenario.TimeScale; ts != 0 && ts != 1 {
		dur += fmt.Sprintf(" (scenario time scaled ×%g)", ts)
	}
	items = append(items, item{Label: "Duration", Value: dur})

	w := r.Workload
	wl := fmt.Sprintf("%s ops/s target, concurrency %d", fmtRate(w.TargetRate), w.Concurrency)
	if len(w.Mix) > 0 {
		wl += "; mix " + fmtMix(w.Mix)
	}
	wl += fmt.Sprintf("; %s keys", fmtCount(int64(w.Keys)))
	if w.Distribution != "" {
		wl += " " + w.Distribution
	}
	wl += fmt.Sprintf(", %d B values, timeout %s", w.ValueSize, fmtMs(w.TimeoutMs))
	if w.Preload {
		wl += ", preloaded"
	}
	items = append(items, item{Label: "Workload", Value: wl})

	count, errs := totals(r)
	items = append(items, item{
		Label: "Operations",
		Value: fmt.Sprintf("%s completed, %s errors (%s)", fmtCount(count), fmtCount(errs), fmtPct(errorRate(errs, count))),
		Alert: errs > 0,
	})

	l := r.Load
	items = append(items, item{
		Label: "Schedule",
		Value: fmt.Sprintf("%s intended, %s issued; %s late (started more than %s after the intended time), %s missed (not started within %s); max start lag %s",
			fmtCount(l.Intended), fmtCount(l.Issued), fmtCount(l.Late), fmtUs(l.LateThresholdUs),
			fmtCount(l.Missed), fmtMs(l.MaxLagMs), fmtUs(l.MaxStartLagUs)),
		Alert: l.Missed > 0,
	})

	if e := r.Files.HdrLogError; e != "" {
		items = append(items, item{Label: "Interval log", Value: "incomplete: " + oneLine(e), Alert: true})
	}
	if line := HarnessCPULine(r); line != "" {
		items = append(items, item{Label: "evalrun CPU", Value: line})
	}
	if line := Saturation(r); line != "" {
		items = append(items, item{Label: "Load generator", Value: line, Alert: true})
	}

	verdict, loss := SafetyVerdict(r.Safety, r.Phases)
	items = append(items, item{Label: "Safety", Value: verdict, Alert: loss || !r.Safety.Checked})
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

// saturationShare: when more than this share of the intended operations
// started late or were never sent, the report asks whether the load
// generator, not the database, set the latency.
const saturationShare = 0.01

// Saturation returns one line when the load generator was the bottleneck,
// else "". It applies when late and missed operations exceed
// saturationShare of the intended ones and the workers were too few for
// the database's service time (Little's law: at the target rate and the
// p99 service time of some phase, more operations were in flight than
// workload.concurrency allows). A short stall of the database alone makes
// operations late too, but then the service time stays short in every
// phase and the line stays out: that lateness is the database's, and the
// latency from the intended start already charges it.
func Saturation(r *Report) string {
	l, w := r.Load, r.Workload
	behind := l.Late + l.Missed
	if l.Intended == 0 || w.Concurrency == 0 || float64(behind) <= saturationShare*float64(l.Intended) {
		return ""
	}
	// the phase that needed the most workers: its rate (rate and ramp
	// steps change it; the scenario's rate when the phase has no length)
	// times its service p99
	var worst *Phase
	var worstRate float64
	needed := int64(0)
	for i := range r.Phases {
		p := &r.Phases[i]
		if p.Total.Count == 0 {
			continue
		}
		rate := w.TargetRate
		if d := p.EndMs - p.StartMs; d > 0 {
			rate = float64(p.Total.Count) * 1000 / float64(d)
		}
		if n := int64(math.Ceil(rate * float64(p.Total.ServiceP99Us) / 1e6)); worst == nil || n > needed {
			worst, worstRate, needed = p, rate, n
		}
	}
	if worst == nil {
		return ""
	}
	if needed < int64(w.Concurrency) {
		return ""
	}
	since := ""
	if first := behindSince(r); first != nil {
		since = " from " + fmtOffset(*first) + " on"
	}
	var most *Phase
	for i := range r.Phases {
		p := &r.Phases[i]
		if b := p.Total.Late + p.Total.Missed; b > 0 && (most == nil || b > most.Total.Late+most.Total.Missed) {
			most = p
		}
	}
	if most != nil && most.Total.Count > 0 {
		b := most.Total.Late + most.Total.Missed
		since += fmt.Sprintf(", most in the %s phase (%s of its operations)", most.Name, fmtPct(100*float64(b)/float64(most.Total.Count)))
	}
	return fmt.Sprintf("the load generator, not only the database, set the latency: %s of %s operations (%s) started late or were never sent (%s late, %s missed)%s, "+
		"because all %d workers were busy; at the %s phase's %s ops/s and service p99 of %s about %s would be in flight. "+
		"Raise workload.concurrency (or lower the rate) and run again",
		fmtCount(behind), fmtCount(l.Intended), fmtPct(100*float64(behind)/float64(l.Intended)), fmtCount(l.Late), fmtCount(l.Missed), since,
		w.Concurrency, worst.Name, fmtRate(worstRate), fmtUs(worst.Total.ServiceP99Us), fmtCount(needed))
}

// behindShare: a window in which this share of the operations started
// late or were missed is one where the generator was behind.
const behindShare = 0.1

// behindSince is the start of the first window where the generator was
// behind (an isolated late operation, a GC pause, does not count), else
// the first late or missed operation.
func behindSince(r *Report) *int64 {
	for _, w := range r.Windows {
		if w.Count > 0 && float64(w.Late+w.Missed) >= behindShare*float64(w.Count) {
			at := w.StartMs
			return &at
		}
	}
	return earliest(r.Load.FirstLateMs, r.Load.FirstMissedMs)
}

func earliest(a, b *int64) *int64 {
	switch {
	case a == nil:
		return b
	case b == nil || *a <= *b:
		return a
	}
	return b
}

// opRow is one line of a per-phase table.
type opRow struct {
	Phase  string
	Op     string
	Stats  OpStats
	Window string // phase time range, first row of a phase only
	Total  bool
}

// phaseRows lists every phase's op types in a stable order, then its total.
func phaseRows(r *Report) []opRow {
	var rows []opRow
	for _, p := range r.Phases {
		win := fmt.Sprintf("%s–%s", fmtOffset(p.StartMs), fmtOffset(p.EndMs))
		for i, op := range opOrder(p.Ops) {
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
func latencyCells(s OpStats) [5]string {
	if s.Count == 0 {
		return [5]string{"—", "—", "—", "—", "—"}
	}
	return [5]string{fmtUs(s.P50Us), fmtUs(s.P90Us), fmtUs(s.P99Us), fmtUs(s.P999Us), fmtUs(s.MaxUs)}
}

// opsCells formats the operational columns: time to first error,
// unavailable, recovery to baseline p99, duration, bytes.
func opsCells(o Operational) [6]string {
	c := [6]string{"—", "—", "—", "—", "—", "—"}
	if v := o.TimeToFirstErrorMs; v != nil {
		if *v < 0 {
			c[0] = "no errors"
		} else {
			c[0] = fmtMs(*v)
		}
	}
	if v := o.UnavailableMs; v != nil {
		c[1] = fmtMs(*v)
	}
	if v := o.RecoveryToBaselineMs; v != nil {
		if *v < 0 {
			c[2] = "not recovered"
		} else {
			c[2] = fmtMs(*v)
		}
	}
	if v := o.DurationMs; v != nil {
		c[3] = fmtMs(*v)
	}
	if v := o.Bytes; v != nil {
		c[4] = fmtBytes(*v)
	}
	if o.PeakP99Us > 0 {
		c[5] = fmtUs(o.PeakP99Us)
	}
	return c
}

// opsStep names an operational step, with its backup method when it has
// one ("backup mariabackup"), so that backups taken different ways read
// side by side.
func opsStep(o Operational) string {
	if o.Method != "" {
		return o.Step + " " + o.Method
	}
	return o.Step
}

// handoffCell formats the handoff column: duration and partitions,
// "not done" when handoff was tracked but not seen to finish.
func handoffCell(o Operational) string {
	if o.HandoffMs == nil && o.HandoffPartitions == nil {
		return "—"
	}
	d := "not done"
	if o.HandoffMs != nil {
		d = fmtMs(*o.HandoffMs)
	}
	if p := o.HandoffPartitions; p != nil && *p > 0 {
		d += fmt.Sprintf(" (%d partitions)", *p)
	}
	return d
}

// failoverCell formats the failover column: "no write" when no write was
// acknowledged after the step.
func failoverCell(o Operational) string {
	switch v := o.FailoverMs; {
	case v == nil:
		return "—"
	case *v < 0:
		return "no write"
	default:
		return fmtMs(*v)
	}
}

// anyFailover reports whether some step is a failover, so the failover
// column shows only for runs that have one.
func anyFailover(ops []Operational) bool {
	for _, o := range ops {
		if o.FailoverMs != nil {
			return true
		}
	}
	return false
}

// anyHandoff reports whether some step carries handoff numbers, so the
// handoff column shows only for drivers that report handoff.
func anyHandoff(ops []Operational) bool {
	for _, o := range ops {
		if o.HandoffMs != nil || o.HandoffPartitions != nil {
			return true
		}
	}
	return false
}

// eventEnd formats the end of an event ("—" when it has none).
func eventEnd(e Event) string {
	if e.EndMs <= 0 && e.StartMs > 0 {
		return "—"
	}
	return fmtOffset(e.EndMs)
}

// evidenceRows lays out one key's evidence as table rows: one a replica,
// the key, verdict and reads on the first.
func evidenceRows(e KeyEvidence) [][7]string {
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
func HarnessCPULine(r *Report) string {
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
		fmtUsF(per), fmtUsF(float64(user)/float64(ops)), fmtUsF(float64(sys)/float64(ops)),
		fmtPct(100*float64(user+sys)/1000/float64(ms)))
}
