// Package clientset tracks the clients a cluster handed out, so that the
// cluster's Close closes them and a membership change can reach each of
// them. Drivers keep one Set per cluster.
package clientset

import (
	"errors"
	"io"
	"sync"
)

// ErrClosed is returned by Add after CloseAll.
var ErrClosed = errors.New("the cluster is closed")

// Set is a set of open clients. The zero value is ready to use.
type Set[C comparable] struct {
	mu      sync.Mutex
	closed  bool
	clients map[C]struct{}
}

// Add records c; after CloseAll it returns ErrClosed and does not record it.
func (s *Set[C]) Add(c C) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.clients == nil {
		s.clients = map[C]struct{}{}
	}
	s.clients[c] = struct{}{}
	return nil
}

// Remove forgets c (a client calls it from its Close).
func (s *Set[C]) Remove(c C) {
	s.mu.Lock()
	delete(s.clients, c)
	s.mu.Unlock()
}

// Snapshot returns the open clients (no lock held while the caller uses them).
func (s *Set[C]) Snapshot() []C {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]C, 0, len(s.clients))
	for c := range s.clients {
		out = append(out, c)
	}
	return out
}

// CloseAll marks the set closed and closes every client, through close
// (which may call Remove). It returns the clients' errors joined.
func (s *Set[C]) CloseAll(close func(C) error) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	var errs []error
	for _, c := range s.Snapshot() {
		if err := close(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Track adds c, whose Close runs through t: closing c takes it out of the
// set. After CloseAll it returns ErrClosed and does not add c.
func (s *Set[C]) Track(c C, t *Tracked) error {
	t.leave = func() { s.Remove(c) }
	return s.Add(c)
}

// Tracked is the part of a client that a Set tracks: its Close runs once
// and leaves the set first. The zero value (an untracked client) is ready
// to use.
type Tracked struct {
	once  sync.Once
	err   error
	leave func()
}

// Close takes the client out of its set and runs close, once; later
// calls return the first one's error.
func (t *Tracked) Close(close func() error) error {
	t.once.Do(func() {
		if t.leave != nil {
			t.leave()
		}
		t.err = close()
	})
	return t.err
}

// Closer adapts io.Closer for CloseAll.
func Closer[C io.Closer](c C) error { return c.Close() }
