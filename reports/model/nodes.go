package model

// NodeStats is what one node served in one phase: the operations a
// drivers.ServingClient said it sent to that node. Node 0 gathers the
// operations whose node is unknown (they failed before reaching one).
// Latencies are from the intended start, as the phase's (OpStats.P99Us);
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
