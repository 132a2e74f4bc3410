package model

// NodeStats is what one node served in one phase: the operations a
// drivers.ServingClient said it sent to that node. Node 0 gathers the
// operations whose node is unknown (they failed before reaching one).
// Latencies are from the intended start, as the phase's (OpStats.P99Us),
// and the service time from the send (OpStats.ServiceP99Us): the node's
// own answer time, which a queue in the harness behind a slow node does
// not raise for its peers;
// operations the load generator gave up (missed) reached no node and are
// not counted here.
type NodeStats struct {
	Node   int    `json:"node"` // 1-based; 0: unknown node
	Name   string `json:"name,omitempty"`
	Count  int64  `json:"count"`
	Errors int64  `json:"errors"`
	P50Us  int64  `json:"p50_us"`
	P99Us  int64  `json:"p99_us"`
	MaxUs  int64  `json:"max_us"`
	// ServiceP99Us is the p99 of the service time; 0 in reports written
	// before it was kept.
	ServiceP99Us int64 `json:"service_p99_us,omitempty"`
	// Ops counts the operations by op type (read, write, delete,
	// read-fresh): how many reads each replica took and how many the
	// primary did (reads a lag bound moved there).
	Ops map[string]int64 `json:"ops,omitempty"`
}

// GroupStats is what one group of nodes (drivers.NodeGrouper) served in
// one phase: the merged statistics of its nodes.
type GroupStats struct {
	Group      string           `json:"group"`
	Nodes      []int            `json:"nodes"` // the group's nodes that served operations, ascending
	Count      int64            `json:"count"`
	Errors     int64            `json:"errors"`
	Throughput float64          `json:"throughput"` // successful ops/s over the phase
	P50Us      int64            `json:"p50_us"`
	P99Us      int64            `json:"p99_us"`
	MaxUs      int64            `json:"max_us"`
	Ops        map[string]int64 `json:"ops,omitempty"`
	// WriteP99Us is the p99 of the group's writes (write, delete): a
	// group whose primary stalls shows here.
	WriteP99Us int64 `json:"write_p99_us,omitempty"`
}

// JudgedP99Us is the p99 the slow-node finding compares: the service
// time's when the report has it, else the latency's.
func (n NodeStats) JudgedP99Us() int64 {
	if n.ServiceP99Us > 0 {
		return n.ServiceP99Us
	}
	return n.P99Us
}

// Finding kinds.
const (
	// FindingSlowNode: in a phase, one node's p99 was several times the
	// median of its peers' (reports/judge.SlowNodes states the threshold).
	FindingSlowNode = "slow-node"
)

// Finding is something the judge found in a run that a reader must see
// (a slow node), with the numbers that made it one.
type Finding struct {
	Kind   string `json:"kind"`
	Phase  string `json:"phase,omitempty"`
	Node   int    `json:"node,omitempty"` // 1-based; 0 when it names none
	Name   string `json:"name,omitempty"`
	Detail string `json:"detail"`
}
