package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/reports/model"
)

// TestPrintSummaryShowsHandoffAndNotFoundByPhase: the terminal summary
// carries what a Riak run is about (handoff, not-found reads per phase,
// siblings) and leaves them out when there is nothing to say.
func TestPrintSummaryShowsHandoffAndNotFoundByPhase(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	r := &model.Report{
		Phases: []model.Phase{
			{Name: "baseline", Total: model.OpStats{Count: 100}},
			{Name: "fault", Total: model.OpStats{Count: 100, NotFoundAcked: 95}},
			{Name: "recovery", Total: model.OpStats{Count: 100, NotFoundAcked: 23}},
		},
		Operational: []model.Operational{
			{Step: "kill", Node: 1, AtMs: 15000, Kind: "fault", TimeToFirstErrorMs: i64(3900), UnavailableMs: i64(0), RecoveryToBaselineMs: i64(4000)},
			{Step: "start", Node: 1, AtMs: 32000, Kind: "recovery", TimeToFirstErrorMs: i64(-1), UnavailableMs: i64(0), RecoveryToBaselineMs: i64(47000),
				HandoffMs: i64(66800), HandoffPartitions: i64(10)},
			{Step: "add-node", Node: 4, AtMs: 60000, Kind: "membership", DurationMs: i64(1000), HandoffPartitions: i64(5)},
		},
		Safety: model.Safety{Acknowledged: 10, Verified: 10, Checked: true, NotFoundReads: 118, Siblings: 7},
	}
	var b bytes.Buffer
	printSummary(&b, r)
	out := b.String()
	for _, want := range []string{
		"handoff 66.80s (10 partitions)", "handoff not done (5 partitions)",
		"118 not-found reads of acknowledged keys during the run (by phase: fault 95, recovery 23); 7 reads with siblings",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "handoff") != 2 {
		t.Errorf("the kill line has no handoff to show:\n%s", out)
	}
}

// The summary says the report's one verdict: a run that lost data and
// ended before the final read-back is DATA LOSS, not "not checked"
// (issue 11: the CLI re-derived it with the other precedence).
func TestPrintSummarySafetyVerdict(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    model.Safety
		want string
	}{
		{"loss outranks not checked", model.Safety{Lost: 3, Checked: false}, "safety: DATA LOSS — "},
		{"stale is loss", model.Safety{Stale: 1, Checked: true}, "safety: DATA LOSS — "},
		{"not checked", model.Safety{Checked: false}, "safety: NOT CHECKED"},
		{"stale reads are not OK", model.Safety{Acknowledged: 5, Verified: 5, Checked: true, StaleReads: 2}, "safety: STALE READS — "},
		{"stale on the read path is not OK", model.Safety{Acknowledged: 5, Verified: 5, Checked: true, ReadStale: 1}, "safety: STALE READS — "},
		{"ok", model.Safety{Acknowledged: 5, Verified: 5, Checked: true}, "safety: OK — "},
	} {
		var b bytes.Buffer
		printSummary(&b, &model.Report{Safety: tc.s})
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("%s: summary lacks %q:\n%s", tc.name, tc.want, b.String())
		}
	}
}
