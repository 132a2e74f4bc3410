package riak

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/evalrun/evalrun/drivers"
)

// consistency is what Riak KV promises for the driver's operations:
// eventual consistency, in every mode the options can choose. Even with
// r + w > n_val, Riak's quorums are sloppy (a fallback vnode on another
// node takes a write while a primary is unreachable, hinted handoff moves
// it back later), writes carry no vector clock (blind puts), and
// concurrent writes are resolved by timestamp (last write wins) or kept as
// siblings the driver resolves to the newest one; so a read can miss an
// acknowledged write, and two reads can disagree. pr + pw > n_val makes
// the primaries overlap, but concurrent writes are still ordered by
// wall-clock timestamps, not by their real-time order, so Riak promises
// no linearizability there either (strong consistency needs Riak's
// separate consistent bucket types, which the driver does not use).
func (o options) consistency() drivers.Consistency {
	var parts []string
	if o.allowMult {
		parts = append(parts, "allow_mult=true: concurrent blind writes become siblings, which the driver resolves to the most recently modified one")
	} else {
		parts = append(parts, "allow_mult=false: last write wins by the coordinating node's timestamp")
	}
	r, w := o.count(o.r), o.count(o.w)
	pr, pw := o.count(o.pr), o.count(o.pw)
	q := fmt.Sprintf("n_val=%d, r=%s, w=%s, pr=%s, pw=%s", o.nval, o.r.name, o.w.name, o.pr.name, o.pw.name)
	switch {
	case pr >= 0 && pw >= 0 && pr+pw > o.nval:
		q += ": primary quorums overlap (pr+pw > n_val), but concurrent writes are still ordered by timestamp"
	case r >= 0 && w >= 0 && r+w > o.nval:
		q += ": r+w > n_val, but the quorums are sloppy (fallback vnodes take writes while a primary is unreachable; hinted handoff)"
	default:
		q += ": read and write quorums need not overlap"
	}
	parts = append(parts, q)
	return drivers.Consistency{
		Model:        "eventual",
		Linearizable: false,
		Sessions:     false,
		Detail:       "Riak KV is eventually consistent: " + strings.Join(parts, "; "),
	}
}

// count is the number of replicas a quorum value stands for, -1 for
// "default" (the bucket's property, not known here).
func (o options) count(q quorum) int {
	switch q.name {
	case "one":
		return 1
	case "quorum":
		return o.nval/2 + 1
	case "all":
		return o.nval
	case "default":
		return -1
	}
	n, err := strconv.Atoi(q.name)
	if err != nil {
		return -1
	}
	return n
}

// Consistency implements drivers.ConsistencyPromiser.
func (c *cluster) Consistency() drivers.Consistency { return c.opts.consistency() }

var _ drivers.ConsistencyPromiser = (*cluster)(nil)
