package workload

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/history"
	"github.com/evalrun/evalrun/internal/safety"
)

// MaxPreloadWriters bounds Preload's writers. The timed load's concurrency
// is sized for an open-loop schedule in which most workers wait for their
// start time; closed-loop, thousands of writers all send at once, which
// only queues requests in the client's pool and the server (a Riak client
// holds 256 connections per node: slow-node's 4,000 writers left 3,000 of
// 5,000 keys unwritten after five tries each). 64 writers keep every
// database here busy.
const MaxPreloadWriters = 64

// Preload writes every key once, closed-loop with conc writers (at most
// MaxPreloadWriters), before the timed load starts, so that reads find
// data. Its latencies are not part of any phase. Writes are registered in
// the ledger like any other. A write that fails is retried a few times;
// preload fails if keys remain unwritten.
//
// hist, when not nil, records the writes of its sampled keys, on the
// run's clock like the load's, so that the history starts with each key's
// first value. Preload's writer w is client -1-w (-1 to
// -MaxPreloadWriters), apart from the load's workers (0 and up).
func Preload(ctx context.Context, c drivers.Client, ledger *safety.Ledger, hist *history.Recorder, names []string, valueSize, conc int, timeout time.Duration, clock func() time.Duration) (ops int64, err error) {
	conc = min(max(conc, 1), MaxPreloadWriters)
	serving, _ := c.(drivers.ServingClient)
	var (
		next   atomic.Int64
		done   atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
	)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		client := -1 - w
		go func() {
			defer wg.Done()
			buf := make([]byte, valueSize)
			for {
				k := int(next.Add(1) - 1)
				if k >= len(names) || ctx.Err() != nil {
					return
				}
				ok := false
				for try := 0; try < 5 && !ok && ctx.Err() == nil; try++ {
					invoke := clock()
					seq := ledger.Begin(k, false, invoke)
					safety.Encode(buf, k, seq)
					octx, cancel := context.WithTimeout(ctx, timeout)
					node := 0
					var err error
					if serving != nil {
						node, err = serving.PutServed(octx, names[k], buf)
					} else {
						err = c.Put(octx, names[k], buf)
					}
					cancel()
					ret := clock()
					ledger.End(k, seq, err == nil, ret)
					if hist.Sampled(k) {
						hist.Add(historyOp(client, Write, k, invoke, ret, seq, nil, err, node))
					}
					done.Add(1)
					ok = err == nil
					if !ok {
						time.Sleep(time.Duration(try+1) * 50 * time.Millisecond)
					}
				}
				if !ok {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return done.Load(), err
	}
	if f := failed.Load(); f > 0 {
		return done.Load(), fmt.Errorf("preload: %d of %d keys could not be written", f, len(names))
	}
	return done.Load(), nil
}
