package model

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// An outcome is written as the string schema v1 always had, and every
// outcome an old report holds reads back.
func TestOutcomeKeepsItsStringForm(t *testing.T) {
	for _, tc := range []struct {
		outcome Outcome
		json    string
		ok      bool
		word    string
	}{
		{OutcomeOK, `"ok"`, true, "ok"},
		{OutcomeError(errors.New("node3: connection refused")), `"error: node3: connection refused"`, false, "error"},
		{OutcomeNotSupported, `"not supported by this driver"`, false, "not supported by this driver"},
		{OutcomeObserved("replication stopped"), `"observed: replication stopped"`, false, "observed"},
		{"skipped: the cluster did not start", `"skipped: the cluster did not start"`, false, "skipped"}, // an old report's
		{"", `""`, true, ""}, // an old report without one
	} {
		b, err := json.Marshal(Event{Outcome: tc.outcome})
		if err != nil || !strings.Contains(string(b), `"outcome":`+tc.json) {
			t.Errorf("%q: marshalled as %s (%v)", tc.outcome, b, err)
		}
		var back Event
		if err := json.Unmarshal(b, &back); err != nil || back.Outcome != tc.outcome {
			t.Errorf("%q: read back as %q (%v)", tc.outcome, back.Outcome, err)
		}
		if back.Outcome.OK() != tc.ok || back.Outcome.Word() != tc.word {
			t.Errorf("%q: OK %v word %q, want %v %q", tc.outcome, back.Outcome.OK(), back.Outcome.Word(), tc.ok, tc.word)
		}
	}
}
