package driverkit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/docker"
	"github.com/evalrun/evalrun/internal/errext"
)

// Per-node resources and gray failures, once for every docker driver: a
// node's container is created with its ClusterSpec resources (a driver's
// NodeSpec builder adds Resources: c.ContainerResources(name)), and Base
// is a drivers.ResourceLimiter and a drivers.Degrader through the Docker
// API (docker.Node.SetCPUs, SetShaping).

var (
	_ drivers.ResourceLimiter = (*Base[*Node])(nil)
	_ drivers.Degrader        = (*Base[*Node])(nil)
)

// limits is what the Base knows of the nodes' resources: the spec's, and
// what Degrade applied to which node (guarded by Base.mu).
type limits struct {
	all      drivers.Resources
	perNode  map[int]drivers.Resources
	degraded map[int]drivers.Degradation
	// shaperOf is how Degrade reaches a node's container; nil: its
	// docker.Node (a test puts a fake here).
	shaperOf func(n *Node) shaper
}

func limitsOf(spec drivers.ClusterSpec) limits {
	return limits{all: spec.Resources, perNode: spec.PerNode}
}

// shaper is what Degrade and Repair need of a node's container.
type shaper interface {
	SetCPUs(ctx context.Context, cpus float64) error
	SetShaping(ctx context.Context, s docker.Shaping) error
	Resources() docker.Resources
}

// NodeResources implements drivers.ResourceLimiter: the limits of node
// index by the spec (a node add-node started gets the cluster's).
func (b *Base[N]) NodeResources(index int) drivers.Resources {
	spec := drivers.ClusterSpec{Resources: b.limits.all, PerNode: b.limits.perNode}
	return spec.ResourcesOf(index)
}

// ContainerResources are the docker limits of the node called name
// (node<Index>), for its NodeSpec.Resources.
func (b *Base[N]) ContainerResources(name string) docker.Resources {
	index, err := strconv.Atoi(strings.TrimPrefix(name, "node"))
	if err != nil {
		return docker.Resources(b.limits.all)
	}
	return docker.Resources(b.NodeResources(index))
}

// Degraded lists what Degrade applied to the nodes not repaired since,
// by index.
func (b *Base[N]) Degraded() map[int]drivers.Degradation {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[int]drivers.Degradation, len(b.limits.degraded))
	for i, d := range b.limits.degraded {
		out[i] = d
	}
	return out
}

func (b *Base[N]) shaperOf(n N) shaper {
	if b.limits.shaperOf != nil {
		return b.limits.shaperOf(n.kit())
	}
	return n.kit().DN
}

func shapingOf(d drivers.Degradation) docker.Shaping {
	return docker.Shaping{BandwidthBitsPerSec: d.BandwidthBitsPerSec, LossPercent: d.LossPercent, Delay: d.Delay}
}

// Degrade implements drivers.Degrader: the CPU quota when d sets one, the
// shaping when d sets a network field; what an earlier degradation of
// the node applied and d does not is undone (Degrade replaces it). The
// node must be running. A node whose degrade failed half-way counts as
// degraded, so that Repair undoes what did apply.
func (b *Base[N]) Degrade(ctx context.Context, index int, d drivers.Degradation) error {
	return b.WithNode(ctx, index, "degrade", func(ctx context.Context, n N) error {
		if why := mustRun(b.State(n)); why != "" {
			return b.errf("degrade %s: %s", n.kit().Name, why)
		}
		before := b.Degraded()[index]
		// booked first: a repair undoes whatever part of it took
		b.mu.Lock()
		if b.limits.degraded == nil {
			b.limits.degraded = map[int]drivers.Degradation{}
		}
		b.limits.degraded[index] = merged(before, d)
		b.mu.Unlock()
		s := b.shaperOf(n)
		cpus := d.CPUs
		if cpus == 0 && before.CPUs > 0 {
			cpus = s.Resources().CPUs // its own quota back (0: none)
		}
		if d.CPUs > 0 || before.CPUs > 0 {
			if err := s.SetCPUs(ctx, cpus); err != nil {
				return b.errf("degrade %s: cpu: %w", n.kit().Name, err)
			}
		}
		if shapingOf(d) != (docker.Shaping{}) || shapingOf(before) != (docker.Shaping{}) {
			if err := s.SetShaping(ctx, shapingOf(d)); err != nil {
				return b.errf("degrade %s: network: %w", n.kit().Name, err)
			}
		}
		b.mu.Lock()
		b.limits.degraded[index] = d
		b.mu.Unlock()
		return nil
	})
}

// merged is what a node may carry while Degrade replaces before with d:
// every mechanism either applies, so that a repair after a failure
// undoes them all.
func merged(before, d drivers.Degradation) drivers.Degradation {
	m := d
	if m.CPUs == 0 {
		m.CPUs = before.CPUs
	}
	if shapingOf(m) == (docker.Shaping{}) && shapingOf(before) != (docker.Shaping{}) {
		m.BandwidthBitsPerSec, m.LossPercent, m.Delay = before.BandwidthBitsPerSec, before.LossPercent, before.Delay
	}
	return m
}

// Repair implements drivers.Degrader: the node's own CPU quota comes back
// (0: none) and its shaping goes. A node not degraded is left alone.
func (b *Base[N]) Repair(ctx context.Context, index int) error {
	return b.WithNode(ctx, index, "repair", func(ctx context.Context, n N) error {
		d, ok := b.Degraded()[index]
		if !ok {
			return nil
		}
		s := b.shaperOf(n)
		var errs []error
		if d.CPUs > 0 {
			if err := s.SetCPUs(ctx, s.Resources().CPUs); err != nil {
				errs = append(errs, fmt.Errorf("cpu: %w", err))
			}
		}
		if shapingOf(d) != (docker.Shaping{}) {
			if err := s.SetShaping(ctx, docker.Shaping{}); err != nil {
				errs = append(errs, fmt.Errorf("network: %w", err))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return b.errf("repair %s: %w", n.kit().Name, err)
		}
		b.mu.Lock()
		delete(b.limits.degraded, index)
		b.mu.Unlock()
		return nil
	})
}

// CheckDegrade implements drivers.DegradeChecker for a docker driver
// (CheckDockerDegrade).
func (d DockerDriver[O, C]) CheckDegrade(ctx context.Context, provider string, deg drivers.Degradation) error {
	if err := CheckDocker(d.DB, provider); err != nil {
		return err
	}
	return CheckDockerDegrade(ctx, d.DB, deg)
}

// CheckDockerDegrade says whether the Docker host can apply deg: a delay
// needs the netem qdisc, which the engine's kernel may lack. The other
// mechanisms (CPU quota, tbf, iptables) need nothing a Docker host lacks.
func CheckDockerDegrade(ctx context.Context, db string, deg drivers.Degradation) error {
	if deg.Delay <= 0 {
		return nil
	}
	e, err := docker.Connect(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", db, err)
	}
	return netemCheck(ctx, db, e.HasNetem)
}

// netemCheck turns the engine's answer on netem into the step's verdict:
// no netem is bad input (exit 2), in one line.
func netemCheck(ctx context.Context, db string, hasNetem func(context.Context) (bool, error)) error {
	ok, err := hasNetem(ctx)
	switch {
	case errors.Is(err, docker.ErrNoNetem) || err == nil && !ok:
		return errext.BadInput(fmt.Errorf("%s: degrade delay: %w", db, docker.ErrNoNetem),
			"remove delay from the degrade step (cpu, bandwidth and loss work without netem)")
	case err != nil:
		return fmt.Errorf("%s: degrade delay: cannot tell whether the kernel has netem: %w", db, err)
	}
	return nil
}
