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

// Result counts a read-back. The key lists hold up to 10 names each.
//
// When the reader is a drivers.StrictReader, a key its Get finds missing
// is read again with GetStrict before it counts: Lost only when the strict
// read finds nothing either; QuorumNotFound when the strict read finds the
// acknowledged value (the data exists, the configured reads miss it);
// Unconfirmed when the strict read failed, so the loss is not proven. A
// key its Get finds stale is read again the same way: ReadStale when the
// strict read returns the acknowledged value (a replica behind: what
// readers with these settings see, not a lost update), Stale otherwise.
type Result struct {
	Checked, Verified, Lost, Stale, Unreadable int64
	QuorumNotFound, Unconfirmed, ReadStale     int64
	LostKeys, StaleKeys, QuorumNotFoundKeys    []string
	UnconfirmedKeys, ReadStaleKeys             []string
	Duration                                   time.Duration
}

const listed = 10

// Verify reads back keys through r with conc readers, each read retried up to
// three times on error within timeout, and judges every answer. A key that
// reads as lost is confirmed with a strict read when r offers one (see
// Result).
func Verify(ctx context.Context, r Reader, keys []int, name func(int) string, judge Judge, conc int, timeout time.Duration) Result {
	start := time.Now()
	if conc < 1 {
		conc = 1
	}
	strict, _ := r.(drivers.StrictReader)
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
				key := name(k)
				verdict := judge(k)
				found, v, err := readBack(ctx, r.Get, key, timeout)
				if err != nil {
					mu.Lock()
					res.Checked++
					res.Unreadable++
					mu.Unlock()
					continue
				}
				outcome := verdict(found, v)
				var strictErr error
				if (outcome == Lost || outcome == Stale) && strict != nil {
					var sfound bool
					var sv []byte
					sfound, sv, strictErr = readBack(ctx, strict.GetStrict, key, timeout)
					switch {
					case strictErr != nil:
						if outcome == Stale {
							strictErr = nil // the stale value stands: nothing says the update exists
						}
					case outcome == Lost && sfound:
						outcome = verdict(sfound, sv)
						if outcome == Verified {
							outcome = quorumNotFound
						}
					case outcome == Stale && verdict(sfound, sv) == Verified:
						outcome = readStale
					}
				}
				mu.Lock()
				res.Checked++
				switch {
				case outcome == Lost && strictErr != nil:
					res.Unconfirmed++
					res.UnconfirmedKeys = appendListed(res.UnconfirmedKeys, key)
				case outcome == Verified:
					res.Verified++
				case outcome == quorumNotFound:
					res.QuorumNotFound++
					res.QuorumNotFoundKeys = appendListed(res.QuorumNotFoundKeys, key)
				case outcome == Lost:
					res.Lost++
					res.LostKeys = appendListed(res.LostKeys, key)
				case outcome == Stale:
					res.Stale++
					res.StaleKeys = appendListed(res.StaleKeys, key)
				case outcome == readStale:
					res.ReadStale++
					res.ReadStaleKeys = appendListed(res.ReadStaleKeys, key)
				case outcome == Skipped:
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

// Verdicts of Verify only. quorumNotFound: the read missed the key, the
// strict read found its acknowledged value. readStale: the read returned
// an older value, the strict read the acknowledged one.
const (
	quorumNotFound = Skipped + 1 + iota
	readStale
)

func appendListed(keys []string, key string) []string {
	if len(keys) < listed {
		keys = append(keys, key)
	}
	return keys
}

func readBack(ctx context.Context, get func(context.Context, string) ([]byte, error), key string, timeout time.Duration) (found bool, v []byte, err error) {
	for try := 0; try < 3; try++ {
		if ctx.Err() != nil {
			return false, nil, ctx.Err()
		}
		octx, cancel := context.WithTimeout(ctx, timeout)
		v, err = get(octx, key)
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
