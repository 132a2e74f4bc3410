package judge

import (
	"fmt"
	"math"
	"strings"

	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/model"
)

// This file derives the human summary shared by the Markdown and the HTML
// renderings, so both say the same thing in the same words.

// SafetyVerdict is the one data-safety verdict of a report, in one line:
// DATA LOSS (lost or stale acknowledged writes) before NOT CHECKED before
// STALE READS (nothing lost, but reads returned older values than ones
// acknowledged before them: during the run, or on the read path at the
// read-back) before OK, with the counts; loss reports the first. Stale
// reads are never rounded to OK: whether the database promised fresher
// reads is the reader's to judge from the read settings. The CLI summary,
// the Markdown and the HTML page all say it this way. phases give the
// not-found reads of acknowledged keys per phase.
func SafetyVerdict(s model.Safety, phases []model.Phase) (string, bool) {
	loss := s.Lost > 0 || s.Stale > 0
	var b strings.Builder
	switch {
	case loss:
		b.WriteString("DATA LOSS — ")
	case !s.Checked:
		b.WriteString("NOT CHECKED (the run ended before the final read-back) — ")
	case s.StaleReads > 0 || s.ReadStale > 0:
		b.WriteString("STALE READS — ")
	default:
		b.WriteString("OK — ")
	}
	fmt.Fprintf(&b, "%s acknowledged keys (%s acknowledged writes): %s verified, %s lost, %s stale",
		format.Count(s.Acknowledged), format.Count(s.AcknowledgedWrites), format.Count(s.Verified),
		format.Count(s.Lost), format.Count(s.Stale))
	if s.QuorumNotFound > 0 {
		fmt.Fprintf(&b, ", %s quorum not-found (missed by the read, found on a replica by the strict read)", format.Count(s.QuorumNotFound))
	}
	if s.Unconfirmed > 0 {
		fmt.Fprintf(&b, ", %s unconfirmed (missed by the read; the strict read failed)", format.Count(s.Unconfirmed))
	}
	if s.ReadStale > 0 {
		fmt.Fprintf(&b, ", %s stale on the read path (an older value from the read, the acknowledged one from the strict read)", format.Count(s.ReadStale))
	}
	if s.Unreadable > 0 {
		fmt.Fprintf(&b, ", %s unreadable", format.Count(s.Unreadable))
	}
	fmt.Fprintf(&b, "; %s not-found reads of acknowledged keys during the run", format.Count(s.NotFoundReads))
	var by []string
	for _, p := range phases {
		if n := p.Total.NotFoundAcked; n > 0 {
			by = append(by, fmt.Sprintf("%s %s", p.Name, format.Count(n)))
		}
	}
	if len(by) > 0 && s.NotFoundReads > 0 {
		fmt.Fprintf(&b, " (by phase: %s)", strings.Join(by, ", "))
	}
	if s.StaleReads > 0 {
		fmt.Fprintf(&b, "; %s stale reads (an older value than one acknowledged before the read)", format.Count(s.StaleReads))
		var most int64
		by = by[:0]
		for _, p := range phases {
			if n := p.Total.StaleReads; n > 0 {
				by = append(by, fmt.Sprintf("%s %s", p.Name, format.Count(n)))
			}
			most = max(most, p.Total.MaxStalenessUs)
		}
		if len(by) > 0 {
			fmt.Fprintf(&b, " (by phase: %s; the most stale by at least %s)", strings.Join(by, ", "), format.Micros(most))
		}
	}
	if s.Siblings > 0 {
		fmt.Fprintf(&b, "; %s reads with siblings", format.Count(s.Siblings))
	}
	return b.String(), loss
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
// latency from the intended start already charges it. A capacity search
// drives the load past what the cluster takes on purpose: its stages
// judge the generator's keeping up, and its notes name the workers when
// they may be the limit, so the line stays out. When the pool grows on
// demand (workload.max-concurrency), the line appears only when it reached
// its bound, and says so.
func Saturation(r *model.Report) string {
	if r.Capacity != nil {
		return ""
	}
	l, w := r.Load, r.Workload
	behind := l.Late + l.Missed
	if l.Intended == 0 || w.Concurrency == 0 || float64(behind) <= saturationShare*float64(l.Intended) {
		return ""
	}
	// the phase that needed the most workers: its rate (rate and ramp
	// steps change it; the scenario's rate when the phase has no length)
	// times its service p99
	var worst *model.Phase
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
	workers, raise := w.Concurrency, "workload.concurrency"
	if w.MaxConcurrency > 0 {
		if l.BoundWaits == 0 {
			return "" // the pool grew as far as it had to: the lateness is the database's
		}
		workers, raise = w.MaxConcurrency, "workload.max-concurrency"
	} else if needed < int64(w.Concurrency) {
		return ""
	}
	since := ""
	if first := behindSince(r); first != nil {
		since = " from " + format.Offset(*first) + " on"
	}
	var most *model.Phase
	for i := range r.Phases {
		p := &r.Phases[i]
		if b := p.Total.Late + p.Total.Missed; b > 0 && (most == nil || b > most.Total.Late+most.Total.Missed) {
			most = p
		}
	}
	if most != nil && most.Total.Count > 0 {
		b := most.Total.Late + most.Total.Missed
		since += fmt.Sprintf(", most in the %s phase (%s of its operations)", most.Name, format.Percent(100*float64(b)/float64(most.Total.Count)))
	}
	return fmt.Sprintf("the load generator, not only the database, set the latency: %s of %s operations (%s) started late or were never sent (%s late, %s missed)%s, "+
		"because all %d workers were busy%s; at the %s phase's %s ops/s and service p99 of %s about %s would be in flight. "+
		"Raise %s (or lower the rate) and run again",
		format.Count(behind), format.Count(l.Intended), format.Percent(100*float64(behind)/float64(l.Intended)), format.Count(l.Late), format.Count(l.Missed), since,
		workers, boundNote(w), worst.Name, format.Rate(worstRate), format.Micros(worst.Total.ServiceP99Us), format.Count(needed), raise)
}

// boundNote says the pool had grown to its bound, when it grows at all.
func boundNote(w model.WorkloadInfo) string {
	if w.MaxConcurrency == 0 {
		return ""
	}
	return " (the pool had grown to its bound, workload.max-concurrency)"
}

// behindShare: a window in which this share of the operations started
// late or were missed is one where the generator was behind.
const behindShare = 0.1

// behindSince is the start of the first window where the generator was
// behind (an isolated late operation, a GC pause, does not count), else
// the first late or missed operation.
func behindSince(r *model.Report) *int64 {
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
