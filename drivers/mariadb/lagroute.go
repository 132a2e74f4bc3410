package mariadb

import (
	"context"
	"sync"
	"time"

	"github.com/evalrun/evalrun/internal/driverkit"
)

// Lag routing (max-lag): a monitor measures every replica's heartbeat lag
// every lagEvery and the client reads from a replica only while that lag,
// aged by the time since it was measured, is under the bound, as
// ProxySQL's max_replication_lag does. A replica that is not measured (it
// is paused, down, or does not answer within lagTimeout) is not known to
// be under the bound once its last measurement is older than the bound,
// so a paused replica stops taking reads at most max-lag after it was
// last measured, and its reads go to its group's primary.
//
// Why a read so routed is stale by less than the bound: the lag a replica
// shows is the age of the newest heartbeat it has applied (written with
// the primary's UTC_TIMESTAMP(6) at the statement's start; all containers
// share the host's clock), and it has applied every write committed before
// that heartbeat (binlog order). A write it misses was acknowledged after
// the heartbeat was taken, so a read sent at t misses writes acknowledged
// at most lag + (t - measured) ago, which within keeps under the bound
// (measured is when the query was sent, before the server read its clock).

// Timing of the lag monitor.
const (
	lagEvery   = 100 * time.Millisecond // how often each replica's lag is measured
	lagTimeout = 500 * time.Millisecond // one replica's measurement; a replica slower than this is not measured that round
)

// lagSample is a replica's lag as measured and when the measuring query
// was sent (the lag was at most this old when read).
type lagSample struct {
	lag time.Duration
	at  time.Time
}

// lagProbe is what the monitor measures through: which nodes are replicas
// to measure now, and one replica's lag (ok false while it has applied no
// heartbeat yet). The cluster is one (lagReplicas, replicaLag below).
type lagProbe interface {
	lagReplicas(ctx context.Context) []int
	replicaLag(ctx context.Context, index int) (lag time.Duration, ok bool, err error)
}

// lagBook is each replica's heartbeat lag as last measured and when, for
// the client's max-lag routing. Its zero value is ready to use, with the
// wall clock.
type lagBook struct {
	now func() time.Time // nil: time.Now; tests inject a clock

	mu       sync.Mutex
	samples  map[int]lagSample // by node index
	inFlight map[int]bool      // a replica's measurement still running
	cancel   context.CancelFunc
	wg       sync.WaitGroup // the monitor and its measurements
}

var _ lagBound = (*lagBook)(nil)

func (b *lagBook) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

// start measures the replicas' lag until stop.
func (b *lagBook) start(c *cluster) { b.startProbe(c, lagEvery) }

// startProbe starts the monitor over p, measuring every interval (once;
// a second start while it runs does nothing).
func (b *lagBook) startProbe(p lagProbe, every time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.wg.Add(1)
	go b.monitor(ctx, p, every)
}

// stop ends the measuring and waits for the measurements under way (each
// bounded by lagTimeout, cancelled at once); it is idempotent. The book
// keeps its last samples, which age out.
func (b *lagBook) stop() {
	b.mu.Lock()
	cancel := b.cancel
	b.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	b.wg.Wait()
}

// monitor starts a measurement of every replica every interval; a
// replica whose previous measurement has not returned (paused, slow) is
// skipped, so it delays neither the others nor the next round.
func (b *lagBook) monitor(ctx context.Context, p lagProbe, every time.Duration) {
	defer b.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for _, idx := range p.lagReplicas(ctx) {
			if !b.claim(idx) {
				continue
			}
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				b.measure(ctx, p, idx)
			}()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// claim marks idx's measurement as under way; false if one already is.
func (b *lagBook) claim(idx int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inFlight[idx] {
		return false
	}
	if b.inFlight == nil {
		b.inFlight = map[int]bool{}
	}
	b.inFlight[idx] = true
	return true
}

// measure asks replica idx for its lag, bounded by lagTimeout, and
// records it; a failed measurement records nothing (the last one ages).
func (b *lagBook) measure(ctx context.Context, p lagProbe, idx int) {
	sent := b.clock()
	qctx, cancel := context.WithTimeout(ctx, lagTimeout)
	lag, ok, err := p.replicaLag(qctx, idx)
	cancel()
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.inFlight, idx)
	if err == nil && ok {
		b.recordLocked(idx, lag, sent)
	}
}

// record stores replica idx's lag as measured by a query sent at.
func (b *lagBook) record(idx int, lag time.Duration, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recordLocked(idx, lag, at)
}

func (b *lagBook) recordLocked(idx int, lag time.Duration, at time.Time) {
	if b.samples == nil {
		b.samples = map[int]lagSample{}
	}
	if old, ok := b.samples[idx]; ok && old.at.After(at) {
		return // a later query already answered
	}
	b.samples[idx] = lagSample{lag: max(lag, 0), at: at}
}

// within implements lagBound: node was measured and its lag, aged by the
// time since the measurement, is under bound. A node never measured, or
// not measured for bound, is not within any bound.
func (b *lagBook) within(node int, bound time.Duration) bool {
	b.mu.Lock()
	s, ok := b.samples[node]
	b.mu.Unlock()
	if !ok {
		return false
	}
	return s.lag+b.clock().Sub(s.at) < bound
}

// lagReplicas implements lagProbe: the replicas (NodeRoles) that are up;
// a paused or stopped one is not asked and its measurement ages.
func (c *cluster) lagReplicas(ctx context.Context) []int {
	roles, err := c.NodeRoles(ctx)
	if err != nil {
		return nil // closed
	}
	var out []int
	for _, idx := range roles[roleReplica] {
		if n, err := c.Node(idx); err == nil && c.State(n) == driverkit.StateUp {
			out = append(out, idx)
		}
	}
	return out
}

// replicaLag implements lagProbe: the age of the newest heartbeat replica
// index has applied, by its own clock (the gauge lag_s's measure).
func (c *cluster) replicaLag(ctx context.Context, index int) (time.Duration, bool, error) {
	n, err := c.Node(index)
	if err != nil {
		return 0, false, err
	}
	_, lag, ok, err := heartbeatLag(ctx, n)
	return lag, ok, err
}
