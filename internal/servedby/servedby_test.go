package servedby

import (
	"sync"
	"testing"
)

func TestIndex(t *testing.T) {
	nodes := map[string]int{"10.0.0.1:6379": 1, "10.0.0.2:6379": 2}
	var mu sync.Mutex
	asked := map[string]int{}
	x := New(func(addr string) int {
		mu.Lock()
		defer mu.Unlock()
		asked[addr]++
		return nodes[addr]
	})
	for _, tt := range []struct {
		addr  string
		want  int
		asked int // times resolve was asked for addr so far
	}{
		{"10.0.0.1:6379", 1, 1},
		{"10.0.0.1:6379", 1, 1}, // kept
		{"10.0.0.2:6379", 2, 1},
		{"10.0.0.9:6379", 0, 1}, // unknown: not kept
		{"10.0.0.9:6379", 0, 2},
	} {
		if got := x.Of(tt.addr); got != tt.want || asked[tt.addr] != tt.asked {
			t.Errorf("Of(%s) = %d after %d resolves, want %d after %d", tt.addr, got, asked[tt.addr], tt.want, tt.asked)
		}
	}
	nodes["10.0.0.9:6379"], nodes["10.0.0.1:6379"] = 3, 3 // node 3 took node 1's address
	x.Forget()
	if got := x.Of("10.0.0.1:6379"); got != 3 {
		t.Errorf("after Forget: %d, want 3", got)
	}
	if got := x.Of("10.0.0.9:6379"); got != 3 {
		t.Errorf("a node known later: %d, want 3", got)
	}
	var none *Index[string]
	if none.Of("x") != 0 {
		t.Error("a nil Index knows a node")
	}
	none.Forget()
}

// Concurrent lookups and Forget (run with -race).
func TestIndexConcurrent(t *testing.T) {
	x := New(func(k int) int { return k%5 + 1 })
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				if g == 0 && i%100 == 0 {
					x.Forget()
				}
				if got := x.Of(i % 50); got != i%50%5+1 {
					t.Errorf("Of(%d) = %d", i%50, got)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkIndexHit(b *testing.B) {
	x := New(func(addr string) int { return 1 })
	x.Of("10.0.0.1:6379")
	b.ReportAllocs()
	for b.Loop() {
		if x.Of("10.0.0.1:6379") != 1 {
			b.Fatal("miss")
		}
	}
}
