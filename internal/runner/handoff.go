package runner

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/evalrun/evalrun/drivers"
)

// Handoff tracking: after a node returns (start, resume, heal) or the
// membership changes (add-node, remove-node), a cluster that reports
// handoff (drivers.HandoffReporter) is polled in the background until
// nothing is left to hand off, so the report can say how long hinted or
// ownership handoff took and how many partitions moved. Polls are spaced
// (handoffPoll): asking costs the database work, which the latency figures
// would otherwise carry.
const (
	handoffPoll  = 5 * time.Second
	handoffLimit = 30 * time.Minute
)

// handoffTrack is one tracker's result, filled in while the run goes on.
type handoffTrack struct {
	mu      sync.Mutex
	start   time.Duration // run clock at the step's start
	done    bool
	took    time.Duration // from the step's start until handoff was seen done
	maxSeen int           // most partitions seen waiting or moving
	planned int           // partitions the membership change planned to move
	last    string        // the last detail, or the last error
	polls   int
}

// trackHandoff starts a tracker for the step that began at start, beside
// the timeline; it runs until handoff is done, the load stops or
// handoffLimit passes.
func (r *run) trackHandoff(hr drivers.HandoffReporter, start time.Duration) *handoffTrack {
	t := &handoffTrack{start: start}
	r.goBeside("handoff tracker", func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, handoffLimit)
		defer cancel()
		for {
			h, err := hr.Handoff(ctx)
			now := r.clock()
			t.mu.Lock()
			t.polls++
			if err != nil {
				t.last = err.Error()
			} else {
				t.last = h.Detail
				t.maxSeen = max(t.maxSeen, h.Partitions)
				if h.Planned > 0 {
					t.planned = h.Planned
				}
				if h.Done {
					t.done, t.took = true, now-t.start
				}
			}
			done := t.done
			t.mu.Unlock()
			if done || ctx.Err() != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(handoffPoll):
			}
		}
	})
	return t
}

// settledAt records that the cluster reported itself settled (membership
// agreed, no data in transit) at now: handoff is done by then if the
// tracker has not seen it yet (its polls are seconds apart).
func (t *handoffTrack) settledAt(now time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.done {
		t.done, t.took = true, now-t.start
	}
}

// result returns the handoff numbers for the report: duration (nil when
// handoff was not seen done), partitions (planned if known, else the most
// seen in flight) and a detail line.
func (t *handoffTrack) result() (took *int64, partitions *int64, detail string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := int64(t.maxSeen)
	if t.planned > 0 {
		p = int64(t.planned)
	}
	partitions = &p
	if t.done {
		ms := t.took.Milliseconds()
		took = &ms
		return took, partitions, fmt.Sprintf("handoff done %s after the step", t.took.Round(time.Second))
	}
	return nil, partitions, "handoff not done by the end of the run: " + t.last
}
