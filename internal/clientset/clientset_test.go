package clientset

import (
	"errors"
	"testing"
)

type fake struct {
	set    *Set[*fake]
	closed int
	err    error
}

func (f *fake) Close() error {
	f.closed++
	f.set.Remove(f)
	return f.err
}

func TestSet(t *testing.T) {
	var s Set[*fake]
	a, b := &fake{set: &s}, &fake{set: &s, err: errors.New("b failed")}
	for _, f := range []*fake{a, b} {
		if err := s.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	s.Remove(a)
	if got := s.Snapshot(); len(got) != 1 || got[0] != b {
		t.Fatalf("snapshot %v, want [b]", got)
	}
	if err := s.Add(a); err != nil {
		t.Fatal(err)
	}
	err := s.CloseAll(Closer[*fake])
	if err == nil || err.Error() != "b failed" {
		t.Errorf("CloseAll: %v, want b's error", err)
	}
	if a.closed != 1 || b.closed != 1 || len(s.Snapshot()) != 0 {
		t.Errorf("closed a %d, b %d times; %d left", a.closed, b.closed, len(s.Snapshot()))
	}
	if err := s.Add(&fake{set: &s}); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after CloseAll: %v", err)
	}
}
