package judge

import (
	"fmt"
	"maps"
	"strconv"

	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/model"
)

// DefaultCapacityTolerance is how far, in percent, B's max rate held may
// fall below A's before it is a regression (--max-regression capacity=N%).
const DefaultCapacityTolerance = 10.0

// singleRunNote: one capacity search per side is one measurement.
const singleRunNote = "one capacity run per side: no statistics, the change is a single measurement; " +
	"a change within the run-to-run spread (see the README) is noise"

// compareCapacity compares two capacity reports (evalrun capacity): their
// max rates held side by side, B regressing when its max rate held is
// more than the capacity limit below A's. A side whose number is a bound
// (nothing broke, or the first stage already broke) is judged only where
// the bound decides it; otherwise the metric is unchecked and says why.
func (c *Comparison) compareCapacity(a, b *model.Report, lim Limits) {
	if a.Capacity == nil || b.Capacity == nil {
		side, other := "A", "B"
		if a.Capacity == nil {
			side, other = "B", "A"
		}
		c.Incomparable = fmt.Sprintf("%s is a capacity report (evalrun capacity) and %s is not", side, other)
		return
	}
	ca, cb := a.Capacity, b.Capacity
	if ca.SLO.Text != cb.SLO.Text {
		c.note("different SLOs: A %s, B %s: the max rates answer different questions", ca.SLO.Text, cb.SLO.Text)
	}
	if ca.StageMs != cb.StageMs || ca.SettleMs != cb.SettleMs {
		c.note("different stages: A %s after %s settling, B %s after %s", format.Millis(ca.StageMs), format.Millis(ca.SettleMs),
			format.Millis(cb.StageMs), format.Millis(cb.SettleMs))
	}
	c.note("%s", singleRunNote)
	tol, has := lim["capacity"]
	if !has {
		tol = DefaultCapacityTolerance
	}
	held := capacityHeldMetric(ca, cb, tol)
	if held.Regression { // the rates as the stages ran them, not rounded
		c.Regressions = append(c.Regressions, fmt.Sprintf("capacity max rate held: %s -> %s ops/s (%s, limit %s)",
			strconv.FormatFloat(held.A, 'f', -1, 64), strconv.FormatFloat(held.B, 'f', -1, 64), held.ChangeText, held.Limit))
	}
	c.Capacity = append(c.Capacity, held, MetricComparison{Metric: "first broken rate", Kind: model.KindRate,
		A: rateOr(ca.FirstBrokenRate), B: rateOr(cb.FirstBrokenRate), ChangeText: capacityChange(ca.FirstBrokenRate, cb.FirstBrokenRate)})
	// Two setups of one workload (healthy and one node degraded; two
	// databases) are what capacity runs are compared for: their scenarios
	// may differ by the steps and the cluster. A different workload is
	// another question.
	switch {
	case !sameWorkload(a.Workload, b.Workload):
		c.Incomparable = "A and B ran different workloads (mix, keys, distribution, value size or timeout)"
	case !held.Checked:
		c.Incomparable = "the max rate held cannot be judged: " + held.ChangeText
	}
}

// capacityHeldMetric compares the max rates held. Both known: B regresses
// when more than tol percent below A. B's first stage broke: B regresses
// when that rate is more than tol below what A held. A's rate unknown:
// unchecked. B not reached (a lower bound) above the limit: no regression.
func capacityHeldMetric(ca, cb *model.Capacity, tol float64) MetricComparison {
	m := MetricComparison{Metric: "max rate held", Kind: model.KindRate, A: rateOr(ca.MaxHeldRate), B: rateOr(cb.MaxHeldRate),
		Limit: "-" + strconv.FormatFloat(tol, 'g', -1, 64) + "%"}
	m.ChangeText = capacityChange(ca.MaxHeldRate, cb.MaxHeldRate)
	if ca.MaxHeldRate == nil {
		m.ChangeText = "A's is unknown (" + ca.Result + ")"
		return m
	}
	floor := *ca.MaxHeldRate * (1 - tol/100)
	switch {
	case cb.MaxHeldRate != nil:
		m.Change = (*cb.MaxHeldRate - *ca.MaxHeldRate) * 100 / *ca.MaxHeldRate
		m.Checked = true
		m.Regression = *cb.MaxHeldRate < floor-1e-9
		if m.Regression && cb.Result == model.CapacityNotReached {
			m.Regression, m.Checked = false, false // B's is a lower bound: it may hold more
			m.ChangeText += ", B's a lower bound"
		}
	case cb.FirstBrokenRate != nil: // B's first stage broke: below it
		m.Checked = true
		m.Regression = *cb.FirstBrokenRate < floor-1e-9
		m.ChangeText = "B's first stage (" + strconv.FormatFloat(*cb.FirstBrokenRate, 'f', -1, 64) + " ops/s) broke"
		if !m.Regression {
			m.Checked = false
		}
	default:
		m.ChangeText = "B's is unknown (" + cb.Result + ")"
	}
	return m
}

func rateOr(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// capacityChange is the relative change of two rates, or says which is
// absent.
func capacityChange(a, b *float64) string {
	switch {
	case a == nil && b == nil:
		return "none on either side"
	case a == nil:
		return "only B has one"
	case b == nil:
		return "only A has one"
	}
	return format.RelChange(*a, *b)
}

// capacityVerdictLine is the verdict of a capacity comparison.
func (c *Comparison) capacityVerdictLine() string {
	if c.Regressed() {
		return "REGRESSION: B's max rate held is lower than A's beyond the limit"
	}
	return "no significant change: B's max rate held is within the limit of A's"
}

// sameWorkload: the operations a stage offers are alike (the rate and the
// concurrency may differ: the stages set the rate).
func sameWorkload(a, b model.WorkloadInfo) bool {
	return maps.Equal(a.Mix, b.Mix) && a.Keys == b.Keys && a.Distribution == b.Distribution &&
		a.ValueSize == b.ValueSize && a.TimeoutMs == b.TimeoutMs
}
