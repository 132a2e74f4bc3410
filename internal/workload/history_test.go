package workload

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/history"
	"github.com/evalrun/evalrun/internal/measure"
	"github.com/evalrun/evalrun/internal/safety"
)

// scriptedClient serves every call after latency on the bubble's clock,
// from node 1+key%3 (drivers.ServingClient), and fails some calls: the
// n-th call (counting all of them) fails when n%5 == 4 (a put still takes
// effect: its outcome is unknown to the client), a get with n%7 == 3
// returns a value of another key, one with n%11 == 6 garbage. It logs
// what each call was asked and answered, for the test to derive the
// history from.
type scriptedClient struct {
	clock   func() time.Duration
	latency time.Duration
	mu      sync.Mutex
	n       int
	data    map[string][]byte
	log     []history.Op // Client unknown (-2), Key the key's name index
}

var errScripted = errors.New("scripted failure")

func keyIndex(name string) int {
	var k int
	if _, err := fmt.Sscanf(name, "evalrun/k%08d", &k); err != nil {
		panic(err)
	}
	return k
}

func (c *scriptedClient) call(ctx context.Context, kind history.Kind, name string, value []byte) ([]byte, int, error) {
	invoke := c.clock()
	c.mu.Lock()
	n := c.n
	c.n++
	c.mu.Unlock()
	select {
	case <-time.After(c.latency):
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := keyIndex(name)
	node := 1 + key%3
	entry := history.Op{Client: -2, Key: key, Kind: kind, Invoke: int64(invoke), Return: int64(c.clock()), Node: node, Outcome: history.OK}
	var (
		out []byte
		err error
	)
	switch kind {
	case history.Put:
		c.data[name] = append([]byte(nil), value...)
		_, entry.Value, _ = safety.Decode(value)
		if n%5 == 4 {
			err, entry.Outcome = errScripted, history.Unknown
		}
	case history.Delete:
		delete(c.data, name)
		if n%5 == 4 {
			err, entry.Outcome = errScripted, history.Unknown
		}
	case history.Get:
		v, ok := c.data[name]
		switch {
		case n%5 == 4:
			err, entry.Outcome = errScripted, history.Failed
		case n%7 == 3:
			out = make([]byte, 16)
			safety.Encode(out, key+1, 99)
			entry.Foreign = true
		case n%11 == 6:
			out, entry.Foreign = []byte("not evalrun's value"), true
		case !ok:
			err, entry.Outcome = drivers.ErrNotFound, history.NotFound
		default:
			out = v
			_, entry.Value, _ = safety.Decode(v)
		}
	}
	c.log = append(c.log, entry)
	return out, node, err
}

func (c *scriptedClient) PutServed(ctx context.Context, k string, v []byte) (int, error) {
	_, node, err := c.call(ctx, history.Put, k, v)
	return node, err
}

func (c *scriptedClient) GetServed(ctx context.Context, k string) ([]byte, int, error) {
	return c.call(ctx, history.Get, k, nil)
}

func (c *scriptedClient) DeleteServed(ctx context.Context, k string) (int, error) {
	_, node, err := c.call(ctx, history.Delete, k, nil)
	return node, err
}

func (c *scriptedClient) Put(ctx context.Context, k string, v []byte) error {
	_, err := c.PutServed(ctx, k, v)
	return err
}

func (c *scriptedClient) Get(ctx context.Context, k string) ([]byte, error) {
	v, _, err := c.GetServed(ctx, k)
	return v, err
}

func (c *scriptedClient) Delete(ctx context.Context, k string) error {
	_, err := c.DeleteServed(ctx, k)
	return err
}

func (c *scriptedClient) Close() error { return nil }

// The preload and the load record every operation on the sampled keys,
// with the fields the client saw, and nothing on the other keys; without a
// ledger nothing is recorded (the values have no identity).
func TestHistoryRecorded(t *testing.T) {
	const keys = 12
	sample := history.Sample(keys, 4) // 0, 3, 6, 9
	for _, withLedger := range []bool{true, false} {
		t.Run(fmt.Sprintf("ledger=%v", withLedger), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				clock := func() time.Duration { return time.Since(start) }
				rec, err := measure.NewRecorder(measure.Config{Ops: OpNames(), Start: start})
				if err != nil {
					t.Fatal(err)
				}
				c := &scriptedClient{clock: clock, latency: 12 * time.Millisecond, data: map[string][]byte{}}
				hist := history.NewRecorder(keys, sample, 0)
				var ledger *safety.Ledger
				if withLedger {
					ledger = safety.New(keys, time.Second)
					if _, err := Preload(t.Context(), c, ledger, hist, names(keys), 64, 4, time.Second, clock); err != nil {
						// the scripted failures are retried
						t.Fatal(err)
					}
				}
				preloadCalls := len(c.log)
				loadStart := clock() + time.Millisecond
				l, err := New(Config{
					Schedule: ConstantRate(1000), Weights: [NumOps]int{50, 40, 10}, Keys: Uniform{N: keys}, KeyNames: names(keys),
					ValueSize: 64, Concurrency: 8, Timeout: time.Second, Seed: 7, MaxOps: 600, History: hist,
				}, c, rec, ledger, clock)
				if err != nil {
					t.Fatal(err)
				}
				l.Start(t.Context(), loadStart)
				st := l.Wait()
				// 8 workers of 12 ms ops keep up with 666 ops/s of the 1000
				// due: most ops are sent after their intended start, and
				// the history must have when they were sent.
				if st.MaxLag < 50*time.Millisecond {
					t.Fatalf("max lag %v: the load should fall behind", st.MaxLag)
				}

				_, ops := hist.Ops()
				if !withLedger {
					if len(ops) != 0 {
						t.Fatalf("no ledger: %d ops recorded, want none", len(ops))
					}
					return
				}
				// What the client logged on the sampled keys, matched to the
				// recorded ops by (key, invoke, kind) (the fake clock makes
				// times exact; a worker runs one op at a time).
				type id struct {
					key    int
					invoke int64
					kind   history.Kind
					value  uint64
				}
				want := map[id][]history.Op{}
				sampled := 0
				for i, e := range c.log {
					if !hist.Sampled(e.Key) {
						continue
					}
					sampled++
					e.Client = -2
					if i >= preloadCalls {
						e.Client = -3 // a worker, 0..7
					}
					k := id{e.Key, e.Invoke, e.Kind, e.Value}
					want[k] = append(want[k], e)
				}
				if sampled == 0 || sampled == len(c.log) {
					t.Fatalf("%d of %d calls on sampled keys: the test needs both kinds", sampled, len(c.log))
				}
				if len(ops) != sampled {
					t.Errorf("%d ops recorded, want %d (the client's calls on sampled keys)", len(ops), sampled)
				}
				kinds, foreign := map[history.Outcome]int{}, 0
				for _, op := range ops {
					if !hist.Sampled(op.Key) {
						t.Fatalf("op on key %d, which is not sampled: %+v", op.Key, op)
					}
					k := id{op.Key, op.Invoke, op.Kind, op.Value}
					cands := want[k]
					if len(cands) == 0 {
						t.Fatalf("op %+v: the client had no such call", op)
					}
					e := cands[0]
					want[k] = cands[1:]
					switch {
					case e.Client == -2 && (op.Client > -1 || op.Client < -4):
						t.Errorf("preload op %+v: client %d, want -1..-4", op, op.Client)
					case e.Client == -3 && (op.Client < 0 || op.Client >= 8):
						t.Errorf("load op %+v: client %d, want 0..7", op, op.Client)
					}
					e.Client = op.Client
					if op != e {
						t.Errorf("recorded %+v, want %+v", op, e)
					}
					kinds[op.Outcome]++
					if op.Foreign {
						foreign++
					}
				}
				if foreign == 0 {
					t.Error("no foreign read recorded: the script returns some")
				}
				for _, o := range []history.Outcome{history.OK, history.NotFound, history.Unknown, history.Failed} {
					if kinds[o] == 0 {
						t.Errorf("no op with outcome %s: the script should produce every outcome (%v)", o, kinds)
					}
				}
			})
		})
	}
}
