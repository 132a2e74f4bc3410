package safety

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
)

// replicaStore is a fake client whose quorum read and strict read see
// different data, as Riak's notfound_ok quorum can.
type replicaStore struct {
	quorum, strict map[string][]byte // what each read finds
	strictFails    map[string]bool
	strictReads    atomic.Int64
}

func (s *replicaStore) Get(_ context.Context, k string) ([]byte, error) {
	if v, ok := s.quorum[k]; ok {
		return v, nil
	}
	return nil, drivers.ErrNotFound
}

type strictStore struct{ *replicaStore }

func (s strictStore) GetStrict(_ context.Context, k string) ([]byte, error) {
	s.strictReads.Add(1)
	if s.strictFails[k] {
		return nil, fmt.Errorf("pr_val_unsatisfied: %w", drivers.ErrUnavailable)
	}
	if v, ok := s.strict[k]; ok {
		return v, nil
	}
	return nil, drivers.ErrNotFound
}

func (strictStore) StrictReadSettings() string { return "r=all, pr=all" }

func keyName(k int) string { return fmt.Sprintf("k%d", k) }

// A key the configured read misses counts as lost only when the strict
// read misses it too; found by the strict read it is quorum not-found; a
// strict read that fails leaves the loss unconfirmed. Without a strict
// reader the configured read's answer is the verdict.
func TestVerifyConfirmsLossWithStrictRead(t *testing.T) {
	l := New(6, time.Second)
	seqs := make([]uint64, 6)
	for k := range seqs {
		seqs[k] = l.Begin(k, false, 1)
		l.End(k, seqs[k], true, 2)
	}
	older := l.Begin(5, false, 3) // key 5: an older value on a replica
	l.End(5, older, true, 4)
	newest := l.Begin(5, false, 5)
	l.End(5, newest, true, 6)

	st := &replicaStore{quorum: map[string][]byte{}, strict: map[string][]byte{}, strictFails: map[string]bool{}}
	st.quorum["k0"] = val(0, seqs[0]) // read fine
	st.strict["k1"] = val(1, seqs[1]) // quorum not-found
	st.strict["k2"] = val(2, seqs[2]) // quorum not-found
	/* k3: nowhere */                 // lost
	st.strictFails["k4"] = true       // unconfirmed
	st.strict["k5"] = val(5, seqs[5]) // a value older than acknowledged
	keys := []int{0, 1, 2, 3, 4, 5}

	res := Verify(t.Context(), strictStore{st}, keys, keyName, l.Check, 2, time.Second)
	want := Result{Checked: 6, Verified: 1, QuorumNotFound: 2, Lost: 1, Unconfirmed: 1, Stale: 1}
	if res.Checked != want.Checked || res.Verified != want.Verified || res.QuorumNotFound != want.QuorumNotFound ||
		res.Lost != want.Lost || res.Unconfirmed != want.Unconfirmed || res.Stale != want.Stale || res.Unreadable != 0 {
		t.Errorf("with a strict reader: %+v\nwant counts %+v", res, want)
	}
	slices.Sort(res.QuorumNotFoundKeys)
	if !slices.Equal(res.LostKeys, []string{"k3"}) || !slices.Equal(res.QuorumNotFoundKeys, []string{"k1", "k2"}) ||
		!slices.Equal(res.UnconfirmedKeys, []string{"k4"}) || !slices.Equal(res.StaleKeys, []string{"k5"}) {
		t.Errorf("keys: lost %v, quorum not-found %v, unconfirmed %v, stale %v", res.LostKeys, res.QuorumNotFoundKeys, res.UnconfirmedKeys, res.StaleKeys)
	}
	// k4's strict read is retried like any read; only keys the configured
	// read missed are read strictly (k1..k5).
	if n := st.strictReads.Load(); n < 5 || n > 7 {
		t.Errorf("strict reads = %d, want one per missed key (k4 retried)", n)
	}

	plain := Verify(t.Context(), st, keys, keyName, l.Check, 2, time.Second)
	if plain.Lost != 5 || plain.Verified != 1 || plain.QuorumNotFound != 0 || plain.Unconfirmed != 0 {
		t.Errorf("without a strict reader: %+v, want 5 lost, 1 verified", plain)
	}
}

// A key the configured read finds stale is read again strictly: the
// acknowledged value there makes it stale on the read path only (a replica
// behind), an older value or a failed strict read leaves it stale.
func TestVerifyConfirmsStaleWithStrictRead(t *testing.T) {
	l := New(3, time.Second)
	older, newest := make([]uint64, 3), make([]uint64, 3)
	for k := range 3 {
		older[k] = l.Begin(k, false, 1)
		l.End(k, older[k], true, 2)
		newest[k] = l.Begin(k, false, 3)
		l.End(k, newest[k], true, 4)
	}
	st := &replicaStore{quorum: map[string][]byte{}, strict: map[string][]byte{}, strictFails: map[string]bool{}}
	for k := range 3 {
		st.quorum[keyName(k)] = val(k, older[k]) // every read lands on a replica that is behind
	}
	st.strict["k0"] = val(0, newest[0]) // the primary has the update: stale on the read path
	st.strict["k1"] = val(1, older[1])  // nowhere newer: stale
	st.strictFails["k2"] = true         // not shown to exist: stale
	for _, tc := range []struct {
		name   string
		reader Reader
		want   Result
	}{
		{"strict reader", strictStore{st}, Result{Checked: 3, Stale: 2, ReadStale: 1, StaleKeys: []string{"k1", "k2"}, ReadStaleKeys: []string{"k0"}}},
		{"no strict reader", st, Result{Checked: 3, Stale: 3, StaleKeys: []string{"k0", "k1", "k2"}}},
	} {
		res := Verify(t.Context(), tc.reader, []int{0, 1, 2}, keyName, l.Check, 1, time.Second)
		slices.Sort(res.StaleKeys)
		if res.Checked != tc.want.Checked || res.Stale != tc.want.Stale || res.ReadStale != tc.want.ReadStale || res.Lost != 0 ||
			!slices.Equal(res.StaleKeys, tc.want.StaleKeys) || !slices.Equal(res.ReadStaleKeys, tc.want.ReadStaleKeys) {
			t.Errorf("%s: %+v, want %+v", tc.name, res, tc.want)
		}
	}
}

func TestVerifyCountsUnreadable(t *testing.T) {
	l := New(1, time.Second)
	s := l.Begin(0, false, 1)
	l.End(0, s, true, 2)
	failing := readerFunc(func(context.Context, string) ([]byte, error) { return nil, errors.New("connection refused") })
	res := Verify(t.Context(), failing, []int{0}, keyName, l.Check, 1, 50*time.Millisecond)
	if res.Checked != 1 || res.Unreadable != 1 || res.Lost != 0 {
		t.Errorf("%+v, want 1 unreadable", res)
	}
}

type readerFunc func(context.Context, string) ([]byte, error)

func (f readerFunc) Get(ctx context.Context, k string) ([]byte, error) { return f(ctx, k) }
