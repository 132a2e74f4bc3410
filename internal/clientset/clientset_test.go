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

// tracked closes through Tracked, as drivers' clients do.
type tracked struct {
	t      Tracked
	closed int
}

func (c *tracked) Close() error {
	return c.t.Close(func() error { c.closed++; return errors.New("closed") })
}

func TestTrack(t *testing.T) {
	var s Set[*tracked]
	a, b := &tracked{}, &tracked{}
	for _, c := range []*tracked{a, b} {
		if err := s.Track(c, &c.t); err != nil {
			t.Fatal(err)
		}
	}
	// A client that closes leaves the set, and closes once.
	for range 2 {
		if err := a.Close(); err == nil || err.Error() != "closed" {
			t.Errorf("Close: %v, want the first close's error again", err)
		}
	}
	if got := s.Snapshot(); a.closed != 1 || len(got) != 1 || got[0] != b {
		t.Fatalf("a closed %d times; set %v, want [b]", a.closed, got)
	}
	_ = s.CloseAll(Closer[*tracked])
	if b.closed != 1 || len(s.Snapshot()) != 0 {
		t.Errorf("b closed %d times; %d left", b.closed, len(s.Snapshot()))
	}
	if err := s.Track(&tracked{}, new(Tracked)); !errors.Is(err, ErrClosed) {
		t.Errorf("Track after CloseAll: %v", err)
	}
}
