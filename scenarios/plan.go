// Package scenarios holds the built-in scenarios (YAML files embedded in
// the binary) and turns scenario text into a validated Plan. It knows no
// driver's internals: capability checks take the driver's list of
// capabilities as plain data.
package scenarios

import (
	"time"

	"github.com/evalrun/evalrun/drivers"
)

// Plan is a parsed, validated scenario.
type Plan struct {
	Name        string
	Description string
	Source      string        // "builtin:NAME" or the file path
	SHA256      string        // hex sha256 of the scenario text
	Duration    time.Duration // planned length of the timeline (sum of sleeps/at), as written
	Cluster     Cluster
	Workload    Workload
	Steps       []Step
}

// Cluster is the cluster the scenario needs.
type Cluster struct {
	Nodes       int               // initial size, >= 1
	Options     map[string]string // driver-specific (cluster.options), reported as config
	Line        int               // line of the cluster key, for errors
	OptionLines map[string]int    // line of each option, for the driver's errors
	// Resources limit every node (cluster.resources); PerNode overrides
	// them for a node (1-based; an entry holds the node's whole limits).
	Resources     drivers.Resources
	PerNode       map[int]drivers.Resources
	ResourcesLine int         // line of cluster.resources, for errors
	PerNodeLines  map[int]int // line of each per-node entry
}

// Op types of the workload mix.
const (
	OpRead   = "read"
	OpWrite  = "write"
	OpDelete = "delete"
	// OpReadFresh is a read that must see every acknowledged write: the
	// driver sends it where that holds (drivers.FreshReader: the
	// primary), whatever read-from says for the other reads.
	OpReadFresh = "read-fresh"
)

// Key distributions.
const (
	Uniform = "uniform"
	Zipfian = "zipfian"
)

// Workload is what the load generator does.
type Workload struct {
	Mix          map[string]int // op type -> weight (> 0); at least one op
	Keys         int            // key space size
	Distribution string         // Uniform or Zipfian
	ValueSize    int            // bytes, >= 16 (the value carries its own identity)
	Rate         float64        // target ops/s, > 0
	Concurrency  int            // workers at the start
	// MaxConcurrency bounds the pool: a worker is added when an operation
	// is due and every worker is busy, up to this many (>= Concurrency).
	MaxConcurrency int
	Timeout        time.Duration // per operation
	Seed           int64
	Preload        bool          // write every key once before the timeline starts
	MaxLag         time.Duration // an op still not started this long after its intended start is missed
	// History: which keys have every operation recorded and checked for
	// linearizability (workload.history in YAML).
	History History
}

// History configures the recorded history (package internal/history).
type History struct {
	Keys   int           // keys sampled; 0 records none (YAML default: history.DefaultKeys)
	MaxOps int           // bound on the operations held (default history.DefaultMaxOps)
	Budget time.Duration // each key's check budget (default linearize.DefaultBudget)
}

// Step actions. An action that is all a capability of the cluster does is
// named by it (drivers.Capability): those names are written once, in
// package drivers, and validation says "driver etcd cannot pause" in the
// scenario's own words. isolate is a case of partition.
const (
	ActSleep      = "sleep"
	ActKill       = string(drivers.CapKill)
	ActStop       = string(drivers.CapStop)
	ActStart      = string(drivers.CapStart)
	ActPause      = string(drivers.CapPause)
	ActResume     = string(drivers.CapResume)
	ActAddNode    = string(drivers.CapAddNode)
	ActRemoveNode = string(drivers.CapRemove)
	ActSettled    = string(drivers.CapSettled)
	ActBackup     = string(drivers.CapBackup)
	ActRestore    = string(drivers.CapRestore)
	ActVerify     = "verify"
	ActPartition  = string(drivers.CapPartition)
	ActHeal       = string(drivers.CapHeal)
	ActIsolate    = "isolate"                  // a partition that cuts one node (a role: the leader) off from the rest
	ActPromote    = string(drivers.CapPromote) // a replica becomes the primary after the primary died
	ActSwitchover = string(drivers.CapSwitch)  // a replica becomes the primary, planned
	ActRate       = "rate"                     // the target rate changes at once
	ActRamp       = "ramp"                     // the target rate changes linearly over a span
	ActDegrade    = string(drivers.CapDegrade) // a node becomes slow (CPU quota, bandwidth, loss, delay) and stays up
	ActRepair     = string(drivers.CapRepair)  // a degraded node gets its own resources back
	ActPhase      = "phase"                    // a step that only marks a phase
)

// NodeRef names a node: a 1-based index, or a role resolved at run time.
type NodeRef struct {
	Index int    // 1-based; 0 when Role is set
	Role  string // "down" (the most recently killed/stopped/paused node not back yet), "last" (the most recently added), "degraded" (the most recently degraded node not repaired), a role the driver declares ("leader", "replica"), or ""
}

// Step is one timeline entry. Exactly one action (Action may be ActPhase
// when the step only starts a phase).
type Step struct {
	Line    int           // line of the step's action key (of "phase" for a pure marker), for errors and the report
	Action  string        // one of the Act* constants
	Phase   string        // when set, a phase of this name starts as the step starts
	At      time.Duration // when > 0, the step does not start before this offset from the start
	For     time.Duration // sleep length; a ramp's span
	Rate    float64       // rate and ramp: the new target, ops/s
	Timeout time.Duration // wait-settled / backup / restore limit; 0 = default
	Node    *NodeRef      // node steps
	Method  string        // backup: the method the step names ("" for the driver's default)
	Groups  [][]int       // partition groups (1-based indexes)
	// Degrade is what a degrade step applies to Node.
	Degrade *drivers.Degradation
}
