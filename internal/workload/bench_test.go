package workload

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/measure"
	"github.com/evalrun/evalrun/internal/safety"
)

// nopClient answers every call at once.
type nopClient struct{}

func (nopClient) Put(context.Context, string, []byte) error   { return nil }
func (nopClient) Get(context.Context, string) ([]byte, error) { return nil, nil }
func (nopClient) Delete(context.Context, string) error        { return nil }
func (nopClient) Close() error                                { return nil }

// servingNopClient answers every call at once and says a node (of 5)
// served it.
type servingNopClient struct{ nopClient }

func (servingNopClient) PutServed(_ context.Context, key string, _ []byte) (int, error) {
	return 1 + len(key)%5, nil
}

func (servingNopClient) GetServed(_ context.Context, key string) ([]byte, int, error) {
	return nil, 1 + len(key)%5, nil
}

func (servingNopClient) DeleteServed(_ context.Context, key string) (int, error) {
	return 1 + len(key)%5, nil
}

// BenchmarkLoadGeneratorNopDriver: the rate the load generator sustains
// against a driver that does nothing, everything else real (schedule,
// workers, ledger, recorder). Goal: >= 200k ops/s on 2 cores.
func BenchmarkLoadGeneratorNopDriver(b *testing.B) { benchLoadGenerator(b, nopClient{}) }

// BenchmarkLoadGeneratorServingNopDriver: the same with a client that says
// which node served each operation, so the recorder keeps per-node
// statistics too (what a ServingClient costs the harness).
func BenchmarkLoadGeneratorServingNopDriver(b *testing.B) {
	benchLoadGenerator(b, servingNopClient{})
}

func benchLoadGenerator(b *testing.B, client drivers.Client) {
	const keys = 10000
	start := time.Now()
	clock := func() time.Duration { return time.Since(start) }
	_, serving := client.(drivers.ServingClient)
	rec, err := measure.NewRecorder(measure.Config{Ops: OpNames(), Start: start, PerNode: serving})
	if err != nil {
		b.Fatal(err)
	}
	z, _ := NewZipfian(keys, YCSBZipfianConstant)
	l, err := New(Config{
		Schedule: ConstantRate(1e9), // always behind schedule: as fast as it can
		Weights:  [NumOps]int{50, 45, 5}, Keys: z, KeyNames: names(keys), ValueSize: 256,
		Concurrency: 16, Timeout: time.Second, Seed: 1, MaxOps: uint64(b.N),
	}, client, rec, safety.New(keys, 4*time.Second), clock)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	t0, cpu0 := time.Now(), measure.ProcessCPU()
	l.Start(b.Context(), 0)
	st := l.Wait()
	el, cpu := time.Since(t0), measure.ProcessCPU().Sub(cpu0)
	b.StopTimer()
	if st.Completed != int64(b.N) {
		b.Fatalf("completed %d of %d", st.Completed, b.N)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "ops/s")
	// CPU time per operation: the harness's cost, steadier than the rate
	// on a machine other work shares
	b.ReportMetric(float64(cpu.User+cpu.Sys)/float64(b.N), "cpu-ns/op")
}

// BenchmarkHourAt5kOpsMemory simulates the recording side of a one-hour run
// at 5,000 ops/s (18 million operations, 3,600 windows, interval log
// discarded) on a simulated clock and reports the live heap afterwards.
// Goal: under 150 MB.
func BenchmarkHourAt5kOpsMemory(b *testing.B) { benchHourMemory(b, 0) }

// BenchmarkHourAt5kOpsMemoryPerNode: the same, each operation served by
// one of 5 nodes, with per-node statistics kept (bounded: shards × phases
// × nodes histograms).
func BenchmarkHourAt5kOpsMemoryPerNode(b *testing.B) { benchHourMemory(b, 5) }

// benchHourMemory: nodes > 0 keeps per-node statistics of that many nodes.
func benchHourMemory(b *testing.B, nodes int) {
	const (
		rate  = 5000
		hour  = 3600
		keys  = 100000
		every = time.Second / rate
	)
	for i := 0; i < b.N; i++ {
		rec, err := measure.NewRecorder(measure.Config{Ops: OpNames(), Start: time.Now(), HdrLog: discard{}, PerNode: nodes > 0})
		if err != nil {
			b.Fatal(err)
		}
		ledger := safety.New(keys, 8*time.Second)
		z, _ := NewZipfian(keys, YCSBZipfianConstant)
		l := &Load{cfg: Config{Weights: [NumOps]int{50, 45, 5}, Keys: z, Seed: 1}, totalW: 100}
		n := uint64(0)
		for sec := 0; sec < hour; sec++ {
			if sec == 600 {
				rec.SetPhase("fault", time.Duration(sec)*time.Second)
			}
			if sec == 1200 {
				rec.SetPhase("recovery", time.Duration(sec)*time.Second)
			}
			for j := 0; j < rate; j++ {
				at := time.Duration(n) * every
				op, key := l.pick(n)
				if op != Read {
					seq := ledger.Begin(key, op == Delete, at)
					ledger.End(key, seq, true, at+time.Millisecond)
				}
				node := 0
				if nodes > 0 {
					node = 1 + key%nodes
				}
				rec.Record(j, measure.Outcome{Op: op, Intended: at, Start: at, End: at + time.Duration(200+j%5000)*time.Microsecond, Node: node})
				n++
			}
			rec.Roll(time.Duration(sec+1) * time.Second)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MB")
		b.ReportMetric(float64(len(rec.Windows())), "windows")
		runtime.KeepAlive(rec)
		runtime.KeepAlive(ledger)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
