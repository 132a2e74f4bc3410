package workload

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/evalrun/evalrun/internal/measure"
	"github.com/evalrun/evalrun/internal/safety"
)

// The pool grows when an operation is due and every worker is busy, up
// to MaxConcurrency; past the bound operations wait (and are late), and
// the bound's waits are counted. On synctest's fake clock (see
// stallRun.run) every count is exact.
func TestPoolGrowsUpToItsBound(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		name                  string
		maxConc               int
		wantWorkers, wantPeak int64
		wantLate              int64
		wantBoundWaits        bool
	}{
		// One op per ms; the database stalls from 1000 to 1050 ms, so the
		// 50 ops due in it are in flight together at 1049 ms: 2 workers
		// grow to 50, every op starts on time.
		{name: "room to grow", maxConc: 100, wantWorkers: 50, wantPeak: 50},
		// Bound 10: ops 1000..1009 are in flight, 1010..1049 wait until
		// 1050 ms; those due at 1010..1029 are more than 20 ms late.
		{name: "bound reached", maxConc: 10, wantWorkers: 10, wantPeak: 10, wantLate: 20, wantBoundWaits: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				clock := func() time.Duration { return time.Since(start) }
				rec, err := measure.NewRecorder(measure.Config{Ops: OpNames(), Start: start, LateThreshold: 20 * ms})
				if err != nil {
					t.Fatal(err)
				}
				c := &stallClient{clock: clock, from: 1000 * ms, to: 1050 * ms, data: map[string][]byte{}}
				l, err := New(Config{
					Schedule: ConstantRate(1000), Weights: [NumOps]int{50, 50, 0}, Keys: Uniform{N: 100}, KeyNames: names(100),
					ValueSize: 64, Concurrency: 2, MaxConcurrency: tc.maxConc, Timeout: time.Second, Seed: 1, MaxOps: 2000,
				}, c, rec, safety.New(100, time.Second), clock)
				if err != nil {
					t.Fatal(err)
				}
				l.Start(t.Context(), 0)
				st := l.Wait()
				// Catches a pool that does not grow (workers 2, late ops
				// in the first case) or grows past its bound.
				wantCount(t, "workers", st.Workers, tc.wantWorkers)
				wantCount(t, "peak in flight", st.PeakInFlight, tc.wantPeak)
				wantCount(t, "late", st.Late, tc.wantLate)
				wantCount(t, "completed", st.Completed, 2000)
				if got := st.BoundWaits > 0; got != tc.wantBoundWaits {
					t.Errorf("bound waits = %d, want some: %v", st.BoundWaits, tc.wantBoundWaits)
				}
				// Every op sent has a start lag in the phase's statistics.
				ph := rec.PhaseStats(clock())[0]
				if ph.StartLag == nil || (tc.wantLate > 0) != (ph.StartLag.MaxUs > 20_000) {
					t.Errorf("start lag %+v: want a max above 20 ms only when ops were late", ph.StartLag)
				}
			})
		})
	}
}

// Precise starts on the real clock: every op is carried out, the start
// lag is recorded in order (p50 <= p99 <= max), and Stop ends a load that
// sleeps between rare operations promptly. No bound on the lag itself
// here: the machine may be loaded (scripts/floor.sh measures it).
func TestPreciseStarts(t *testing.T) {
	start := time.Now()
	clock := func() time.Duration { return time.Since(start) }
	for _, tc := range []struct {
		name    string
		rate    float64
		maxOps  uint64
		stopped bool
	}{
		{name: "2000 ops/s", rate: 2000, maxOps: 1000},
		{name: "stopped between rare ops", rate: 0.5, stopped: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := measure.NewRecorder(measure.Config{Ops: OpNames(), Start: start})
			if err != nil {
				t.Fatal(err)
			}
			l, err := New(Config{
				Schedule: ConstantRate(tc.rate), Weights: [NumOps]int{50, 50, 0}, Keys: Uniform{N: 100}, KeyNames: names(100),
				ValueSize: 64, Concurrency: 4, MaxConcurrency: 64, SpinWindow: DefaultSpinWindow, Timeout: time.Second, Seed: 1, MaxOps: tc.maxOps,
			}, nopClient{}, rec, safety.New(100, time.Second), clock)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			l.Start(ctx, clock())
			var st Stats
			if tc.stopped {
				time.Sleep(100 * time.Millisecond) // op 0 ran, op 1 is 2 s away
				done := make(chan Stats)
				go func() { done <- l.Stop() }()
				select {
				case st = <-done:
				case <-time.After(30 * time.Second):
					t.Fatal("Stop did not return within 30 s of a 2 s gap between ops")
				}
				wantCount(t, "completed", st.Completed, 1)
				return
			}
			st = l.Wait()
			wantCount(t, "completed", st.Completed, int64(tc.maxOps))
			lag := rec.PhaseStats(clock())[0].StartLag
			if lag == nil || lag.P50Us > lag.P99Us || lag.P99Us > lag.MaxUs || lag.MaxUs > st.MaxLag.Microseconds()*101/100+1 {
				t.Errorf("start lag %+v (load's max %v): want p50 <= p99 <= max <= the load's max (+1%% histogram precision)", lag, st.MaxLag)
			}
		})
	}
}
