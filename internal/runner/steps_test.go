package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/scenarios"
)

// Every action of scenarios' table has a handler, and every handler does
// an action of the table: an action is one row there and one here.
func TestEveryActionHasAHandler(t *testing.T) {
	handlers := stepHandlers()
	actions := scenarios.ActionNames()
	for _, a := range actions {
		if handlers[a] == nil {
			t.Errorf("action %q has no handler in stepHandlers", a)
		}
	}
	for name := range handlers {
		if !slices.Contains(actions, name) {
			t.Errorf("handler %q does no action of scenarios' table", name)
		}
	}
}

// membershipCluster records the time left to each RemoveNode.
type membershipCluster struct {
	drivers.Cluster
	left time.Duration
}

func (c *membershipCluster) AddNode(context.Context) (int, error) { return 0, errors.New("not here") }
func (c *membershipCluster) RemoveNode(ctx context.Context, _ int) error {
	dl, _ := ctx.Deadline()
	c.left = time.Until(dl)
	return nil
}

// remove-node gets the timeout its step gives, the default without one
// (issue 19: the constant was used whatever the step said).
func TestRemoveNodeTakesItsStepsTimeout(t *testing.T) {
	for _, tc := range []struct {
		yaml     string
		min, max time.Duration
	}{
		{"remove-node: {node: 2, timeout: 10m}", 9 * time.Minute, 10 * time.Minute},
		{"remove-node: 2\n    timeout: 30s", 20 * time.Second, 30 * time.Second},
		{"remove-node: 2", defaultRemoveNodeTimeout - time.Minute, defaultRemoveNodeTimeout},
	} {
		plan, err := scenarios.Parse("t.yaml", []byte("name: t\ncluster: {nodes: 3}\nworkload: {mix: {read: 1}, keys: 1, rate: 1}\nsteps:\n  - "+tc.yaml+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		c := &membershipCluster{}
		r := &run{cluster: c}
		r.nodes.started(nil, 3)
		var ev model.Event
		if err := stepHandlers()[scenarios.ActRemoveNode](r, t.Context(), &plan.Steps[0], &ev, &opStep{}); err != nil {
			t.Fatal(err)
		}
		if c.left < tc.min || c.left > tc.max || ev.Node != 2 {
			t.Errorf("%q: RemoveNode of node %d had %v, want %v..%v", tc.yaml, ev.Node, c.left, tc.min, tc.max)
		}
	}
}

// partitionCluster records the groups of each Partition.
type partitionCluster struct {
	drivers.Cluster
	groups [][]int
}

func (c *partitionCluster) Partition(_ context.Context, groups [][]int) error {
	c.groups = groups
	return nil
}
func (c *partitionCluster) Heal(context.Context) error { return nil }

// isolate cuts the node it names off from all the others, whatever nodes
// the steps added or removed before.
func TestIsolateCutsOneNodeOff(t *testing.T) {
	for _, tc := range []struct {
		book func(*nodeBook)
		node int
		want string
	}{
		{func(*nodeBook) {}, 2, "[[1 3] [2]]"},
		{func(b *nodeBook) { b.add(4); b.remove(1) }, 4, "[[2 3] [4]]"},
		{func(b *nodeBook) { b.mark(3, false) }, 1, "[[2 3] [1]]"}, // a node that is down stays in the others' group
	} {
		c := &partitionCluster{}
		r := &run{cluster: c}
		r.nodes.started(nil, 3)
		tc.book(&r.nodes)
		s := scenarios.Step{Action: scenarios.ActIsolate, Node: &scenarios.NodeRef{Index: tc.node}}
		var ev model.Event
		if err := stepHandlers()[scenarios.ActIsolate](r, t.Context(), &s, &ev, &opStep{}); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(c.groups); got != tc.want || ev.Detail != tc.want || ev.Node != tc.node {
			t.Errorf("isolate %d: groups %s, detail %q, node %d; want %s", tc.node, got, ev.Detail, ev.Node, tc.want)
		}
	}
}
