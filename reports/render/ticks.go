package render

import (
	"math"
	"strconv"

	"gonum.org/v1/plot"

	"github.com/evalrun/evalrun/reports/format"
)

// This file holds the plots' axis ticks and the one formatter of their
// numeric labels. Tick values are computed as i × step from an integer i,
// never by adding steps up, and every label goes through tickLabel, so no
// label shows binary float noise (0.6000000000000001).

// tickLabel writes a tick value: at most ten significant digits, so that
// the last bits of a product like 12 × 0.05 do not show; whole numbers with
// thousands separators; -0 as 0.
func tickLabel(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		if v == 0 {
			return "0"
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 10, 64), 64)
	if err != nil {
		r = v
	}
	if r == math.Trunc(r) && math.Abs(r) < 1e15 {
		return format.Count(int64(r))
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// secondsTicks are linear ticks on "nice" second steps.
type secondsTicks struct{}

func (secondsTicks) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	steps := []float64{1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200}
	step := steps[len(steps)-1]
	for _, s := range steps {
		if span/s <= 12 {
			step = s
			break
		}
	}
	minor := step / 2
	if step == 15 || step == 30 {
		minor = step / 3
	}
	var ticks []plot.Tick
	for i := math.Ceil(lo / minor); i*minor <= hi+1e-9; i++ {
		v := i * minor
		t := plot.Tick{Value: v}
		if math.Abs(math.Mod(v, step)) < 1e-9 {
			t.Label = tickLabel(v)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// logMsTicks are decade ticks on a millisecond log axis, labelled in
// human units (100µs, 1ms, 10ms, 1s), with unlabelled minor ticks.
type logMsTicks struct{}

func (logMsTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= 0 {
		return nil
	}
	var ticks []plot.Tick
	for d := math.Floor(math.Log10(lo)); d <= math.Ceil(math.Log10(hi)); d++ {
		base := math.Pow(10, d)
		for i := 1; i < 10; i++ {
			v := base * float64(i)
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if i == 1 {
				t.Label = format.MicrosF(v * 1000)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// linearTicks are ticks on 1, 2, 2.5 or 5 times a power of ten, at most
// six labelled ones, labelled with thousands separators.
type linearTicks struct{}

func (linearTicks) Ticks(lo, hi float64) []plot.Tick { return niceTicks(lo, hi, false) }

// countTicks are linearTicks for counts (keys, partitions, a 0/1 flag):
// every tick, labelled or not, is a whole number, so an axis of small
// counts reads 0, 1, 2 and never 0.5.
type countTicks struct{}

func (countTicks) Ticks(lo, hi float64) []plot.Tick { return niceTicks(lo, hi, true) }

// niceTicks puts labelled ticks every step (1, 2, 2.5 or 5 times a power
// of ten; at most six of them over [lo, hi]) and unlabelled ones between.
// whole keeps only whole-number steps and ticks.
func niceTicks(lo, hi float64, whole bool) []plot.Tick {
	span := hi - lo
	if !(span > 0) || math.IsInf(span, 0) {
		return nil
	}
	step := niceStep(span, whole)
	minor := minorStep(step, whole)
	var ticks []plot.Tick
	for i := math.Ceil(lo / minor); i*minor <= hi*(1+1e-12); i++ {
		v := i * minor
		t := plot.Tick{Value: v}
		if q := v / step; math.Abs(q-math.Round(q)) < 1e-9 {
			t.Label = tickLabel(v)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// niceStep is the smallest of 1, 2, 2.5 and 5 times a power of ten that
// cuts span into at most six steps; whole: the smallest whole one (1 at
// least).
func niceStep(span float64, whole bool) float64 {
	for e := math.Floor(math.Log10(span / 6)); ; e++ {
		for _, m := range []float64{1, 2, 2.5, 5, 10} {
			s := m * math.Pow(10, e)
			if whole && (s < 1 || s != math.Trunc(s)) {
				continue
			}
			if span/s <= 6 {
				return s
			}
		}
	}
}

// minorStep divides step into the unlabelled ticks between labels: fifths
// (quarters of a 2); for whole steps the finest whole division, down to
// step itself.
func minorStep(step float64, whole bool) float64 {
	r := step / math.Pow(10, math.Floor(math.Log10(step)))
	div := []float64{5}
	if r == 2 {
		div = []float64{4}
	}
	if whole {
		div = append(div, 2, 1)
	}
	for _, d := range div {
		if m := step / d; !whole || m == math.Trunc(m) {
			return m
		}
	}
	return step
}
