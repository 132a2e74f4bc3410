package stats

import (
	"math"
	"testing"
)

func TestMinRunsEach(t *testing.T) {
	for _, tc := range []struct {
		alpha float64
		want  int
	}{{0.05, 4}, {0.01, 5}, {0.1, 3}, {0.001, 7}} {
		if got := MinRunsEach(tc.alpha); got != tc.want {
			t.Errorf("MinRunsEach(%g) = %d, want %d", tc.alpha, got, tc.want)
		}
	}
	if p := MinP(4, 4); math.Abs(p-2.0/70) > 1e-12 {
		t.Errorf("MinP(4,4) = %g, want 2/70", p)
	}
}

func TestCompare(t *testing.T) {
	a := []float64{100, 103, 97, 102, 98, 101}
	for _, tc := range []struct {
		name        string
		b           []float64
		alpha       float64
		significant bool
		tooFew      bool
		shift       float64 // expected estimate, within 2
	}{
		{"same distribution", []float64{101, 98, 102, 97, 103, 100}, 0.05, false, false, 0},
		{"15% higher", []float64{115, 118.5, 111.5, 117.3, 112.7, 116.2}, 0.05, true, false, 15},
		{"15% higher, too few", []float64{115, 118}, 0.05, false, true, 15},
		{"identical values", []float64{100, 103, 97, 102, 98, 101}, 0.05, false, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			aa := a
			if tc.tooFew {
				aa = a[:2]
			}
			r := Compare(aa, tc.b, tc.alpha)
			if r.Significant != tc.significant || r.TooFew != tc.tooFew {
				t.Fatalf("significant %v tooFew %v (p=%g), want %v %v", r.Significant, r.TooFew, r.P, tc.significant, tc.tooFew)
			}
			if math.Abs(r.Shift-tc.shift) > 2 {
				t.Errorf("shift %g, want about %g", r.Shift, tc.shift)
			}
			if !tc.tooFew && !(r.ShiftLo <= r.Shift && r.Shift <= r.ShiftHi) {
				t.Errorf("shift %g outside its interval [%g, %g]", r.Shift, r.ShiftLo, r.ShiftHi)
			}
			if r.P > 1 || r.P < MinP(len(aa), len(tc.b)) {
				t.Errorf("p = %g out of range", r.P)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{5, 1, 3, 2, 4, 6})
	if s.N != 6 || s.Min != 1 || s.Max != 6 || s.Median != 3.5 {
		t.Fatalf("summary %+v", s)
	}
	if math.IsInf(s.Lo, 0) || s.Lo > s.Median || s.Hi < s.Median {
		t.Errorf("interval [%g, %g] of 6 values", s.Lo, s.Hi)
	}
	if s := Summarize([]float64{1, 2}); !math.IsInf(s.Lo, -1) {
		t.Errorf("2 values have no 95%% interval, got [%g, %g]", s.Lo, s.Hi)
	}
	if s := Summarize([]float64{2, 2, 2}); s.CV != 0 {
		t.Errorf("CV of constant values = %g", s.CV)
	}
	if s := Summarize(nil); s.N != 0 || !math.IsNaN(s.Median) {
		t.Errorf("empty summary %+v", s)
	}
	if s := Summarize([]float64{1, math.Inf(1), 2}); s.Max != math.Inf(1) || s.Median != 2 || !math.IsNaN(s.CV) {
		t.Errorf("summary with +Inf %+v", s)
	}
	// A fault never recovered from in some runs: no NaN anywhere but CV.
	for _, v := range [][]float64{{1, 2, 3, math.Inf(1), math.Inf(1), math.Inf(1)}, {5, math.Inf(1)}, {math.Inf(1), math.Inf(1)}} {
		s := Summarize(v)
		if math.IsNaN(s.Median) || math.IsNaN(s.Lo) || math.IsNaN(s.Hi) || math.IsNaN(s.Min) || math.IsNaN(s.Max) {
			t.Errorf("Summarize(%v) = %+v has a NaN", v, s)
		}
	}
}
