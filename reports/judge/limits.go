package judge

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Limits are the regression thresholds of a comparison, by metric:
//
//	p50, p90, p99, p999, max  latency increase, percent
//	throughput                throughput decrease, percent
//	errors                    error-rate increase, percentage points
//	lost                      increase of lost (and of stale) keys, and of keys found
//	                          not linearizable although promised, absolute count
//	capacity                  max rate held decrease, percent (capacity reports;
//	                          DefaultCapacityTolerance when not given)
//
// A metric without a limit is shown but never a regression.
type Limits map[string]float64

// limitMetrics lists the metrics a limit may name, in display order.
var limitMetrics = []string{"p50", "p90", "p99", "p999", "max", "throughput", "errors", "lost", "capacity"}

// DefaultLimits are used when no limit is given: p99=10%, throughput=5%, lost=0.
func DefaultLimits() Limits {
	return Limits{"p99": 10, "throughput": 5, "lost": 0}
}

// ParseLimits parses "p99=10%,throughput=5%,errors=1%,lost=0". The given
// limits are laid over DefaultLimits; "metric=off" removes one. The % sign
// is optional for the percentage metrics and not allowed for lost. An
// empty string gives DefaultLimits.
func ParseLimits(s string) (Limits, error) {
	lim := DefaultLimits()
	if strings.TrimSpace(s) == "" {
		return lim, nil
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		p := strings.TrimSpace(part)
		if p == "" {
			return nil, fmt.Errorf("limits %q: empty entry (want metric=value, e.g. p99=10%%)", s)
		}
		name, val, ok := strings.Cut(p, "=")
		name, val = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(val)
		if !ok || name == "" || val == "" {
			return nil, fmt.Errorf("limit %q: want metric=value, e.g. p99=10%%", p)
		}
		if !isLimitMetric(name) {
			return nil, fmt.Errorf("limit %q: unknown metric %q (known: %s)", p, name, strings.Join(limitMetrics, ", "))
		}
		if seen[name] {
			return nil, fmt.Errorf("limit %q: %s given twice", p, name)
		}
		seen[name] = true
		if strings.EqualFold(val, "off") {
			delete(lim, name)
			continue
		}
		pct := strings.HasSuffix(val, "%")
		if pct && name == "lost" {
			return nil, fmt.Errorf("limit %q: lost is a count of keys, not a percentage (e.g. lost=0)", p)
		}
		num := strings.TrimSpace(strings.TrimSuffix(val, "%"))
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("limit %q: %q is not a number", p, num)
		}
		if f < 0 {
			return nil, fmt.Errorf("limit %q: negative limit", p)
		}
		if name == "lost" && f != math.Trunc(f) {
			return nil, fmt.Errorf("limit %q: lost is a whole number of keys", p)
		}
		lim[name] = f
	}
	return lim, nil
}

func isLimitMetric(name string) bool {
	for _, m := range limitMetrics {
		if m == name {
			return true
		}
	}
	return false
}

// String renders the limits in the syntax ParseLimits reads, in a fixed order.
func (l Limits) String() string {
	var parts []string
	for _, m := range limitMetrics {
		v, ok := l[m]
		if !ok {
			continue
		}
		if m == "lost" {
			parts = append(parts, fmt.Sprintf("lost=%g", v))
		} else {
			parts = append(parts, fmt.Sprintf("%s=%g%%", m, v))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}
