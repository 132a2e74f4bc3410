package drivers

// Consistency is what a database promises for the reads and writes of a
// run, in the mode the run's options chose (the database's own
// documentation, not what evalrun measured).
type Consistency struct {
	// Model names it: "linearizable", "sequential", "eventual", "none".
	Model string
	// Linearizable: the database promises that every operation on a key
	// takes effect at one instant between its invocation and its response.
	// A history found not linearizable is then a safety failure; otherwise
	// it is observed, as documented.
	Linearizable bool
	// Sessions: it promises read-your-writes and monotonic reads to a
	// client (a linearizable database does; one reading from replicas
	// usually does not).
	Sessions bool
	// Detail says why, in the database's words and the run's options
	// (e.g. "reads from replicas (read-from=replicas): asynchronous
	// replication, a replica may be behind").
	Detail string
}

// ConsistencyPromiser is optional on a Cluster: what it promises under the
// options it was started with. A cluster without it promises nothing
// stated, and a history found not linearizable is reported as observed.
//
// What the drivers of this repository state (README, "Histories and
// linearizability"): etcd linearizable (default linearizable reads) with
// sessions; Redis Cluster "none" (asynchronous replication loses
// acknowledged writes on failover); Riak KV "eventual" in every quorum
// setting (sloppy quorums, last write wins or siblings); MariaDB
// linearizable with read-from=primary, "eventual (asynchronous replicas)"
// when it reads from replicas; mem linearizable in every bug mode (its
// bugs are what the check must catch).
type ConsistencyPromiser interface {
	Consistency() Consistency
}
