package workload

import "time"

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
