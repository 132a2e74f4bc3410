package workload

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/safety"
)

// Preload writes every key once, closed-loop with conc writers, before the
// timed load starts, so that reads find data. Its latencies are not part of
// any phase. Writes are registered in the ledger like any other. A write
// that fails is retried a few times; preload fails if keys remain unwritten.
func Preload(ctx context.Context, c drivers.Client, ledger *safety.Ledger, names []string, valueSize, conc int, timeout time.Duration, clock func() time.Duration) (ops int64, err error) {
	if conc < 1 {
		conc = 1
	}
	var (
		next   atomic.Int64
		done   atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
	)
	for w := 0; w < conc; w++ {
		wg.Add(1)
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
					seq := ledger.Begin(k, false, clock())
					safety.Encode(buf, k, seq)
					octx, cancel := context.WithTimeout(ctx, timeout)
					err := c.Put(octx, names[k], buf)
					cancel()
					ledger.End(k, seq, err == nil, clock())
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
