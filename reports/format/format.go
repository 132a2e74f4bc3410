// Package format writes values as every evalrun rendering says them:
// latencies, durations, counts, rates, percentages, sizes, changes and
// metric names. Both the verdict texts of package judge and the pages of
// package render use it; it has no state and draws nothing.
package format

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evalrun/evalrun/reports/model"
)

// Micros formats a latency given in microseconds: "850µs", "3.2ms", "1.25s".
// Three significant digits, trailing zeros dropped.
func Micros(us int64) string {
	return MicrosF(float64(us))
}

func MicrosF(us float64) string {
	neg := us < 0
	if neg {
		us = -us
	}
	var s string
	switch {
	case us < 999.5:
		s = strconv.FormatFloat(math.Round(us), 'f', -1, 64) + "µs"
	case us < 999500:
		s = sig3(us/1e3) + "ms"
	default:
		s = sig3(us/1e6) + "s"
	}
	if neg {
		return "-" + s
	}
	return s
}

// sig3 formats v (>= 1) with three significant digits, trailing zeros and
// a trailing decimal point dropped; values of 1000 and more keep all their
// integer digits.
func sig3(v float64) string {
	if v >= 999.5 {
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	}
	var s string
	switch {
	case v >= 99.95:
		s = strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 9.995:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	default:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	return s
}

// Millis formats a duration given in milliseconds like a latency.
func Millis(ms int64) string { return Micros(ms * 1000) }

// Offset formats an offset from the start of the workload: "30.00s".
func Offset(ms int64) string {
	return strconv.FormatFloat(float64(ms)/1000, 'f', 2, 64) + "s"
}

// RunDuration formats the length of a run: "1m30s", "45.2s".
func RunDuration(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	if d >= time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// Count formats an integer with thousands separators: "12,345".
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Rate formats ops/s: one decimal below 100, none above.
func Rate(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "—"
	}
	if math.Abs(r) >= 100 {
		return Count(int64(math.Round(r)))
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

// Percent formats a percentage with a precision that suits its size.
func Percent(p float64) string {
	switch a := math.Abs(p); {
	case a == 0:
		return "0%"
	case a < 0.01:
		return "<0.01%"
	case a < 10:
		return strconv.FormatFloat(p, 'f', 2, 64) + "%"
	default:
		return strconv.FormatFloat(p, 'f', 1, 64) + "%"
	}
}

// Bytes formats a size with binary units: "24.5 MiB".
func Bytes(b int64) string {
	if b < 1024 {
		return strconv.FormatInt(b, 10) + " B"
	}
	v := float64(b)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v /= 1024
		if v < 1024 || u == "TiB" {
			return sig3(v) + " " + u
		}
	}
	return strconv.FormatInt(b, 10) + " B" // not reached
}

// Node formats a 1-based node index ("n2"); "—" for none.
func Node(n int) string {
	if n <= 0 {
		return "—"
	}
	return "n" + strconv.Itoa(n)
}

// ErrorRate is the failed share of count, in percent.
func ErrorRate(errors, count int64) float64 {
	if count <= 0 {
		return 0
	}
	return float64(errors) * 100 / float64(count)
}

// Errors formats an error count with its share: "152 (3.40%)".
func Errors(errors, count int64) string {
	if errors == 0 {
		return "0"
	}
	return fmt.Sprintf("%s (%s)", Count(errors), Percent(ErrorRate(errors, count)))
}

// OpOrder lists op types in a stable order: the usual ones first, then
// the others alphabetically.
func OpOrder(ops map[string]model.OpStats) []string {
	names := make([]string, 0, len(ops))
	for k := range ops {
		names = append(names, k)
	}
	SortOps(names)
	return names
}

var opRank = map[string]int{"read": 1, "read-fresh": 2, "write": 3, "delete": 4}

func SortOps(names []string) {
	sort.Slice(names, func(i, j int) bool {
		ri, rj := opRank[names[i]], opRank[names[j]]
		if ri == 0 {
			ri = 100
		}
		if rj == 0 {
			rj = 100
		}
		if ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
}

// Mix formats the workload mix: "read 70, write 25, delete 5".
func Mix(mix map[string]int) string {
	names := make([]string, 0, len(mix))
	for k := range mix {
		names = append(names, k)
	}
	SortOps(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, mix[n])
	}
	return strings.Join(parts, ", ")
}

// SortedKeys returns the keys of a string map in order.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ErrorClasses formats errors by class: "timeout 12, unavailable 3".
func ErrorClasses(m map[string]int64) string {
	var parts []string
	for _, k := range SortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %s", k, Count(m[k])))
	}
	return strings.Join(parts, ", ")
}

// OneLine collapses newlines and runs of spaces so a value fits a table cell.
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// RelChange formats the relative change from a to b: "+12.5%", "-3.0%", "0%", "new".
func RelChange(a, b float64) string {
	switch a {
	case b:
		return "0%"
	case 0:
		return "new"
	}
	ch := (b - a) * 100 / a
	s := strconv.FormatFloat(ch, 'f', 1, 64) + "%"
	if ch > 0 {
		s = "+" + s
	}
	if s == "+0.0%" || s == "-0.0%" {
		return "±0.0%"
	}
	return s
}

func Points(p float64) string {
	s := strconv.FormatFloat(p, 'f', 2, 64) + " pt"
	if p > 0 {
		s = "+" + s
	}
	if s == "+0.00 pt" || s == "-0.00 pt" {
		return "±0.00 pt"
	}
	return s
}

// Value formats a metric value by its kind.
func Value(kind string, v float64) string {
	switch kind {
	case model.KindLatency:
		return MicrosF(v)
	case model.KindRate:
		return Rate(v)
	case model.KindPercent:
		return Percent(v)
	case model.KindMs:
		if v < 0 {
			return "not recovered"
		}
		return Millis(int64(v))
	default:
		return Count(int64(v))
	}
}

func P(p float64) string {
	switch {
	case p < 0.001:
		return "<0.001"
	default:
		return strconv.FormatFloat(p, 'f', 3, 64)
	}
}

func Signed(kind string, v float64) string {
	if v < 0 {
		return "-" + SetValue(kind, -v)
	}
	return "+" + SetValue(kind, v)
}

// MetricLabel names a metric for a human: "steady/read p99",
// "kill n1 unavailable_ms", "safety lost".
func MetricLabel(m model.SetMetric) string {
	switch m.Group {
	case model.GroupPhase:
		return m.Phase + "/" + m.Op + " " + m.Metric
	case model.GroupOperational:
		return OpsLabel(m) + " " + m.Metric
	default:
		return "safety " + m.Metric
	}
}

func OpsLabel(m model.SetMetric) string {
	s := m.Step
	if m.Node > 0 {
		s += " " + Node(m.Node)
	}
	if m.Occurrence > 1 {
		s += fmt.Sprintf(" #%d", m.Occurrence)
	}
	return s
}

// SetValue formats a value of a set metric (bytes as sizes).
func SetValue(kind string, v float64) string {
	if kind == model.KindBytes {
		return Bytes(int64(v))
	}
	return Value(kind, v)
}

// Status is "complete", or "INCOMPLETE: " and why.
func Status(r *model.Report) string {
	if r.Complete {
		return "complete"
	}
	reason := OneLine(r.Incomplete)
	if reason == "" {
		reason = "no reason recorded"
	}
	return "INCOMPLETE: " + reason
}

// OpsMetricName is the name of an operational metric in words.
func OpsMetricName(metric string) string {
	switch metric {
	case "unavailable_ms":
		return "unavailable"
	case "recovery_to_baseline_ms":
		return "recovery to baseline p99"
	}
	return metric
}
