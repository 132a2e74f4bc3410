// Package workload generates open-loop load: operation n has an intended
// start time from a Schedule, its type and key come from the seed and n
// alone, and a pool of workers carries operations out. One dispatcher
// waits for each operation's intended start (precisely: see SpinWindow)
// and hands it to a free worker; when every worker is busy a worker is
// added, up to MaxConcurrency; past that the next operation waits, and
// that wait counts in its latency (measured from the intended start). An
// operation still waiting MaxLag after its intended start is given up: it
// is recorded as missed with that latency and counted, never sent late in
// a burst.
package workload

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/history"
	"github.com/evalrun/evalrun/internal/measure"
	"github.com/evalrun/evalrun/internal/safety"
)

// Op types, in the order the recorder indexes them. ReadFresh is a read
// that must see every acknowledged write: sent with
// drivers.FreshReader.GetFresh when the client has it (the primary of a
// key whose other reads go to replicas), else as Read.
const (
	Read = iota
	Write
	Delete
	ReadFresh
	NumOps // how many op types there are
)

// OpNames indexes op types.
var opNames = [NumOps]string{"read", "write", "delete", "read-fresh"}

// OpNames returns the names of the op types, indexed by Read, Write,
// Delete, ReadFresh.
func OpNames() []string { return opNames[:] }

// Config is a load.
type Config struct {
	Schedule    Schedule
	Weights     [NumOps]int // by op type: Read, Write, Delete, ReadFresh
	Keys        KeyChooser
	KeyNames    []string // database key of each key index
	ValueSize   int      // >= safety.ValueHeader
	Concurrency int      // workers at the start
	// MaxConcurrency bounds the pool: when an operation is due and every
	// worker is busy, a worker is added, up to this many (0 or less than
	// Concurrency: Concurrency, a fixed pool).
	MaxConcurrency int
	// SpinWindow, when > 0, makes starts precise: the dispatcher sleeps
	// with the kernel's high-resolution timers (nanosleep, timer slack
	// 1 µs) until the wake-up delay it measures (wakeDelay, at most
	// SpinWindow) before an operation is due, then spins on the clock for
	// what is left. 0 waits with Go's timers, which wake up to a
	// millisecond late when the process idles (DefaultSpinWindow is what
	// runs use).
	SpinWindow time.Duration
	Timeout    time.Duration // per operation
	MaxLag     time.Duration // give up operations this far behind (0: never)
	Seed       int64
	// MaxOps, when > 0, ends the load after that many operations (benchmarks, tests).
	MaxOps uint64
	// History, when not nil, records every operation on its sampled keys
	// (package history) for the linearizability check. It needs the
	// ledger (the identities of the values written): without one nothing
	// is recorded. Client is the worker's id, 0 to MaxConcurrency-1.
	History *history.Recorder
	// OnPanic is told when an operation panicked (a driver bug): the load
	// stops issuing operations, and the caller ends the run with the error.
	OnPanic func(error)
}

// Stats says how well the schedule was kept.
type Stats struct {
	Intended  int64 // operations due before the load stopped
	Issued    int64 // sent to the database
	Late      int64 // sent more than the recorder's LateThreshold after their intended start
	Missed    int64 // given up (never sent)
	MaxLag    time.Duration
	Completed int64
	// FirstLate and FirstMissed are the intended starts of the first late
	// and the first missed operation (-1: none), so a report can say since
	// when the load generator fell behind.
	FirstLate, FirstMissed time.Duration
	// PeakInFlight is the most operations in flight at once; Workers the
	// size the pool grew to.
	PeakInFlight, Workers int64
	// BoundWaits counts the operations that waited for a worker because
	// all MaxConcurrency were busy: the pool's bound was reached.
	BoundWaits int64
}

// DefaultSpinWindow bounds how long before an operation's start the
// dispatcher stops sleeping and spins: at most this much CPU per
// operation. The dispatcher spins only what its measured wake-up delay
// leaves (wakeDelay): a few microseconds per operation on a 2-core VM
// whose nanosleep wakes ~20 µs late, against the whole window (25 % of a
// core at 5,000 ops/s) when it slept until exactly SpinWindow before.
const DefaultSpinWindow = 50 * time.Microsecond

// due is one operation handed to a worker: its number and intended start.
type due struct {
	n        uint64
	intended time.Duration
}

// Load runs a workload until Stop or its context ends.
type Load struct {
	cfg    Config
	client drivers.Client
	// serving is client when it says which node served each operation
	// (asserted once, in New), else nil.
	serving drivers.ServingClient
	// fresh is client when it can send a read that must be fresh
	// (drivers.FreshReader), else nil: ReadFresh is then a Get.
	fresh  drivers.FreshReader
	rec    *measure.Recorder
	ledger *safety.Ledger
	clock  func() time.Duration

	ops        chan due // unbuffered: a send succeeds only into a free worker
	maxWorkers int
	workers    atomic.Int64 // workers started
	idle       atomic.Int64 // workers about to take the next operation
	inFlight   atomic.Int64
	peak       atomic.Int64
	boundWaits atomic.Int64

	issued    atomic.Int64
	late      atomic.Int64
	missed    atomic.Int64
	completed atomic.Int64
	maxLag    atomic.Int64
	// firstLate, firstMissed: intended start + 1 of the first late and
	// missed operation (0: none yet).
	firstLate   atomic.Int64
	firstMissed atomic.Int64
	stopAt      atomic.Int64
	lateAfter   time.Duration // the recorder's LateThreshold: one definition of late
	totalW      uint64
	wg          sync.WaitGroup
	stopCh      chan struct{}
	stopOnce    sync.Once
}

// New prepares a load. clock returns the offset on the recorder's clock.
func New(cfg Config, client drivers.Client, rec *measure.Recorder, ledger *safety.Ledger, clock func() time.Duration) (*Load, error) {
	if cfg.Schedule == nil || cfg.Keys == nil || len(cfg.KeyNames) == 0 {
		return nil, errors.New("workload: schedule, keys and key names are required")
	}
	if cfg.Concurrency < 1 {
		return nil, fmt.Errorf("workload: concurrency must be >= 1, got %d", cfg.Concurrency)
	}
	if cfg.ValueSize < safety.ValueHeader {
		return nil, fmt.Errorf("workload: value size must be >= %d, got %d", safety.ValueHeader, cfg.ValueSize)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = drivers.DefaultOpTimeout
	}
	serving, _ := client.(drivers.ServingClient)
	fresh, _ := client.(drivers.FreshReader)
	l := &Load{serving: serving, fresh: fresh, cfg: cfg, client: client, rec: rec, ledger: ledger, clock: clock, stopCh: make(chan struct{}),
		lateAfter: rec.LateThreshold(), ops: make(chan due), maxWorkers: max(cfg.MaxConcurrency, cfg.Concurrency)}
	for _, w := range cfg.Weights {
		if w < 0 {
			return nil, fmt.Errorf("workload: negative weight %d", w)
		}
		l.totalW += uint64(w)
	}
	if l.totalW == 0 {
		return nil, errors.New("workload: the op mix has no weight")
	}
	return l, nil
}

// Start launches the dispatcher and the first Concurrency workers.
// Operation 0 is due at clock() == start.
func (l *Load) Start(ctx context.Context, start time.Duration) {
	for range l.cfg.Concurrency {
		l.addWorker(ctx, nil)
	}
	l.wg.Add(1)
	go l.dispatch(ctx, start)
}

// addWorker starts a worker; first, when not nil, is its first operation.
func (l *Load) addWorker(ctx context.Context, first *due) {
	id := int(l.workers.Add(1) - 1)
	l.wg.Add(1)
	go l.worker(ctx, id, first)
}

// dispatch waits for each operation's intended start and hands it to a
// worker, until MaxOps, Stop or ctx ends; then it closes ops, which ends
// the workers once they are done.
func (l *Load) dispatch(ctx context.Context, start time.Duration) {
	defer l.wg.Done()
	defer close(l.ops)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	wake := &wakeDelay{estimate: l.cfg.SpinWindow / 2, limit: l.cfg.SpinWindow}
	for n := uint64(0); l.cfg.MaxOps == 0 || n < l.cfg.MaxOps; n++ {
		d := due{n: n, intended: start + l.cfg.Schedule(n)}
		if n > 0 && d.intended > l.clock() {
			// The worker woken last waits on this P's next slot: let it
			// start now rather than when another P steals it or this
			// goroutine, about to sleep or spin, is preempted (up to
			// 10 ms later). Measured: start lag p50 ~30 µs with this
			// against ~40 µs without, and a thread locked to the
			// dispatcher (runtime.LockOSThread) was worse in lag and
			// CPU, each of its wake-ups a hand-over between threads.
			// Skipped while operations are overdue: nothing to wait for.
			runtime.Gosched()
		}
		if !l.waitUntil(ctx, timer, wake, d.intended) || !l.handOff(ctx, d) {
			return
		}
	}
}

// handOff gives d to a free worker, or to a new one while the pool is
// below its bound, or else waits for a worker to free up (the wait counts
// in d's latency); false means stop.
func (l *Load) handOff(ctx context.Context, d due) bool {
	select {
	case l.ops <- d:
		return true
	default:
	}
	if l.idle.Load() == 0 {
		if l.workers.Load() < int64(l.maxWorkers) {
			first := d // only this path moves d to the heap, not every hand-off
			l.addWorker(ctx, &first)
			return true
		}
		l.boundWaits.Add(1)
	}
	select {
	case l.ops <- d:
		return true
	case <-l.stopCh:
		return false
	case <-ctx.Done():
		return false
	}
}

// Wait waits until the workers end (after MaxOps, or when ctx ends).
func (l *Load) Wait() Stats {
	l.wg.Wait()
	return l.Stats()
}

// Stop stops issuing operations due after now and waits for those in
// flight (each bounded by the op timeout).
func (l *Load) Stop() Stats {
	l.halt()
	l.wg.Wait()
	return l.Stats()
}

// PanicError is an operation that panicked; Stack is where.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("panic in a load operation (a driver bug): %v", e.Value)
}

// halt stops issuing operations, without waiting for those in flight.
func (l *Load) halt() {
	l.stopOnce.Do(func() {
		l.stopAt.Store(int64(l.clock()))
		close(l.stopCh)
	})
}

// Stats returns the counts so far.
func (l *Load) Stats() Stats {
	return Stats{
		Intended:     l.issued.Load() + l.missed.Load(),
		Issued:       l.issued.Load(),
		Late:         l.late.Load(),
		Missed:       l.missed.Load(),
		MaxLag:       time.Duration(l.maxLag.Load()),
		Completed:    l.completed.Load(),
		FirstLate:    time.Duration(l.firstLate.Load() - 1),
		FirstMissed:  time.Duration(l.firstMissed.Load() - 1),
		PeakInFlight: l.peak.Load(),
		Workers:      l.workers.Load(),
		BoundWaits:   l.boundWaits.Load(),
	}
}

// noteFirst keeps at in first (as at+1) unless an earlier time is there.
// Workers take operations in order, so this loops at most a few times.
func noteFirst(first *atomic.Int64, at time.Duration) {
	v := int64(at) + 1
	for {
		cur := first.Load()
		if cur != 0 && cur <= v || first.CompareAndSwap(cur, v) {
			return
		}
	}
}

// noteMax raises m to v if v is larger.
func noteMax(m *atomic.Int64, v int64) {
	for {
		cur := m.Load()
		if v <= cur || m.CompareAndSwap(cur, v) {
			return
		}
	}
}

type workerState struct {
	id  int
	buf []byte
	// opCtx parents every operation's deadline: the run's context without
	// its cancellation (an operation in flight when the load stops runs to
	// its own deadline), made once per worker, not once per operation.
	opCtx context.Context
	mark  safety.ReadMark // reused by every read of the worker
}

func (l *Load) worker(ctx context.Context, id int, first *due) {
	defer l.wg.Done()
	defer func() {
		// A driver that panics must not take the process down before the
		// report is written and the cluster torn down.
		if p := recover(); p != nil {
			l.halt()
			if l.cfg.OnPanic != nil {
				l.cfg.OnPanic(&PanicError{Value: p, Stack: debug.Stack()})
			}
		}
	}()
	ws := &workerState{id: id, buf: make([]byte, l.cfg.ValueSize), opCtx: context.WithoutCancel(ctx)}
	for {
		var d due
		if first != nil {
			d, first = *first, nil
		} else {
			l.idle.Add(1)
			var ok bool
			d, ok = <-l.ops
			l.idle.Add(-1)
			if !ok {
				return
			}
		}
		if l.stopped(ctx) {
			return
		}
		intended := d.intended
		now := l.clock()
		lag := now - intended
		op, key := l.pick(d.n)
		if l.cfg.MaxLag > 0 && lag > l.cfg.MaxLag {
			l.missed.Add(1)
			noteFirst(&l.firstMissed, intended)
			l.rec.Record(id, measure.Outcome{Op: op, Intended: intended, Start: now, End: now, Class: measure.Missed})
			continue
		}
		l.issued.Add(1)
		if lag > l.lateAfter {
			l.late.Add(1)
			noteFirst(&l.firstLate, intended)
		}
		noteMax(&l.maxLag, int64(lag))
		noteMax(&l.peak, l.inFlight.Add(1))
		l.do(ws, op, key, intended, now)
		l.inFlight.Add(-1)
		l.completed.Add(1)
	}
}

// stopped says whether Stop was asked for or ctx ended.
func (l *Load) stopped(ctx context.Context) bool {
	select {
	case <-l.stopCh:
		return true
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// waitUntil sleeps until the intended start; false means stop.
func (l *Load) waitUntil(ctx context.Context, timer *time.Timer, wake *wakeDelay, intended time.Duration) bool {
	if l.cfg.SpinWindow > 0 {
		if !l.waitPrecisely(ctx, timer, wake, intended) {
			return false
		}
	} else if l.stopped(ctx) {
		return false
	} else if d := intended - l.clock(); d > 50*time.Microsecond && !l.sleep(ctx, timer, d) {
		return false
	}
	// an operation due after the stop was asked for is not run
	if s := l.stopAt.Load(); s != 0 && int64(intended) > s {
		return false
	}
	return true
}

// sleep waits d on a Go timer; false means stop.
func (l *Load) sleep(ctx context.Context, timer *time.Timer, d time.Duration) bool {
	timer.Reset(d)
	select {
	case <-timer.C:
		return true
	case <-l.stopCh:
	case <-ctx.Done():
	}
	timer.Stop()
	return false
}

// maxThreadSleep bounds one sleep of the dispatcher's thread, which no
// channel can interrupt: Stop waits at most this long for it.
const maxThreadSleep = 10 * time.Millisecond

// frozenReads: this many clock reads in a row that return the same time
// mean a clock that moves only when everything waits (a test's fake
// clock): the spin gives way to a timer then.
const frozenReads = 1000

// wakeStepUp and wakeStepDown move the dispatcher's estimate of the
// kernel's wake-up delay (wakeDelay) after each sleep: up when the sleep
// woke later than the estimate, down when earlier. Three times as far
// down as up settles where a quarter of the sleeps wake earlier (the
// delay's 25th percentile): those spin the few microseconds left, the
// others wake a few microseconds past the start (measured: ~20 µs at
// p10, ~23 µs at p50 on a 2-core VM), so the spin costs almost no CPU
// and a 10 µs change in the machine's delay is followed within a few
// operations.
const (
	wakeStepUp   = time.Microsecond
	wakeStepDown = 3 * time.Microsecond
)

// wakeDelay estimates the delay between when the dispatcher's nanosleep
// was due to end and when the dispatcher ran again (the kernel's timer
// and scheduling latency). The dispatcher sleeps until that long before
// an operation is due and spins only what is left. Only the dispatcher
// touches it.
type wakeDelay struct {
	estimate, limit time.Duration
	// slackSet: the thread of the last sleep woke within limit, so its
	// timer slack is already 1 µs (preciseThread): one prctl per thread
	// change, not per sleep.
	slackSet bool
}

// note moves the estimate toward late, the delay of one sleep.
func (w *wakeDelay) note(late time.Duration) {
	switch {
	case late > w.estimate:
		w.estimate = min(w.estimate+wakeStepUp, w.limit)
	case late < w.estimate:
		w.estimate = max(w.estimate-wakeStepDown, 0)
	}
	// A thread with the kernel's default slack (50 µs) wakes later than
	// limit: set it again before the next sleep (the goroutine moved).
	w.slackSet = late <= w.limit
}

// waitPrecisely sleeps the dispatcher's thread until the expected wake-up
// delay (at most SpinWindow) before intended, then spins on the clock;
// false means stop.
func (l *Load) waitPrecisely(ctx context.Context, timer *time.Timer, wake *wakeDelay, intended time.Duration) bool {
	for {
		if l.stopped(ctx) {
			return false
		}
		now := l.clock()
		d := intended - now
		if d <= 0 {
			return true
		}
		if d > wake.estimate {
			if !wake.slackSet {
				preciseThread()
			}
			sleep := min(d-wake.estimate, maxThreadSleep)
			threadSleep(sleep)
			woke := l.clock()
			if woke == now {
				if !l.sleep(ctx, timer, d-wake.estimate) {
					return false
				}
				continue
			}
			wake.note(woke - now - sleep)
			continue
		}
		for still := 0; ; {
			t := l.clock()
			if t >= intended {
				return true
			}
			if t != now {
				now, still = t, 0
			} else if still++; still > frozenReads {
				return l.sleep(ctx, timer, intended-t)
			}
		}
	}
}

func (l *Load) pick(n uint64) (op, key int) {
	r := splitmix64(uint64(l.cfg.Seed)*0x9E3779B97F4A7C15 ^ n)
	w := r % l.totalW
	for i, wt := range l.cfg.Weights {
		if w < uint64(wt) {
			op = i
			break
		}
		w -= uint64(wt)
	}
	key = l.cfg.Keys.Key(unitFloat(splitmix64(r)))
	return op, key
}

func (l *Load) do(ws *workerState, op, key int, intended, start time.Duration) {
	octx, cancel := context.WithTimeout(ws.opCtx, l.cfg.Timeout)
	name := l.cfg.KeyNames[key]
	var (
		err error
		v   []byte // the value read
		seq uint64 // the value written
	)
	node := 0
	notFound, missedAck := false, false
	stale, staleness := false, time.Duration(0)
	switch op {
	case Read, ReadFresh:
		if l.ledger != nil {
			l.ledger.MarkRead(key, start, &ws.mark)
		}
		if op == ReadFresh && l.fresh != nil {
			v, node, err = l.fresh.GetFresh(octx, name)
		} else {
			v, node, err = l.get(octx, name)
		}
		switch {
		case errors.Is(err, drivers.ErrNotFound):
			notFound = true
			if l.ledger != nil {
				missedAck = l.ledger.NotFoundRead(key, start)
			}
		case err == nil && l.ledger != nil:
			stale, staleness = l.ledger.StaleRead(key, &ws.mark, v)
		}
	case Write, Delete:
		if l.ledger != nil {
			seq = l.ledger.Begin(key, op == Delete, start)
		}
		if op == Write {
			safety.Encode(ws.buf, key, seq)
			node, err = l.put(octx, name, ws.buf)
		} else {
			node, err = l.delete(octx, name)
		}
		if l.ledger != nil {
			l.ledger.End(key, seq, err == nil, l.clock())
		}
	}
	cancel()
	end := l.clock()
	if l.ledger != nil && l.cfg.History.Sampled(key) {
		l.cfg.History.Add(historyOp(ws.id, op, key, start, end, seq, v, err, node))
	}
	l.rec.Record(ws.id, measure.Outcome{Op: op, Intended: intended, Start: start, End: end, Class: measure.Classify(err),
		NotFound: notFound, NotFoundAcked: missedAck, Stale: stale, Staleness: staleness, Node: node})
}

// historyOp is one operation as the history records it: invoked when it
// was sent (start, not its intended start: the database saw nothing
// before), returned at end; seq is the value a put wrote, v the value a
// get read (its identity decoded; one that is not this key's is Foreign).
func historyOp(client, op, key int, start, end time.Duration, seq uint64, v []byte, err error, node int) history.Op {
	h := history.Op{Client: client, Key: key, Invoke: int64(start), Return: int64(end), Node: node, Outcome: history.OK}
	switch op {
	case Read, ReadFresh:
		h.Kind = history.Get
		switch {
		case errors.Is(err, drivers.ErrNotFound):
			h.Outcome = history.NotFound
		case err != nil:
			h.Outcome = history.Failed
		default:
			k, s, derr := safety.Decode(v)
			if derr != nil || k != key {
				h.Foreign = true
			} else {
				h.Value = s
			}
		}
	case Write, Delete:
		h.Kind = history.Put
		if op == Delete {
			h.Kind = history.Delete
		} else {
			h.Value = seq
		}
		if err != nil {
			h.Outcome = history.Unknown
		}
	}
	return h
}

// get, put and delete call the client, through drivers.ServingClient
// when it has it (node: the node that served; 0 unknown).
func (l *Load) get(ctx context.Context, key string) ([]byte, int, error) {
	if l.serving != nil {
		return l.serving.GetServed(ctx, key)
	}
	v, err := l.client.Get(ctx, key)
	return v, 0, err
}

func (l *Load) put(ctx context.Context, key string, value []byte) (int, error) {
	if l.serving != nil {
		return l.serving.PutServed(ctx, key, value)
	}
	return 0, l.client.Put(ctx, key, value)
}

func (l *Load) delete(ctx context.Context, key string) (int, error) {
	if l.serving != nil {
		return l.serving.DeleteServed(ctx, key)
	}
	return 0, l.client.Delete(ctx, key)
}
