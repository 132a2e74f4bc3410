package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/scenarios"
)

// Gray failures: the degrade and repair steps, the check at run start
// that the machine can apply every degrade step, and the per-node
// resources the report records.

// checkDegrades is CheckDegrades at the start of Run, for a caller that
// did not check before.
func (r *run) checkDegrades(ctx context.Context) error {
	return CheckDegrades(ctx, r.plan, r.o.Driver, r.o.Provider)
}

// CheckDegrades asks driver (when it is a drivers.DegradeChecker) whether
// this machine can apply each degrade step of plan on provider, before
// anything starts: a step it cannot apply (a delay without netem) is one
// line naming the step's line, bad input (exit 2) when the machine lacks
// what it needs. evalrun run calls it before it creates anything; Run
// calls it again first.
func CheckDegrades(ctx context.Context, plan *scenarios.Plan, driver drivers.Driver, provider string) error {
	dc, ok := driver.(drivers.DegradeChecker)
	if !ok {
		return nil
	}
	for _, s := range plan.Steps {
		if s.Action != scenarios.ActDegrade || s.Degrade == nil {
			continue
		}
		if err := dc.CheckDegrade(ctx, provider, *s.Degrade); err != nil {
			return scenarios.StepError(plan, s, err)
		}
	}
	return nil
}

// degrade makes the node the step names slow; the event says what it
// applied ("node2: cpu 0.05, loss 3%").
func (r *run) degrade(ctx context.Context, s *scenarios.Step, ev *model.Event, _ *opStep) error {
	dg, idx, err := capableNode[drivers.Degrader](r, ctx, s, ev)
	if err != nil {
		return err
	}
	if s.Degrade == nil {
		return errors.New("degrade step says nothing to degrade")
	}
	ev.Detail = fmt.Sprintf("node%d: %s", idx, scenarios.DegradationText(*s.Degrade))
	if err := dg.Degrade(ctx, idx, *s.Degrade); err != nil {
		return err
	}
	r.nodes.degrade(idx)
	return nil
}

// repair gives the node the step names its own resources back.
func (r *run) repair(ctx context.Context, s *scenarios.Step, ev *model.Event, _ *opStep) error {
	dg, idx, err := capableNode[drivers.Degrader](r, ctx, s, ev)
	if err != nil {
		return err
	}
	if err := dg.Repair(ctx, idx); err != nil {
		return err
	}
	ev.Detail = fmt.Sprintf("node%d: its own resources back", idx)
	r.nodes.repair(idx)
	return nil
}

// degrade records that a step degraded idx.
func (b *nodeBook) degrade(idx int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.degraded = append(slices.DeleteFunc(b.degraded, func(i int) bool { return i == idx }), idx)
}

// repair records that a step repaired idx.
func (b *nodeBook) repair(idx int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.degraded = slices.DeleteFunc(b.degraded, func(i int) bool { return i == idx })
}

// lastDegraded is the node "degraded" names; b.mu is held.
func (b *nodeBook) lastDegraded() (int, error) {
	if len(b.degraded) == 0 {
		return 0, errors.New("no node is degraded")
	}
	return b.degraded[len(b.degraded)-1], nil
}

// recordResources writes cluster.resources into the report's driver
// config ("resources": "cpus 0.5, memory 512m; node2: cpus 1, memory
// 512m"), so that a report says what size of machine each node modelled
// and compare sees two runs of different sizes.
func (r *run) recordResources() {
	text := resourcesText(r.plan.Cluster)
	if text == "" {
		return
	}
	if r.rep.Driver.Config == nil {
		r.rep.Driver.Config = map[string]string{}
	}
	r.rep.Driver.Config["resources"] = text
}

func resourcesText(c scenarios.Cluster) string {
	var parts []string
	if !c.Resources.IsZero() {
		parts = append(parts, limitText(c.Resources))
	}
	idx := make([]int, 0, len(c.PerNode))
	for i := range c.PerNode {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		parts = append(parts, fmt.Sprintf("node%d: %s", i, limitText(c.PerNode[i])))
	}
	return strings.Join(parts, "; ")
}

func limitText(res drivers.Resources) string {
	var parts []string
	if res.CPUs > 0 {
		parts = append(parts, fmt.Sprintf("cpus %g", res.CPUs))
	}
	if m := res.MemoryBytes; m > 0 {
		switch {
		case m%(1<<30) == 0:
			parts = append(parts, fmt.Sprintf("memory %dg", m>>30))
		case m%(1<<20) == 0:
			parts = append(parts, fmt.Sprintf("memory %dm", m>>20))
		default:
			parts = append(parts, fmt.Sprintf("memory %d", m))
		}
	}
	if len(parts) == 0 {
		return "no limit"
	}
	return strings.Join(parts, ", ")
}
