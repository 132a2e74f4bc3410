package workload

import (
	"math"
	"sync"
	"time"
)

// Schedule gives the intended start of operation n (0-based) as an offset
// from the start of the load. It is the open-loop plug point: the load
// never waits for the database to decide when the next operation starts.
type Schedule func(n uint64) time.Duration

// ConstantRate issues rate operations per second, evenly spaced.
func ConstantRate(rate float64) Schedule {
	interval := float64(time.Second) / rate
	return func(n uint64) time.Duration { return time.Duration(float64(n) * interval) }
}

// Count returns how many operations s schedules before d.
func Count(s Schedule, d time.Duration) uint64 {
	// binary search: s is increasing
	lo, hi := uint64(0), uint64(1)
	for s(hi) < d {
		lo, hi = hi, hi*2
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if s(mid) < d {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// splitmix64 turns (seed, n) into independent random bits, so operation n's
// type and key depend only on the seed and n, not on which worker ran it.
func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

func unitFloat(x uint64) float64 { return float64(x>>11) / (1 << 53) }

// RateSchedule is an open-loop schedule whose target rate a scenario may
// change while the load runs (rate and ramp steps): a chain of segments,
// each a linear ramp from one rate to another over a span and constant
// after it, each starting where the one before is cut. Operations already
// due keep their times; only later ones follow the new rate. It is safe
// for concurrent use.
type RateSchedule struct {
	mu   sync.RWMutex
	segs []rateSegment // by start
}

// rateSegment: from t0, when c0 operations were due, the rate goes from r0
// to r1 over span (0: at once) and stays r1.
type rateSegment struct {
	t0     time.Duration
	c0     float64
	r0, r1 float64
	span   time.Duration
}

// NewRateSchedule starts at rate operations per second (> 0).
func NewRateSchedule(rate float64) *RateSchedule {
	return &RateSchedule{segs: []rateSegment{{r0: rate, r1: rate}}}
}

// count is how many operations the segment schedules in its first d.
func (s rateSegment) count(d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	span := s.span.Seconds()
	t := d.Seconds()
	if span <= 0 || t >= span {
		ramp := 0.0
		if span > 0 {
			ramp = (s.r0 + s.r1) / 2 * span
			t -= span
		}
		return ramp + s.r1*t
	}
	return s.r0*t + (s.r1-s.r0)/(2*span)*t*t
}

// rateAt is the segment's rate d after its start.
func (s rateSegment) rateAt(d time.Duration) float64 {
	if s.span <= 0 || d >= s.span {
		return s.r1
	}
	if d <= 0 {
		return s.r0
	}
	return s.r0 + (s.r1-s.r0)*d.Seconds()/s.span.Seconds()
}

// after is how long after the segment's start its k-th operation is due.
func (s rateSegment) after(k float64) time.Duration {
	span := s.span.Seconds()
	if span > 0 {
		if full := (s.r0 + s.r1) / 2 * span; k < full {
			a := (s.r1 - s.r0) / (2 * span)
			var t float64
			if a == 0 {
				t = k / s.r0
			} else {
				t = (-s.r0 + math.Sqrt(s.r0*s.r0+4*a*k)) / (2 * a)
			}
			return time.Duration(t * float64(time.Second))
		}
		return s.span + time.Duration((k-(s.r0+s.r1)/2*span)/s.r1*float64(time.Second))
	}
	return time.Duration(k / s.r1 * float64(time.Second))
}

// Schedule is the function the workers call.
func (rs *RateSchedule) Schedule() Schedule {
	return func(n uint64) time.Duration {
		rs.mu.RLock()
		defer rs.mu.RUnlock()
		i := len(rs.segs) - 1
		for i > 0 && rs.segs[i].c0 > float64(n) {
			i--
		}
		s := rs.segs[i]
		return s.t0 + s.after(float64(n)-s.c0)
	}
}

// segmentAt is the segment in force at at.
func (rs *RateSchedule) segmentAt(at time.Duration) rateSegment {
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	i := len(rs.segs) - 1
	for i > 0 && rs.segs[i].t0 > at {
		i--
	}
	return rs.segs[i]
}

// Count is how many operations are due before at (fractional).
func (rs *RateSchedule) Count(at time.Duration) float64 {
	s := rs.segmentAt(at)
	return s.c0 + s.count(at-s.t0)
}

// RateAt is the target rate at at.
func (rs *RateSchedule) RateAt(at time.Duration) float64 {
	s := rs.segmentAt(at)
	return s.rateAt(at - s.t0)
}

// Ramp changes the rate from what it is at at to rate (> 0), linearly over
// span (0: at once). at must not be earlier than the last change.
func (rs *RateSchedule) Ramp(at time.Duration, rate float64, span time.Duration) {
	c, r := rs.Count(at), rs.RateAt(at)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if last := rs.segs[len(rs.segs)-1]; at < last.t0 {
		at = last.t0
	}
	rs.segs = append(rs.segs, rateSegment{t0: at, c0: c, r0: r, r1: rate, span: max(span, 0)})
}
