package runner

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/reports"
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
		var ev reports.Event
		if err := stepHandlers()[scenarios.ActRemoveNode](r, t.Context(), &plan.Steps[0], &ev, &opStep{}); err != nil {
			t.Fatal(err)
		}
		if c.left < tc.min || c.left > tc.max || ev.Node != 2 {
			t.Errorf("%q: RemoveNode of node %d had %v, want %v..%v", tc.yaml, ev.Node, c.left, tc.min, tc.max)
		}
	}
}
