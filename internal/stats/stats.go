// Package stats is the statistics of repeated runs, as benchstat does it
// for Go benchmarks: the median with its distribution-free confidence
// interval, and the Mann-Whitney U test (golang.org/x/perf/benchmath,
// AssumeNothing), plus the Hodges-Lehmann shift between two samples with
// its confidence interval and the fewest runs a test can be significant
// with. Values are plain float64s; +Inf is allowed (a fault never
// recovered from) and ranks above every finite value.
package stats

import (
	"math"
	"slices"

	moremath "github.com/aclements/go-moremath/stats"
	"golang.org/x/perf/benchmath"
)

// Confidence is the level of the confidence intervals (95 %).
const Confidence = 0.95

// Summary describes one sample.
type Summary struct {
	N                int
	Median, Min, Max float64
	// Lo, Hi: the confidence interval of the median (±Inf when the
	// sample is too small for one at Confidence).
	Lo, Hi float64
	// CV is the coefficient of variation, stddev/mean (sample standard
	// deviation); NaN when undefined (fewer than two values, a mean of
	// zero, an infinite value).
	CV float64
}

// Summarize describes values (in any order; not modified). An empty
// sample gives N 0 and NaNs.
func Summarize(values []float64) Summary {
	if len(values) == 0 {
		nan := math.NaN()
		return Summary{Median: nan, Min: nan, Max: nan, Lo: nan, Hi: nan, CV: nan}
	}
	s := benchmath.NewSample(slices.Clone(values), &benchmath.DefaultThresholds)
	sum := benchmath.AssumeNothing.Summary(s, Confidence)
	// benchmath interpolates between order statistics, which gives NaN
	// next to an infinite value: take the median and an interval bound
	// that is not a number from the order statistics themselves.
	lo, hi := sum.Lo, sum.Hi
	if math.IsNaN(lo) {
		lo = math.Inf(-1)
	}
	if math.IsNaN(hi) {
		hi = math.Inf(1)
	}
	return Summary{
		N: len(values), Median: median(s.Values), Min: s.Values[0], Max: s.Values[len(s.Values)-1],
		Lo: lo, Hi: hi, CV: cv(s.Values),
	}
}

func cv(v []float64) float64 {
	if len(v) < 2 {
		return math.NaN()
	}
	var sum float64
	for _, x := range v {
		sum += x
	}
	mean := sum / float64(len(v))
	if mean == 0 || math.IsInf(mean, 0) {
		return math.NaN()
	}
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss/float64(len(v)-1)) / math.Abs(mean)
}

// Result is the comparison of sample B against sample A.
type Result struct {
	NA, NB int
	// P is the two-sided p-value of the Mann-Whitney U test that A and B
	// come from one distribution.
	P     float64
	Alpha float64
	// Significant: P < Alpha.
	Significant bool
	// TooFew: even the most different samples of these sizes could not
	// be significant at Alpha; NeedEach is the fewest runs per side that
	// can (with as many on both sides).
	TooFew   bool
	NeedEach int
	// Shift is the Hodges-Lehmann estimate of B - A (the median of all
	// pairwise differences) and ShiftLo, ShiftHi its confidence interval
	// at 1-Alpha (±Inf when the samples are too small for one).
	Shift, ShiftLo, ShiftHi float64
}

// Compare tests B against A at level alpha (0 < alpha < 1).
func Compare(a, b []float64, alpha float64) Result {
	th := benchmath.Thresholds{CompareAlpha: alpha}
	sa := benchmath.NewSample(slices.Clone(a), &th)
	sb := benchmath.NewSample(slices.Clone(b), &th)
	r := Result{NA: len(a), NB: len(b), Alpha: alpha, NeedEach: MinRunsEach(alpha), P: 1}
	r.TooFew = MinP(len(a), len(b)) > alpha
	if len(a) > 0 && len(b) > 0 {
		if allEqual(sa.Values, sb.Values) {
			r.P = 1 // the U test cannot rank identical samples; nothing changed
		} else {
			// The normal approximation with ties can exceed 1, or fall
			// below what samples this small can show.
			r.P = math.Min(1, math.Max(MinP(len(a), len(b)), benchmath.AssumeNothing.Compare(sa, sb).P))
		}
	}
	r.Significant = !r.TooFew && r.P < alpha
	r.Shift, r.ShiftLo, r.ShiftHi = shift(sa.Values, sb.Values, alpha)
	return r
}

func allEqual(a, b []float64) bool {
	for _, v := range slices.Concat(a, b) {
		if v != a[0] {
			return false
		}
	}
	return true
}

// MinP is the smallest two-sided p-value the U test can give for samples
// of n1 and n2 values (no ties, complete separation): 2 / C(n1+n2, n1).
func MinP(n1, n2 int) float64 {
	if n1 == 0 || n2 == 0 {
		return 1
	}
	// C(n1+n2, n1) as a float, multiplicatively.
	c := 1.0
	for i := 1; i <= n1; i++ {
		c = c * float64(n2+i) / float64(i)
	}
	return math.Min(1, 2/c)
}

// MinRunsEach is the fewest runs on each side (as many on both) with
// which the U test can be significant at alpha: 4 for 0.05, 5 for 0.01.
func MinRunsEach(alpha float64) int {
	for n := 1; n < 1000; n++ {
		if MinP(n, n) <= alpha {
			return n
		}
	}
	return 1000
}

// shift is the Hodges-Lehmann estimate of b - a with its distribution-free
// confidence interval at 1-alpha: the k-th smallest and largest pairwise
// differences, k from the exact U distribution.
func shift(a, b []float64, alpha float64) (est, lo, hi float64) {
	if len(a) == 0 || len(b) == 0 {
		nan := math.NaN()
		return nan, nan, nan
	}
	d := make([]float64, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			switch {
			case math.IsInf(x, 1) && math.IsInf(y, 1):
				d = append(d, 0)
			default:
				d = append(d, y-x)
			}
		}
	}
	slices.Sort(d)
	est = median(d)
	// The largest k with P(U < k) <= alpha/2: the interval is
	// [d(k), d(m-k+1)] in 1-based order statistics.
	u := moremath.UDist{N1: len(a), N2: len(b)}
	k := 0
	for c := 0; c < len(d); c++ {
		if u.CDF(float64(c)) > alpha/2 {
			break
		}
		k = c + 1
	}
	if k == 0 {
		return est, math.Inf(-1), math.Inf(1)
	}
	return est, d[k-1], d[len(d)-k]
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	lo, hi := sorted[n/2-1], sorted[n/2]
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		if lo == hi {
			return lo
		}
		return hi
	}
	return (lo + hi) / 2
}
