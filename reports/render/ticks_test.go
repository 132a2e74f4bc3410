package render

import (
	"math"
	"regexp"
	"slices"
	"testing"

	"gonum.org/v1/plot"
)

func TestTickLabel(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{12 * 0.05, "0.6"}, // 0.6000000000000001
		{3 * 0.1, "0.3"},   // 0.30000000000000004
		{0.07, "0.07"},
		{2.5, "2.5"},
		{-1.5, "-1.5"},
		{1, "1"},
		{1500, "1,500"},
		{1234567, "1,234,567"},
		{1e-7, "0.0000001"},
	} {
		if got := tickLabel(tc.v); got != tc.want {
			t.Errorf("tickLabel(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// labels returns the labelled ticks' values and labels.
func labels(ticks []plot.Tick) (values []float64, text []string) {
	for _, tk := range ticks {
		if tk.Label != "" {
			values, text = append(values, tk.Value), append(text, tk.Label)
		}
	}
	return values, text
}

func TestLinearAndCountTicks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ticker plot.Ticker
		lo, hi float64
		want   []string
	}{
		// the history's "Lost and stale keys" plot of zeros: the axis to 1.08
		{"linear to 1.08", linearTicks{}, 0, 1.08, []string{"0", "0.2", "0.4", "0.6", "0.8", "1"}},
		{"count to 1.08", countTicks{}, 0, 1.08, []string{"0", "1"}},
		{"count to 1.3", countTicks{}, 0, 1.3, []string{"0", "1"}},
		{"count to 3.9", countTicks{}, 0, 3.9, []string{"0", "1", "2", "3"}},
		{"count to 13", countTicks{}, 0, 13, []string{"0", "5", "10"}},
		{"linear to 13", linearTicks{}, 0, 13, []string{"0", "2.5", "5", "7.5", "10", "12.5"}},
		{"count to 52000", countTicks{}, 0, 52000, []string{"0", "10,000", "20,000", "30,000", "40,000", "50,000"}},
	} {
		_, got := labels(tc.ticker.Ticks(tc.lo, tc.hi))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: labels %q, want %q", tc.name, got, tc.want)
		}
		if _, ok := tc.ticker.(countTicks); ok {
			for _, tk := range tc.ticker.Ticks(tc.lo, tc.hi) {
				if tk.Value != float64(int64(tk.Value)) {
					t.Errorf("%s: a count axis has a tick at %v", tc.name, tk.Value)
				}
			}
		}
	}
}

// No tick label of any axis shows float noise, over many ranges.
func TestTicksHaveNoFloatNoise(t *testing.T) {
	clean := regexp.MustCompile(`^-?[0-9]{1,3}(,[0-9]{3})*(\.[0-9]{1,6})?$`)
	for _, ticker := range []plot.Ticker{linearTicks{}, countTicks{}, secondsTicks{}} {
		for hi := 0.013; hi < 2e6; hi *= 1.37 {
			for _, lo := range []float64{0, hi / 7} {
				_, text := labels(ticker.Ticks(lo, hi))
				for _, l := range text {
					if !clean.MatchString(l) {
						t.Errorf("%T over [%v, %v]: label %q", ticker, lo, hi, l)
					}
				}
			}
		}
	}
}
