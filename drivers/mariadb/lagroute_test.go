package mariadb

import (
	"context"
	"sync"
	"testing"
	"time"
)

// within: the measured lag aged by the time since the measurement, under
// the bound; never measured, or measured too long ago, is over it.
func TestLagBookWithin(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const bound = 500 * time.Millisecond
	tests := []struct {
		name     string
		measured bool
		lag      time.Duration
		age      time.Duration // now - measuredAt
		want     bool
	}{
		{name: "never measured", measured: false, want: false},
		{name: "fresh and small", measured: true, lag: 50 * time.Millisecond, age: 0, want: true},
		{name: "small lag, aged a while", measured: true, lag: 100 * time.Millisecond, age: 300 * time.Millisecond, want: true},
		{name: "lag plus age just under", measured: true, lag: 200 * time.Millisecond, age: 299 * time.Millisecond, want: true},
		{name: "lag plus age at the bound", measured: true, lag: 200 * time.Millisecond, age: 300 * time.Millisecond, want: false},
		{name: "lag over the bound", measured: true, lag: 600 * time.Millisecond, age: 0, want: false},
		{name: "no lag, not measured for the bound (paused)", measured: true, lag: 0, age: bound, want: false},
		{name: "negative lag (clock step) counts as none", measured: true, lag: -time.Second, age: 100 * time.Millisecond, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := t0
			b := &lagBook{now: func() time.Time { return now }}
			if tc.measured {
				b.record(2, tc.lag, t0)
			}
			now = t0.Add(tc.age)
			if got := b.within(2, bound); got != tc.want {
				t.Errorf("within(lag %v, aged %v, bound %v) = %v, want %v", tc.lag, tc.age, bound, got, tc.want)
			}
			if b.within(3, bound) {
				t.Error("node3, never measured, is within the bound")
			}
		})
	}
}

// A measurement that answers after a later one does not replace it.
func TestLagBookKeepsNewest(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b := &lagBook{now: func() time.Time { return t0.Add(time.Second) }}
	b.record(2, 100*time.Millisecond, t0.Add(900*time.Millisecond))
	b.record(2, 0, t0) // sent earlier, answered later
	if !b.within(2, 250*time.Millisecond) {
		t.Error("the newer sample (lag 100 ms, aged 100 ms) was replaced by an older one")
	}
	if b.within(2, 200*time.Millisecond) {
		t.Error("lag 100 ms aged 100 ms is within 200 ms")
	}
}

// fakeProbe: replicas 2 and 3; replica 3's measurement blocks until its
// context ends (a paused server), replica 2 answers at once.
type fakeProbe struct {
	mu       sync.Mutex
	asked    map[int]int
	inFlight int
	most     int // the most measurements under way at once
}

func (p *fakeProbe) lagReplicas(context.Context) []int { return []int{2, 3} }

func (p *fakeProbe) replicaLag(ctx context.Context, index int) (time.Duration, bool, error) {
	p.mu.Lock()
	p.asked[index]++
	p.inFlight++
	p.most = max(p.most, p.inFlight)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.inFlight--
		p.mu.Unlock()
	}()
	if index == 3 {
		<-ctx.Done()
		return 0, false, ctx.Err()
	}
	return 10 * time.Millisecond, true, nil
}

func (p *fakeProbe) count(index int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.asked[index]
}

// The monitor: a replica that does not answer neither delays the others
// nor piles up measurements (one at a time, each bounded), is never
// within a bound, and stop ends everything.
func TestLagBookMonitor(t *testing.T) {
	p := &fakeProbe{asked: map[int]int{}}
	b := &lagBook{}
	b.startProbe(p, 5*time.Millisecond)
	b.startProbe(p, 5*time.Millisecond) // a second start does nothing
	deadline := time.Now().Add(10 * time.Second)
	for p.count(2) < 20 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := p.count(2); n < 20 {
		t.Fatalf("replica 2 measured %d times in 10 s beside a replica that does not answer, want 20", n)
	}
	if !b.within(2, time.Minute) {
		t.Error("replica 2, measured, is not within a minute")
	}
	if b.within(3, time.Minute) {
		t.Error("replica 3, never answering, is within a minute")
	}
	// replica 3's one measurement blocks until lagTimeout: no second one
	// was started beside it (its own, plus at most one of replica 2)
	if n := p.count(3); n > 1+int(time.Since(deadline.Add(-10*time.Second))/lagTimeout) {
		t.Errorf("replica 3 asked %d times: measurements pile up", n)
	}
	stopped := make(chan struct{})
	go func() {
		b.stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("stop did not return in 10 s")
	}
	b.stop() // idempotent
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inFlight != 0 || p.most > 2 {
		t.Errorf("after stop %d measurements under way; at most %d at once, want <= 2", p.inFlight, p.most)
	}
}
