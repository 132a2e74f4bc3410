package workload

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/measure"
	"github.com/evalrun/evalrun/internal/safety"
	"github.com/evalrun/evalrun/reports/model"
)

// stallClient answers at once, except that every call made while a stall
// is in force blocks until the stall ends (or the call's deadline).
type stallClient struct {
	clock    func() time.Duration
	from, to time.Duration
	mu       sync.Mutex
	data     map[string][]byte
	calls    int
}

func (c *stallClient) wait(ctx context.Context) error {
	now := c.clock()
	if now >= c.from && now < c.to {
		select {
		case <-time.After(c.to - now):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (c *stallClient) Put(ctx context.Context, k string, v []byte) error {
	if err := c.wait(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.data[k] = append([]byte(nil), v...)
	return nil
}

func (c *stallClient) Get(ctx context.Context, k string) ([]byte, error) {
	if err := c.wait(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	v, ok := c.data[k]
	if !ok {
		return nil, drivers.ErrNotFound
	}
	return v, nil
}

func (c *stallClient) Delete(ctx context.Context, k string) error {
	if err := c.wait(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	delete(c.data, k)
	return nil
}

func (c *stallClient) Close() error { return nil }

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = KeyName(i)
	}
	return out
}

// stallRun is a load against a database that stalls: rate ops/s by conc
// workers until MaxOps = rate*total, every call made in [from, to) blocked
// until to.
type stallRun struct {
	rate                       float64
	conc                       int
	total, from, to            time.Duration
	maxLag, timeout, lateAfter time.Duration
}

// run drives the load on synctest's fake clock and returns the load's stats
// and the recorder's totals of the whole run. In the bubble time moves only
// when every goroutine waits, so an operation takes no time, a worker wakes
// exactly when its operation is due, and the stall lasts exactly to-from:
// every lag and latency below is exact, whatever the machine's load (real
// time made these tests fail under the full suite on 2 cores). The code
// under test is unchanged: its time.Timer, the client's time.After, the
// contexts' deadlines and the clock all run on the bubble's time.
func (r stallRun) run(t *testing.T) (st Stats, tot model.OpStats) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		clock := func() time.Duration { return time.Since(start) }
		rec, err := measure.NewRecorder(measure.Config{Ops: OpNames(), Start: start, LateThreshold: r.lateAfter})
		if err != nil {
			t.Fatal(err)
		}
		c := &stallClient{clock: clock, from: r.from, to: r.to, data: map[string][]byte{}}
		l, err := New(Config{
			Schedule: ConstantRate(r.rate), Weights: [NumOps]int{50, 50, 0}, Keys: Uniform{N: 100}, KeyNames: names(100),
			ValueSize: 64, Concurrency: r.conc, Timeout: r.timeout, MaxLag: r.maxLag, Seed: 1,
			MaxOps: uint64(r.rate * r.total.Seconds()),
		}, c, rec, safety.New(100, time.Second), clock)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), r.total+10*time.Second)
		defer cancel()
		l.Start(ctx, 0)
		st = l.Wait()
		tot = rec.Overall(clock())
	})
	return st, tot
}

// wantCount checks a count that the fake clock makes exact.
func wantCount(t *testing.T, what string, got, want int64) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %d, want %d", what, got, want)
	}
}

// wantDuration checks a duration that the fake clock makes exact.
func wantDuration(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// Significant digits of the recorder's histograms.
const (
	latencyDigits = 3
	serviceDigits = 2
)

// wantHistUs checks a value (µs) from a histogram of exact inputs: one that
// keeps digits significant digits reports a bucket's highest equivalent
// value, up to a 10^-digits part above want.
func wantHistUs(t *testing.T, what string, gotUs int64, want time.Duration, digits int) {
	t.Helper()
	wantUs := want.Microseconds()
	slack := wantUs
	for range digits {
		slack /= 10
	}
	if gotUs < wantUs || gotUs > wantUs+slack+1 {
		t.Errorf("%s = %dus, want %dus (+%dus histogram precision)", what, gotUs, wantUs, slack+1)
	}
}

// A stall of D seconds at rate R shows up as about R*D operations whose
// latencies (from the intended start) spread from D down to zero, while the
// service time stays small: the coordinated-omission correction.
func TestStallShowsInLatencyNotInServiceTime(t *testing.T) {
	const ms = time.Millisecond
	// One op per ms, op n due at n ms; 3000 ops; the database stalls from
	// 1000 to 1500 ms. The 8 workers take ops 1000..1007 on time and those
	// calls block until 1500 ms; ops 1008..1499 (492) wait for a worker and
	// all start at 1500 ms, op n with lag 1500-n ms; the rest start on time.
	r := stallRun{rate: 1000, conc: 8, total: 3 * time.Second, from: 1000 * ms, to: 1500 * ms,
		maxLag: 10 * time.Second, timeout: 2 * time.Second, lateAfter: 20 * ms}
	st, tot := r.run(t)

	// Catches a load that ends early, skips operations or sends extra ones.
	wantCount(t, "intended ops", st.Intended, 3000)
	wantCount(t, "recorded ops", tot.Count, 3000)
	// Catches giving up operations although none was MaxLag (10 s) behind.
	wantCount(t, "missed", st.Missed, 0)
	wantDuration(t, "first missed", st.FirstMissed, -1)
	// Catches a stall that does not delay the start of the operations due
	// in it (a closed loop, or a schedule restarted after the stall): ops
	// 1008..1479 start more than 20 ms late, 1480..1499 within 20 ms, and
	// the in-flight ones and all others on time.
	wantCount(t, "late ops", st.Late, 472)
	wantDuration(t, "first late", st.FirstLate, 1008*ms)
	// One definition of late: catches the recorder counting late by another
	// rule (threshold, reference time, missed ops) than the load generator.
	wantCount(t, "late ops in the recorder", tot.Late, st.Late)
	// The op due right after the in-flight ones waited for the whole rest
	// of the stall: catches a start lag measured from anything but the
	// intended start.
	wantDuration(t, "max start lag", st.MaxLag, 492*ms)
	// Latency from the intended start: the 500 ops due in the stall have
	// 500..1 ms (one op each), the 2500 others none (recorded as the
	// histogram's 1 µs). So the 2700th of 3000 (p90) is 200 ms, the 2970th
	// (p99) 470 ms. Catches latency measured from the actual start, which
	// shows the stall only in the 8 in-flight calls (p90 and p99 ~0).
	wantHistUs(t, "latency p90", tot.P90Us, 200*ms, latencyDigits)
	wantHistUs(t, "latency p99", tot.P99Us, 470*ms, latencyDigits)
	wantHistUs(t, "latency max", tot.MaxUs, 500*ms, latencyDigits)
	// Service time: only the 8 calls in flight when the stall began waited
	// on the server (493..500 ms), every other took no time. Catches service
	// time measured from the intended start (p99 would be 470 ms), and a
	// test whose stall never reached the server (max would be 0).
	if tot.ServiceP99Us > 1 {
		t.Errorf("service p99 = %dus, want 1us: only the 8 in-flight calls saw the stall", tot.ServiceP99Us)
	}
	wantHistUs(t, "service max", tot.ServiceMaxUs, 500*ms, serviceDigits)
	wantCount(t, "errors", tot.Errors, 0)
}

// Operations that fall further behind than MaxLag are given up and counted
// as missed, with their lag as latency, instead of being sent in a burst.
func TestMissedOperationsAreCountedNotBurst(t *testing.T) {
	const ms = time.Millisecond
	// One op per 2 ms, op n due at 2n ms; 1500 ops; the database stalls
	// from 500 to 2000 ms. The 4 workers take the ops due at 500..506 ms on
	// time and those calls block until 2000 ms. When they free up, the ops
	// due at 508..1698 ms (596) are more than MaxLag (300 ms) behind: given
	// up. Those due at 1700..1998 ms (150) are sent at 2000 ms, 300..2 ms
	// late; the rest on time.
	r := stallRun{rate: 500, conc: 4, total: 3 * time.Second, from: 500 * ms, to: 2000 * ms,
		maxLag: 300 * ms, timeout: 5 * time.Second, lateAfter: 20 * ms}
	st, tot := r.run(t)

	// Catches ops sent late in a burst instead of given up (missed 0), and
	// a MaxLag rule off by any op.
	wantCount(t, "missed", st.Missed, 596)
	wantDuration(t, "first missed", st.FirstMissed, 508*ms)
	// Catches ops given up without being counted or recorded (dropped):
	// every op due is either issued or missed, and the recorder has every
	// one, the missed ones as missed and not as database errors.
	wantCount(t, "intended", st.Intended, 1500)
	wantCount(t, "issued", st.Issued, 1500-596)
	wantCount(t, "recorded", tot.Count, 1500)
	wantCount(t, "missed in the recorder", tot.Missed, st.Missed)
	wantCount(t, "errors", tot.Errors, 0)
	// Late are the ops sent within MaxLag, due at 1700..1978 ms (more than
	// 20 ms before 2000): catches missed ops counted as late too, and late
	// counted by another rule in the recorder than in the load generator.
	wantCount(t, "late", st.Late, 140)
	wantCount(t, "late in the recorder", tot.Late, st.Late)
	wantDuration(t, "first late", st.FirstLate, 1700*ms)
	// No op sent waited more than MaxLag to start: catches a burst of
	// overdue ops (their lag would reach 1492 ms).
	wantDuration(t, "max start lag", st.MaxLag, 300*ms)
	// A missed op's latency is its lag when given up (1492..302 ms, every
	// 2 ms). With the 4 in-flight ops (1500..1494 ms), the 150 sent late
	// (300..2 ms) and the 750 on time (none), the 1350th of 1500 (p90) is
	// the 151st largest: 1200 ms. Catches missed ops recorded with no
	// latency (p90 would be 8 ms).
	wantHistUs(t, "latency p90", tot.P90Us, 1200*ms, latencyDigits)
	wantHistUs(t, "latency max", tot.MaxUs, 1500*ms, latencyDigits)
}

// replicaClient reads from a "replica" that applies writes lag late: a
// Get returns the newest value written at least lag ago.
type replicaClient struct {
	stallClient
	lag     time.Duration
	history map[string][]timedValue
}

type timedValue struct {
	at time.Duration
	v  []byte
}

func (c *replicaClient) Put(_ context.Context, k string, v []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.history[k] = append(c.history[k], timedValue{c.clock(), append([]byte(nil), v...)})
	return nil
}

func (c *replicaClient) Get(_ context.Context, k string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock()
	var v []byte
	for _, tv := range c.history[k] {
		if tv.at <= now-c.lag {
			v = tv.v
		}
	}
	if v == nil {
		return nil, drivers.ErrNotFound
	}
	return v, nil
}

// Reads that return a superseded value are counted per phase with how
// stale they were; a client without lag has none (issue 12: reads from a
// replica that lags).
func TestStaleReadsCounted(t *testing.T) {
	for _, tc := range []struct {
		lag       time.Duration
		wantStale bool
	}{
		{0, false},
		{200 * time.Millisecond, true},
	} {
		// On synctest's fake clock (see stallRun.run) the run's timing is
		// exact, so a busy machine cannot squeeze it into less than lag.
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			clock := func() time.Duration { return time.Since(start) }
			rec, err := measure.NewRecorder(measure.Config{Ops: OpNames(), Start: start})
			if err != nil {
				t.Fatal(err)
			}
			c := &replicaClient{stallClient: stallClient{clock: clock}, lag: tc.lag, history: map[string][]timedValue{}}
			ledger := safety.New(5, time.Second)
			l, err := New(Config{
				Schedule: ConstantRate(500), Weights: [NumOps]int{50, 50, 0}, Keys: Uniform{N: 5}, KeyNames: names(5),
				ValueSize: 64, Concurrency: 4, Timeout: time.Second, Seed: 1, MaxOps: 750,
			}, c, rec, ledger, clock)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			l.Start(ctx, 0)
			l.Wait()
			tot := rec.Overall(clock())
			if got := tot.StaleReads > 0; got != tc.wantStale || tot.StaleReads != ledger.StaleReads() {
				t.Errorf("lag %v: %d stale reads (ledger %d), want some: %v", tc.lag, tot.StaleReads, ledger.StaleReads(), tc.wantStale)
			}
			// On the fake clock a write is acknowledged when the replica
			// takes it, and a value is returned lag after it was taken, so
			// the superseding write was acknowledged less than lag before the
			// read: catches staleness measured from the stale value's own
			// write (>= lag) or not measured (0).
			if tc.wantStale && (tot.MaxStalenessUs <= 0 || tot.MaxStalenessUs >= tc.lag.Microseconds()) {
				t.Errorf("lag %v: most stale by %d µs, want (0, lag)", tc.lag, tot.MaxStalenessUs)
			}
		})
	}
}
