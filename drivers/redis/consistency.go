package redis

import (
	"fmt"

	"github.com/evalrun/evalrun/drivers"
)

// consistency is what Redis Cluster promises for the driver's operations.
// Its specification says replication is asynchronous and "usually there
// are small windows where acknowledged writes can be lost" (larger for a
// client in a minority partition), and its tutorial that it "is not able
// to guarantee strong consistency": a master acknowledges a write before
// its replicas have it, and a failover can promote a replica that lacks
// it. The driver reads from masters only (no READONLY, no replica
// routing), but a failover can still make a read go back in time, so no
// model, not even the session guarantees, is promised.
func (o options) consistency() drivers.Consistency {
	detail := "Redis Cluster replicates asynchronously: \"usually there are small windows where acknowledged writes can be lost\" (its specification), " +
		"when a replica that lacks them is promoted (failover), " +
		"so reads may go back in time; the driver reads from the master of each slot (no READONLY reads from replicas)"
	if o.replicas == 0 {
		detail += "; replicas=0: no failover, a master that restarts comes back with what it persisted"
		if !o.appendOnly {
			detail += " (appendonly=no: the last RDB snapshot only)"
		}
	} else {
		detail += fmt.Sprintf("; replicas=%d per master, cluster-node-timeout=%dms", o.replicas, o.nodeTimeoutMs)
	}
	return drivers.Consistency{Model: "none", Linearizable: false, Sessions: false, Detail: detail}
}

// Consistency implements drivers.ConsistencyPromiser.
func (c *cluster) Consistency() drivers.Consistency { return c.opts.consistency() }

var _ drivers.ConsistencyPromiser = (*cluster)(nil)
