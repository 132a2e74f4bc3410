package mem

import (
	"fmt"

	"github.com/evalrun/evalrun/drivers"
)

// consistency is what the mem store promises: linearizable operations
// (writes ordered by the leader and acknowledged by a majority, reads
// through the leader), in every bug mode. The bug modes are defects, not
// modes of a weaker model: they are exactly what the history check must
// catch, so the promise stays, and Detail names the bug.
func (o options) consistency() drivers.Consistency {
	detail := "a reference store: writes ordered by the leader and acknowledged by a majority, reads through the leader"
	switch o.bug {
	case BugNone:
	case BugLoseAckedWrites:
		detail += fmt.Sprintf("; bug: %s (rate %g): acknowledged writes are dropped, which breaks the promise on purpose", o.bug, o.bugRate)
	case BugStaleReads:
		detail += fmt.Sprintf("; bug: %s (lag %v): reads are served by followers that apply the log late, which breaks the promise on purpose", o.bug, o.bugLag)
	case BugAckBeforeReplicate:
		detail += fmt.Sprintf("; bug: %s (lag %v): writes are acknowledged before a majority holds them, which breaks the promise on purpose", o.bug, o.bugLag)
	default:
		detail += fmt.Sprintf("; bug: %s, which breaks the promise on purpose", o.bug)
	}
	return drivers.Consistency{Model: "linearizable", Linearizable: true, Sessions: true, Detail: detail}
}

// Consistency implements drivers.ConsistencyPromiser.
func (c *cluster) Consistency() drivers.Consistency { return c.opts.consistency() }

var _ drivers.ConsistencyPromiser = (*cluster)(nil)
