package workload

import (
	"math"
	"testing"
	"time"
)

func TestRateSchedule(t *testing.T) {
	const s = time.Second
	rs := NewRateSchedule(100)
	sched := rs.Schedule()
	// before any change it is ConstantRate
	c := ConstantRate(100)
	for _, n := range []uint64{0, 1, 99, 100, 12345} {
		if got, want := sched(n), c(n); got != want {
			t.Errorf("op %d at %v, ConstantRate says %v", n, got, want)
		}
	}
	// from 10 s: 500 ops/s at once; from 20 s: ramp to 1500 over 10 s
	rs.Ramp(10*s, 500, 0)
	rs.Ramp(20*s, 1500, 10*s)
	for _, tc := range []struct {
		at    time.Duration
		count float64 // ops due before at
		rate  float64
	}{
		{5 * s, 500, 100},
		{10 * s, 1000, 500},
		{15 * s, 1000 + 2500, 500},
		{20 * s, 1000 + 5000, 500},
		{25 * s, 6000 + (500+1000)/2*5, 1000}, // halfway up the ramp
		{30 * s, 6000 + (500+1500)/2*10, 1500},
		{40 * s, 16000 + 15000, 1500},
	} {
		if got := rs.Count(tc.at); math.Abs(got-tc.count) > 1e-6 {
			t.Errorf("count before %v = %v, want %v", tc.at, got, tc.count)
		}
		if got := rs.RateAt(tc.at); math.Abs(got-tc.rate) > 1e-9 {
			t.Errorf("rate at %v = %v, want %v", tc.at, got, tc.rate)
		}
		// the op due at a count's time is where Count says
		if n := uint64(tc.count); float64(n) == tc.count {
			if got := sched(n); absDur(got-tc.at) > time.Microsecond {
				t.Errorf("op %d due at %v, want %v", n, got, tc.at)
			}
		}
	}
	// intended times never go back, across every change
	prev := time.Duration(-1)
	for n := uint64(0); n < 40000; n += 7 {
		at := sched(n)
		if at < prev {
			t.Fatalf("op %d at %v before op %d at %v", n, at, n-7, prev)
		}
		prev = at
	}
	// ops already due when the rate changes keep their times
	rs2 := NewRateSchedule(10)
	before := rs2.Schedule()(5) // due at 0.5 s
	rs2.Ramp(time.Second, 1000, 0)
	if after := rs2.Schedule()(5); after != before {
		t.Errorf("op 5 moved from %v to %v", before, after)
	}
	// a ramp down works too
	rs3 := NewRateSchedule(1000)
	rs3.Ramp(0, 100, 10*s)
	if got := rs3.Count(10 * s); math.Abs(got-5500) > 1e-6 {
		t.Errorf("ramp 1000 -> 100 over 10 s schedules %v ops, want 5500", got)
	}
	if got := rs3.Schedule()(5500); absDur(got-10*s) > time.Microsecond {
		t.Errorf("op 5500 at %v, want 10s", got)
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
