package docker

import (
	"context"
	"errors"
	"time"
)

// Resources limits one container: a CPU quota and a memory limit. Zero
// fields mean no limit. NodeSpec.Resources applies them at creation.
type Resources struct {
	CPUs        float64 // cores (0.5 = half a core)
	MemoryBytes int64
}

// Shaping is what SetShaping applies inside a node's network namespace,
// through a short-lived helper container (evalrun/nettools, built offline
// from Debian's iproute2 and iptables) that joins it with NET_ADMIN. Zero
// fields apply nothing of that kind.
type Shaping struct {
	BandwidthBitsPerSec int64         // tbf on every interface but lo (egress)
	LossPercent         float64       // iptables statistic DROP of inbound packets, in a chain of evalrun's own
	Delay               time.Duration // netem delay (egress); only where HasNetem
}

// ErrNoNetem: the kernel has no netem qdisc, so a delay cannot be applied.
var ErrNoNetem = errors.New("this kernel has no netem qdisc (tc: Specified qdisc kind is unknown), so evalrun cannot add delay here")

// SetCPUs changes the node's CPU quota while it runs (docker update); 0
// restores no limit.
func (n *Node) SetCPUs(ctx context.Context, cpus float64) error {
	return errors.New("docker: SetCPUs: not implemented yet")
}

// Resources are the limits the node was created with.
func (n *Node) Resources() Resources { return n.spec.Resources }

// SetShaping replaces the node's shaping with s (a zero s clears it).
func (n *Node) SetShaping(ctx context.Context, s Shaping) error {
	return errors.New("docker: SetShaping: not implemented yet")
}

// NetState returns `tc qdisc show` and `iptables -S` as seen inside the
// node's network namespace, for tests and diagnostics.
func (n *Node) NetState(ctx context.Context) (string, error) {
	return "", errors.New("docker: NetState: not implemented yet")
}

// HasNetem reports whether the engine's kernel has the netem qdisc
// (checked once per Engine with a helper container in a network
// namespace of its own).
func (e *Engine) HasNetem(ctx context.Context) (bool, error) {
	return false, errors.New("docker: HasNetem: not implemented yet")
}
