package workload

import (
	"fmt"
	"math"
)

// KeyChooser maps a uniform random number u in [0,1) to a key index.
type KeyChooser interface {
	Key(u float64) int
}

// Uniform picks every key with the same probability.
type Uniform struct{ N int }

func (c Uniform) Key(u float64) int {
	k := int(u * float64(c.N))
	if k >= c.N {
		k = c.N - 1
	}
	return k
}

// Zipfian picks keys with a Zipf distribution of constant Theta (YCSB's
// 0.99 by default: a few hot keys), using Gray et al.'s "Quickly
// generating billion-record synthetic databases" as YCSB's
// ZipfianGenerator does. Ranks are scrambled with a hash so the hot keys
// spread over the key space (YCSB's ScrambledZipfianGenerator).
type Zipfian struct {
	n                        int
	theta, alpha, zetan, eta float64
	halfPowTheta             float64
}

// YCSBZipfianConstant is YCSB's default zipfian constant.
const YCSBZipfianConstant = 0.99

// NewZipfian precomputes the distribution for n keys (O(n) once).
func NewZipfian(n int, theta float64) (*Zipfian, error) {
	if n < 1 {
		return nil, fmt.Errorf("zipfian: need at least one key, got %d", n)
	}
	if theta <= 0 || theta >= 1 {
		return nil, fmt.Errorf("zipfian: theta must be in (0,1), got %g", theta)
	}
	z := &Zipfian{n: n, theta: theta, alpha: 1 / (1 - theta)}
	for i := 1; i <= n; i++ {
		z.zetan += 1 / math.Pow(float64(i), theta)
	}
	zeta2 := 1 + 1/math.Pow(2, theta)
	z.eta = (1 - math.Pow(2/float64(n), 1-theta)) / (1 - zeta2/z.zetan)
	z.halfPowTheta = 1 + math.Pow(0.5, theta)
	return z, nil
}

// Rank returns the popularity rank (0 = hottest) for u.
func (z *Zipfian) Rank(u float64) int {
	uz := u * z.zetan
	if uz < 1 {
		return 0
	}
	if uz < z.halfPowTheta {
		return 1
	}
	r := int(float64(z.n) * math.Pow(z.eta*u-z.eta+1, z.alpha))
	if r >= z.n {
		r = z.n - 1
	}
	return r
}

// Key returns the scrambled key for u.
func (z *Zipfian) Key(u float64) int {
	return int(fnv64(uint64(z.Rank(u))) % uint64(z.n))
}

func fnv64(v uint64) uint64 {
	h := uint64(0xCBF29CE484222325)
	for i := 0; i < 8; i++ {
		h ^= v & 0xff
		h *= 0x100000001B3
		v >>= 8
	}
	return h
}

// KeyName is the database key of key index k.
func KeyName(k int) string { return fmt.Sprintf("evalrun/k%08d", k) }
