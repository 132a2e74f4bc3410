package redis

import (
	"fmt"

	"github.com/evalrun/evalrun/drivers"
)

// consistency is what Redis Cluster promises for the driver's operations.
// The Redis Cluster specification says it "is not able to guarantee strong
// consistency": replication is asynchronous, a master acknowledges a write
// before its replicas have it, and "there is always a window of time when
// it is possible to lose writes during partitions" (a failover promotes a
// replica that lacks them). The driver reads from masters only (no
// READONLY, no replica routing), but a failover can still make a read go
// back in time, so no model, not even the session guarantees, is promised.
func (o options) consistency() drivers.Consistency {
	detail := "Redis Cluster replicates asynchronously and its specification says it \"is not able to guarantee strong consistency\": " +
		"an acknowledged write can be lost when a replica that lacks it is promoted (failover), " +
		"so reads may go back in time; the driver reads from the master of each slot (no READONLY reads from replicas)"
	switch {
	case o.replicas == 0:
		detail += "; replicas=0: no failover, a master that restarts comes back with what it persisted"
		if !o.appendOnly {
			detail += " (appendonly=no: the last RDB snapshot only)"
		}
	default:
		detail += fmt.Sprintf("; replicas=%d per master, cluster-node-timeout=%dms", o.replicas, o.nodeTimeoutMs)
	}
	return drivers.Consistency{Model: "none", Linearizable: false, Sessions: false, Detail: detail}
}

// Consistency implements drivers.ConsistencyPromiser.
func (c *cluster) Consistency() drivers.Consistency { return c.opts.consistency() }

var _ drivers.ConsistencyPromiser = (*cluster)(nil)
