package workload

import (
	"fmt"
	"testing"
	"time"

	"github.com/evalrun/evalrun/internal/measure"
	"github.com/evalrun/evalrun/internal/safety"
)

// BenchmarkFloor is the harness's own floor: the start lag and latency of
// operations against a client that answers at once, at a few rates, with
// precise starts as runs use them. Each rate runs floorSecs seconds once
// per b.N (run it with -benchtime 1x; scripts/floor.sh does). Below these
// latencies evalrun's numbers say more about evalrun than the database.
func BenchmarkFloor(b *testing.B) {
	const floorSecs = 5
	for _, rate := range []float64{1000, 5000, 20000} {
		b.Run(fmt.Sprintf("rate=%g", rate), func(b *testing.B) {
			for range b.N {
				benchFloor(b, rate, floorSecs*time.Second)
			}
		})
	}
}

func benchFloor(b *testing.B, rate float64, length time.Duration) {
	const keys = 10000
	start := time.Now()
	clock := func() time.Duration { return time.Since(start) }
	rec, err := measure.NewRecorder(measure.Config{Ops: OpNames(), Start: start})
	if err != nil {
		b.Fatal(err)
	}
	ops := uint64(rate * length.Seconds())
	l, err := New(Config{
		Schedule: ConstantRate(rate), Weights: [NumOps]int{50, 45, 5}, Keys: Uniform{N: keys}, KeyNames: names(keys), ValueSize: 256,
		Concurrency: 16, MaxConcurrency: 1024, SpinWindow: DefaultSpinWindow, Timeout: time.Second, Seed: 1, MaxOps: ops,
	}, nopClient{}, rec, safety.New(keys, 4*time.Second), clock)
	if err != nil {
		b.Fatal(err)
	}
	cpu0 := measure.ProcessCPU()
	l.Start(b.Context(), clock()+10*time.Millisecond)
	st := l.Wait()
	cpu := measure.ProcessCPU().Sub(cpu0)
	if st.Completed != int64(ops) {
		b.Fatalf("completed %d of %d", st.Completed, ops)
	}
	ph := rec.PhaseStats(clock())[0]
	lag := ph.StartLag
	b.ReportMetric(float64(lag.P50Us), "lag-p50-µs")
	b.ReportMetric(float64(lag.P99Us), "lag-p99-µs")
	b.ReportMetric(float64(lag.MaxUs), "lag-max-µs")
	b.ReportMetric(float64(ph.Total.P50Us), "lat-p50-µs")
	b.ReportMetric(float64(ph.Total.P99Us), "lat-p99-µs")
	b.ReportMetric(float64(st.PeakInFlight), "peak-in-flight")
	// the process's CPU, in cores, while it kept the rate
	b.ReportMetric(float64(cpu.User+cpu.Sys)/float64(length+10*time.Millisecond), "cpu-cores")
}
