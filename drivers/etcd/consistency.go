package etcd

import "github.com/evalrun/evalrun/drivers"

// consistency is what etcd promises for the driver's operations. The
// driver reads with etcd's default linearizable range requests (never
// WithSerializable, which no option selects) and writes through raft, so
// whatever the options (heartbeat, election timeout, snapshot count, which
// change only availability) every operation on a key is linearizable, and
// so are the session guarantees.
func (o options) consistency() drivers.Consistency {
	return drivers.Consistency{
		Model:        "linearizable",
		Linearizable: true,
		Sessions:     true,
		Detail: "linearizable reads (etcd's default range request, confirmed by a quorum through ReadIndex; " +
			"the driver never asks for serializable reads) and writes committed by a raft majority",
	}
}

// Consistency implements drivers.ConsistencyPromiser.
func (c *embeddedCluster) Consistency() drivers.Consistency { return c.opts.consistency() }

// Consistency implements drivers.ConsistencyPromiser.
func (c *dockerCluster) Consistency() drivers.Consistency { return c.opts.consistency() }

var (
	_ drivers.ConsistencyPromiser = (*embeddedCluster)(nil)
	_ drivers.ConsistencyPromiser = (*dockerCluster)(nil)
)
