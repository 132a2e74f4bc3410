package drivers

import (
	"context"
	"fmt"
	"time"

	"github.com/evalrun/evalrun/internal/errext"
)

// Capabilities of a cluster whose nodes can be made slow (gray failures).
const (
	CapDegrade Capability = "degrade"
	CapRepair  Capability = "repair"
)

// Resources is what one node may use, as a machine of that size would
// have: a CPU quota and a memory limit. Zero fields mean no limit.
type Resources struct {
	CPUs        float64 `json:"cpus,omitempty"`         // cores (0.5 = half a core), Docker's CPU quota
	MemoryBytes int64   `json:"memory_bytes,omitempty"` // the container's memory limit
}

// IsZero reports whether r sets no limit.
func (r Resources) IsZero() bool { return r.CPUs == 0 && r.MemoryBytes == 0 }

// Degradation makes a node slow without taking it away: the node stays up
// and answers health checks. Zero fields leave that aspect alone; at
// least one field is set.
type Degradation struct {
	// CPUs is the node's CPU quota while degraded, in cores (0.05).
	CPUs float64 `json:"cpus,omitempty"`
	// BandwidthBitsPerSec caps what the node sends (egress, every
	// interface but loopback; a tbf qdisc).
	BandwidthBitsPerSec int64 `json:"bandwidth_bits_per_sec,omitempty"`
	// LossPercent drops that share of the packets the node receives
	// (0 < p < 100; iptables' statistic match).
	LossPercent float64 `json:"loss_percent,omitempty"`
	// Delay is added to every packet the node sends (netem: only where
	// the kernel has it; DegradeChecker refuses it elsewhere).
	Delay time.Duration `json:"delay_ns,omitempty"`
}

// Degrader is optional on a Cluster: it makes one node slow and repairs
// it. Degrade replaces any degradation the node has; Repair undoes every
// mechanism Degrade applied (the node's own Resources come back) and is
// a no-op on a node that is not degraded. Teardown undoes them too.
type Degrader interface {
	Degrade(ctx context.Context, index int, d Degradation) error
	Repair(ctx context.Context, index int) error
}

// DegradeChecker is optional on a Driver: before any cluster starts, it
// says whether this machine can apply d with provider (netem for a
// delay), so that a scenario asking for what cannot be done is refused at
// run start with one line, not half-way through.
type DegradeChecker interface {
	CheckDegrade(ctx context.Context, provider string, d Degradation) error
}

// ServingClient is optional on a Client: it says which node served each
// operation (Redis: the master of the key's slot; MariaDB: the primary or
// the replica read; Riak: the coordinating node; etcd: the member that
// answered). node is the 1-based index of the cluster's nodes, 0 when
// unknown (the operation failed before reaching a node). The workload
// calls these instead of Put, Get and Delete when the client has them.
type ServingClient interface {
	PutServed(ctx context.Context, key string, value []byte) (node int, err error)
	GetServed(ctx context.Context, key string) (value []byte, node int, err error)
	DeleteServed(ctx context.Context, key string) (node int, err error)
}

// ResourcesOf is what node index (1-based) may use: its PerNode entry
// when it has one, else Resources (a node add-node starts gets
// Resources).
func (s ClusterSpec) ResourcesOf(index int) Resources {
	if r, ok := s.PerNode[index]; ok {
		return r
	}
	return s.Resources
}

// HasResources reports whether s limits any node.
func (s ClusterSpec) HasResources() bool {
	if !s.Resources.IsZero() {
		return true
	}
	for _, r := range s.PerNode {
		if !r.IsZero() {
			return true
		}
	}
	return false
}

// ResourceLimiter is optional on a Cluster whose nodes run with the
// ClusterSpec's Resources (Docker's CPU quota and memory limit), so that
// a run on one machine models nodes of a stated size. A cluster type
// without it (in-process nodes) cannot, and validation refuses
// cluster.resources for it (Topology.Resources).
type ResourceLimiter interface {
	// NodeResources are the limits node index was created with.
	NodeResources(index int) Resources
}

// LimitsResources reports whether cluster (a value of a driver's
// cluster type; a nil pointer will do) applies ClusterSpec.Resources.
func LimitsResources(cluster any) bool {
	_, ok := cluster.(ResourceLimiter)
	return ok
}

// RefuseResources is the error of a cluster type that is no
// ResourceLimiter when spec limits its nodes anyway (validation refuses
// such a scenario first; this guards callers that skip it): bad input.
func RefuseResources(who string, spec ClusterSpec) error {
	if !spec.HasResources() {
		return nil
	}
	return errext.BadInput(fmt.Errorf("%s runs its nodes in this process and cannot limit their CPU or memory (cluster.resources)", who),
		"remove cluster.resources, or use a driver on the docker provider")
}
