package measure

import (
	"sync"
	"sync/atomic"
	"time"
)

const chunkSlices = 1024

// timeline counts successes and errors per slice of time (by completion
// time) and, per slice of start time, when the first acknowledged write
// sent in it completed; lock-free on the recording path. Chunks of slices
// are allocated as the run goes on, so memory follows the run's length: 24
// bytes a slice.
type timeline struct {
	slice  time.Duration
	mu     sync.Mutex // guards growth of chunks
	chunks atomic.Pointer[[]*chunk]
}

type chunk [chunkSlices]sliceCount

type sliceCount struct {
	ok, errs atomic.Int64
	// firstAck: 1 + the completion offset (ns) of the earliest acknowledged
	// write sent in this slice; 0 for none.
	firstAck atomic.Int64
}

func (t *timeline) add(at time.Duration, ok bool) {
	if at < 0 {
		at = 0
	}
	idx := int(at / t.slice)
	c := t.chunk(idx / chunkSlices)
	s := &c[idx%chunkSlices]
	if ok {
		s.ok.Add(1)
	} else {
		s.errs.Add(1)
	}
}

// ackWrite records a write sent at start and acknowledged at end.
func (t *timeline) ackWrite(start, end time.Duration) {
	if start < 0 {
		start = 0
	}
	idx := int(start / t.slice)
	s := &t.chunk(idx / chunkSlices)[idx%chunkSlices]
	v := int64(end) + 1
	for {
		cur := s.firstAck.Load()
		if cur != 0 && cur <= v || s.firstAck.CompareAndSwap(cur, v) {
			return
		}
	}
}

func (t *timeline) chunk(i int) *chunk {
	if cs := t.chunks.Load(); cs != nil && i < len(*cs) {
		return (*cs)[i]
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var cur []*chunk
	if cs := t.chunks.Load(); cs != nil {
		cur = *cs
	}
	if i < len(cur) {
		return cur[i]
	}
	grown := make([]*chunk, i+1)
	copy(grown, cur)
	for j := len(cur); j <= i; j++ {
		grown[j] = new(chunk)
	}
	t.chunks.Store(&grown)
	return grown[i]
}

// Timeline is a copy of the success/error counts per slice.
type Timeline struct {
	Slice time.Duration
	OK    []int64
	Errs  []int64
	// FirstAck: per slice of start time, when the earliest acknowledged
	// write sent in it completed (an offset on the run clock); -1 for none.
	FirstAck []time.Duration
}

func (t *timeline) snapshot() Timeline {
	out := Timeline{Slice: t.slice}
	cs := t.chunks.Load()
	if cs == nil {
		return out
	}
	for _, c := range *cs {
		for i := range c {
			out.OK = append(out.OK, c[i].ok.Load())
			out.Errs = append(out.Errs, c[i].errs.Load())
			out.FirstAck = append(out.FirstAck, time.Duration(c[i].firstAck.Load()-1))
		}
	}
	// drop trailing empty slices
	n := len(out.OK)
	for n > 0 && out.OK[n-1] == 0 && out.Errs[n-1] == 0 && out.FirstAck[n-1] < 0 {
		n--
	}
	out.OK, out.Errs, out.FirstAck = out.OK[:n], out.Errs[:n], out.FirstAck[:n]
	return out
}
