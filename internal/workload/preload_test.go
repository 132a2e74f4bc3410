package workload

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalrun/evalrun/internal/safety"
)

// concurrencyClient counts the Puts in flight at once and fails the first
// try of every key whose index is a multiple of failEvery (0: none).
type concurrencyClient struct {
	inFlight, maxInFlight atomic.Int64
	mu                    sync.Mutex
	tries                 map[string]int
	failEvery             int
}

func (c *concurrencyClient) Put(ctx context.Context, k string, _ []byte) error {
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for {
		m := c.maxInFlight.Load()
		if n <= m || c.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(time.Millisecond) // long enough for every writer to be in flight
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tries[k]++
	if c.failEvery > 0 && len(k)%c.failEvery == 0 && c.tries[k] == 1 {
		return errors.New("first try fails")
	}
	return nil
}
func (c *concurrencyClient) Get(context.Context, string) ([]byte, error) { return nil, nil }
func (c *concurrencyClient) Delete(context.Context, string) error        { return nil }
func (c *concurrencyClient) Close() error                                { return nil }

func TestPreloadWriters(t *testing.T) {
	tests := []struct {
		conc, keys int
		wantMax    int64
	}{
		{conc: 0, keys: 50, wantMax: 1},
		{conc: 8, keys: 400, wantMax: 8},
		{conc: 4000, keys: 2000, wantMax: MaxPreloadWriters},
	}
	for _, tt := range tests {
		c := &concurrencyClient{tries: map[string]int{}, failEvery: 2}
		ks := names(tt.keys)
		ops, err := Preload(context.Background(), c, safety.New(tt.keys, time.Second), nil, ks, 16, tt.conc, time.Second, func() time.Duration { return 0 })
		if err != nil {
			t.Fatalf("conc %d: %v", tt.conc, err)
		}
		if got := c.maxInFlight.Load(); got > tt.wantMax || (tt.wantMax > 1 && got < 2) {
			t.Errorf("conc %d: %d writes in flight at most, want %d", tt.conc, got, tt.wantMax)
		}
		if len(c.tries) != tt.keys {
			t.Errorf("conc %d: %d keys written, want %d", tt.conc, len(c.tries), tt.keys)
		}
		retried := 0
		for _, n := range c.tries {
			retried += n - 1
		}
		if ops != int64(tt.keys+retried) {
			t.Errorf("conc %d: %d writes counted, want %d (%d keys, %d retries)", tt.conc, ops, tt.keys+retried, tt.keys, retried)
		}
	}
}

func TestHistorySample(t *testing.T) {
	z, err := NewZipfian(5000, YCSBZipfianConstant)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		c       KeyChooser
		keys, n int
		wantHot int // the hottest keys that must be in the sample
	}{
		{"uniform", Uniform{N: 5000}, 5000, 64, 0},
		{"zipfian", z, 5000, 64, 32},
		{"fewer keys than asked", Uniform{N: 10}, 10, 64, 0},
		{"none", z, 5000, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := HistorySample(tt.c, tt.keys, tt.n)
			want := min(tt.n, tt.keys)
			if len(got) != want {
				t.Fatalf("%d keys, want %d: %v", len(got), want, got)
			}
			for i, k := range got {
				if k < 0 || k >= tt.keys || i > 0 && got[i-1] >= k {
					t.Fatalf("not sorted distinct keys in range: %v", got)
				}
			}
			if tt.wantHot > 0 {
				for _, k := range z.Hottest(tt.wantHot) {
					if !slices.Contains(got, k) {
						t.Errorf("hot key %d not sampled", k)
					}
				}
				// The rest spreads: some sampled key in each tenth of the key space.
				for tenth := range 10 {
					lo, hi := tenth*tt.keys/10, (tenth+1)*tt.keys/10
					if !slices.ContainsFunc(got, func(k int) bool { return k >= lo && k < hi }) {
						t.Errorf("no sampled key in [%d, %d)", lo, hi)
					}
				}
			}
			if again := HistorySample(tt.c, tt.keys, tt.n); !slices.Equal(again, got) {
				t.Errorf("not deterministic")
			}
		})
	}
	// The hottest key is the zipfian's rank 0.
	if h := z.Hottest(1); len(h) != 1 || h[0] != z.Key(0) {
		t.Errorf("Hottest(1) = %v, want [%d]", h, z.Key(0))
	}
}
