package driverkit

import (
	"context"
	"sync"
)

// Slot is a cluster's operation slot: node controls, membership changes
// and backups run one at a time, and closing the cluster ends the one in
// progress. It knows no provider: Base has one, and so may a cluster whose
// nodes run elsewhere (etcd's embedded provider). The zero value is ready
// to use.
type Slot struct {
	once        sync.Once
	ops         chan struct{}
	closing     chan struct{}
	closingOnce sync.Once
}

func (s *Slot) init() {
	s.once.Do(func() {
		s.ops = make(chan struct{}, 1)
		s.closing = make(chan struct{})
	})
}

// Acquire takes the slot. The returned context ends when ctx does or when
// Shut begins; release gives the slot back. After Shut began it returns
// ErrClosed.
func (s *Slot) Acquire(ctx context.Context) (opCtx context.Context, release func(), err error) {
	s.init()
	select {
	case s.ops <- struct{}{}:
	case <-s.closing:
		return nil, nil, ErrClosed
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	select {
	case <-s.closing:
		<-s.ops
		return nil, nil, ErrClosed
	default:
	}
	octx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-done:
		}
	}()
	return octx, func() {
		close(done)
		cancel()
		<-s.ops
	}, nil
}

// Closing is closed when Shut begins: a long wait of the driver's own (a
// retry loop) ends on it.
func (s *Slot) Closing() <-chan struct{} {
	s.init()
	return s.closing
}

// Shut refuses every later Acquire, asks the operation in progress to end
// (its context ends) and waits, until ctx ends, for the slot, which the
// caller then holds until release. It may be called again (a Close that
// ran out of time is retried).
func (s *Slot) Shut(ctx context.Context) (release func(), err error) {
	s.init()
	s.closingOnce.Do(func() { close(s.closing) })
	select {
	case s.ops <- struct{}{}:
		return func() { <-s.ops }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
