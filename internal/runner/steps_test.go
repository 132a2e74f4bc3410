package runner

import (
	"slices"
	"testing"

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
