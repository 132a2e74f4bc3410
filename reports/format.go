package reports

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file holds the formatting shared by the Markdown, HTML and
// comparison renderings. Every function is deterministic.

// fmtUs formats a latency given in microseconds: "850µs", "3.2ms", "1.25s".
// Three significant digits, trailing zeros dropped.
func fmtUs(us int64) string {
	return fmtUsF(float64(us))
}

func fmtUsF(us float64) string {
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

// fmtMs formats a duration given in milliseconds like a latency.
func fmtMs(ms int64) string { return fmtUs(ms * 1000) }

// fmtOffset formats an offset from the start of the workload: "30.00s".
func fmtOffset(ms int64) string {
	return strconv.FormatFloat(float64(ms)/1000, 'f', 2, 64) + "s"
}

// fmtRunDuration formats the length of a run: "1m30s", "45.2s".
func fmtRunDuration(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	if d >= time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// fmtCount formats an integer with thousands separators: "12,345".
func fmtCount(n int64) string {
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

// fmtRate formats ops/s: one decimal below 100, none above.
func fmtRate(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "—"
	}
	if math.Abs(r) >= 100 {
		return fmtCount(int64(math.Round(r)))
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

// fmtPct formats a percentage with a precision that suits its size.
func fmtPct(p float64) string {
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

// fmtBytes formats a size with binary units: "24.5 MiB".
func fmtBytes(b int64) string {
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

// fmtNode formats a 1-based node index ("n2"); "—" for none.
func fmtNode(n int) string {
	if n <= 0 {
		return "—"
	}
	return "n" + strconv.Itoa(n)
}

// errorRate is the failed share of count, in percent.
func errorRate(errors, count int64) float64 {
	if count <= 0 {
		return 0
	}
	return float64(errors) * 100 / float64(count)
}

// fmtErrors formats an error count with its share: "152 (3.40%)".
func fmtErrors(errors, count int64) string {
	if errors == 0 {
		return "0"
	}
	return fmt.Sprintf("%s (%s)", fmtCount(errors), fmtPct(errorRate(errors, count)))
}

// opOrder lists op types in a stable order: the usual ones first, then
// the others alphabetically.
func opOrder(ops map[string]OpStats) []string {
	names := make([]string, 0, len(ops))
	for k := range ops {
		names = append(names, k)
	}
	sortOps(names)
	return names
}

var opRank = map[string]int{"read": 1, "write": 2, "delete": 3}

func sortOps(names []string) {
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

// fmtMix formats the workload mix: "read 70, write 25, delete 5".
func fmtMix(mix map[string]int) string {
	names := make([]string, 0, len(mix))
	for k := range mix {
		names = append(names, k)
	}
	sortOps(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, mix[n])
	}
	return strings.Join(parts, ", ")
}

// sortedKeys returns the keys of a string map in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fmtErrorClasses formats errors by class: "timeout 12, unavailable 3".
func fmtErrorClasses(m map[string]int64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %s", k, fmtCount(m[k])))
	}
	return strings.Join(parts, ", ")
}

// oneLine collapses newlines and runs of spaces so a value fits a table cell.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
