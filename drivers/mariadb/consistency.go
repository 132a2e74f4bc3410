package mariadb

import (
	"fmt"

	"github.com/evalrun/evalrun/drivers"
)

// consistency is what MariaDB with asynchronous (or semi-synchronous)
// replication promises for the driver's single-key operations. Every write
// goes to the primary (with shards, the primary of the key's group: a
// key lives in one group only, so what holds for one primary holds per
// key). With read-from=primary (the default) a read is an
// autocommit SELECT on the same primary, which sees every committed write:
// single-key operations on the primary are linearizable, and so are the
// session guarantees. (A failover to a replica that lacks acknowledged
// writes loses them; that is counted as lost writes, and a history that
// shows it is not linearizable: a safety failure.) With read-from=replicas
// or any, a read may go to a replica that applies the primary's binlog
// late: nothing is promised, not even monotonic reads or read your writes.
// Semi-synchronous replication waits for a replica to hold a transaction in
// its relay log, not to apply it, so it does not change what reads see.
func (o options) consistency() drivers.Consistency {
	semi := ""
	if o.semiSync {
		semi = fmt.Sprintf("; semi-sync=on (timeout %v) makes a replica receive a commit before it is acknowledged, not apply it, so it does not change what reads see", o.semiSyncTimeout)
	}
	switch o.readFrom {
	case readReplicas, readAny:
		where := "the live replicas in turn"
		if o.readFrom == readAny {
			where = "every live node in turn, replicas included"
		}
		return drivers.Consistency{
			Model:        "eventual (asynchronous replicas)",
			Linearizable: false,
			Sessions:     false,
			Detail: fmt.Sprintf("reads from replicas (read-from=%s: %s): asynchronous replication, a replica may be behind the primary, "+
				"so a read can miss an acknowledged write, and a client's later read can return an older value%s", o.readFrom, where, semi),
		}
	}
	return drivers.Consistency{
		Model:        "linearizable",
		Linearizable: true,
		Sessions:     true,
		Detail:       "read-from=primary: single-key writes and reads (autocommit) on the key's one primary, which sees every committed write" + semi,
	}
}

// Consistency implements drivers.ConsistencyPromiser.
func (c *cluster) Consistency() drivers.Consistency { return c.opts.consistency() }

var _ drivers.ConsistencyPromiser = (*cluster)(nil)
