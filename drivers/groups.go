package drivers

import "context"

// FreshReader is optional on a Client whose Get may be served by a node
// that is behind (a replica read): GetFresh sends the read where every
// write acknowledged before it is visible (the primary of the key), for
// the workload mix's read-fresh class, as an application sends the reads
// that must not be stale. node is the node that served it (0: unknown). A
// client without it serves read-fresh with Get: its Get is its freshest
// read.
type FreshReader interface {
	GetFresh(ctx context.Context, key string) (value []byte, node int, err error)
}

// NodeGrouper is optional on a Cluster whose nodes form independent
// groups, each with its own copy of a part of the keys (MariaDB with
// shards: a primary and its replicas per group). NodeGroups names each
// node's group ("shard1"), by 1-based node index, so that the report
// shows per-group throughput and latency (a hot group is visible). Groups
// are fixed when the cluster starts.
type NodeGrouper interface {
	NodeGroups() map[int]string
}

// GroupPromoter is optional on a Promoter whose nodes form groups, each
// with its own primary: a step that promotes "<group>.replica"
// ("shard2.replica") gets the group's most advanced replica, as
// "replica" gets Candidate.
type GroupPromoter interface {
	// CandidateOf is the replica a failover of the group that role names
	// should promote now; role is "<group>.replica".
	CandidateOf(ctx context.Context, role string) (int, error)
}
