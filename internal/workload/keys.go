package workload

import (
	"fmt"
	"math"
	"slices"
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

// Hottest returns the indexes of the n most popular keys, hottest first
// (fewer when scrambled ranks collide on the same index before n distinct
// ones are found among the first 4n ranks).
func (z *Zipfian) Hottest(n int) []int {
	seen := map[int]bool{}
	var keys []int
	for rank := 0; rank < z.n && rank < 4*n && len(keys) < n; rank++ {
		k := int(fnv64(uint64(rank)) % uint64(z.n))
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// HistorySample is the sample of keys whose history is recorded: half of
// them the hottest keys when the chooser has hot keys (a linearizability
// check learns most where operations overlap), the rest spread evenly over
// the key space; n keys in all (every key when keys <= n), sorted, the
// same for the same arguments.
func HistorySample(c KeyChooser, keys, n int) []int {
	if n <= 0 {
		return nil
	}
	if n >= keys {
		n = keys
	}
	picked := make(map[int]bool, n)
	out := make([]int, 0, n)
	add := func(k int) {
		if len(out) < n && !picked[k] {
			picked[k] = true
			out = append(out, k)
		}
	}
	if z, ok := c.(*Zipfian); ok {
		for _, k := range z.Hottest(n / 2) {
			add(k)
		}
	}
	rest := n - len(out)
	for i := 0; i < rest; i++ {
		add(i * keys / rest)
	}
	for k := 0; len(out) < n; k++ { // spread keys that were hot already: the next free ones
		add(k)
	}
	slices.Sort(out)
	return out
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
