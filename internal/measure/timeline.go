package measure

import (
	"sync"
	"sync/atomic"
	"time"
)

const chunkSlices = 1024

// timeline counts successes and errors per slice of time (by completion
// time), lock-free on the recording path. Chunks of slices are allocated as
// the run goes on, so memory follows the run's length: 16 bytes a slice.
type timeline struct {
	slice  time.Duration
	mu     sync.Mutex // guards growth of chunks
	chunks atomic.Pointer[[]*chunk]
}

type chunk [chunkSlices]sliceCount

type sliceCount struct {
	ok, errs atomic.Int64
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
		}
	}
	// drop trailing empty slices
	n := len(out.OK)
	for n > 0 && out.OK[n-1] == 0 && out.Errs[n-1] == 0 {
		n--
	}
	out.OK, out.Errs = out.OK[:n], out.Errs[:n]
	return out
}
