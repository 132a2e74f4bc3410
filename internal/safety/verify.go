package safety

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/evalrun/evalrun/drivers"
)

// Reader is what verification needs of a client.
type Reader interface {
	Get(ctx context.Context, key string) ([]byte, error)
}

// Judge is called just before key is read and returns what judges the
// answer; Ledger.Check and Checkpoint.Check are judges.
type Judge func(key int) func(found bool, v []byte) Verdict

// Result counts a read-back. Lost and Stale list up to 10 key names each.
type Result struct {
	Checked, Verified, Lost, Stale, Unreadable int64
	LostKeys, StaleKeys                        []string
	Duration                                   time.Duration
}

const listed = 10

// Verify reads back keys through r with conc readers, each read retried up to
// three times on error within timeout, and judges every answer.
func Verify(ctx context.Context, r Reader, keys []int, name func(int) string, judge Judge, conc int, timeout time.Duration) Result {
	start := time.Now()
	if conc < 1 {
		conc = 1
	}
	var (
		mu  sync.Mutex
		res Result
		wg  sync.WaitGroup
	)
	next := make(chan int)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				verdict := judge(k)
				found, v, err := readBack(ctx, r, name(k), timeout)
				mu.Lock()
				res.Checked++
				if err != nil {
					res.Unreadable++
					mu.Unlock()
					continue
				}
				switch verdict(found, v) {
				case Verified:
					res.Verified++
				case Lost:
					res.Lost++
					if len(res.LostKeys) < listed {
						res.LostKeys = append(res.LostKeys, name(k))
					}
				case Stale:
					res.Stale++
					if len(res.StaleKeys) < listed {
						res.StaleKeys = append(res.StaleKeys, name(k))
					}
				case Skipped:
					res.Checked--
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, k := range keys {
		select {
		case next <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	res.Duration = time.Since(start)
	return res
}

func readBack(ctx context.Context, r Reader, key string, timeout time.Duration) (found bool, v []byte, err error) {
	for try := 0; try < 3; try++ {
		if ctx.Err() != nil {
			return false, nil, ctx.Err()
		}
		octx, cancel := context.WithTimeout(ctx, timeout)
		v, err = r.Get(octx, key)
		cancel()
		if err == nil {
			return true, v, nil
		}
		if errors.Is(err, drivers.ErrNotFound) {
			return false, nil, nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(try+1) * 100 * time.Millisecond):
		}
	}
	return false, nil, err
}
