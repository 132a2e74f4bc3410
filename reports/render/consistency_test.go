package render

import (
	"strings"
	"testing"

	"github.com/evalrun/evalrun/reports/internal/reporttest"
	"github.com/evalrun/evalrun/reports/model"
)

// consistencyFixture is a checked history of 64 keys: notLin keys not
// linearizable, unknown keys out of budget, under the given promise.
func consistencyFixture(promised string, linearizable bool, notLin, unknown int) *model.Consistency {
	c := &model.Consistency{
		Promised: promised, PromisedLinearizable: linearizable, PromisedSessions: linearizable,
		Checked: true, Keys: 64, Ops: 41203, BudgetPerKeyMs: 10_000,
		Linearizable: 64 - notLin - unknown, NotLinearizable: notLin, Unknown: unknown,
		CheckCPUMs: 1840, CheckWallMs: 920, CheckPeakHeapB: 48 << 20,
		Sessions: model.SessionGuarantees{Clients: 32, Reads: 20_601},
	}
	switch {
	case notLin > 0:
		c.Verdict, c.SafetyFailure = "not_linearizable", linearizable
	case unknown > 0:
		c.Verdict = "unknown"
	default:
		c.Verdict = "linearizable"
	}
	return c
}

// replicaReads is MariaDB read from replicas while one was paused: not
// linearizable, not promised, session guarantees violated, with the
// anomaly's operations, a visualization and a truncated history.
func replicaReads() *model.Consistency {
	c := consistencyFixture("eventual (asynchronous replicas)", false, 2, 1)
	c.PromiseDetail = "reads from replicas (read-from=replicas: the live replicas in turn): asynchronous replication, a replica may be behind the primary"
	c.Truncated, c.TruncatedAtMs = true, 58_250
	c.Findings = []model.ConsistencyFinding{
		{Key: "k000123", KeyIdx: 123, Ops: 812, Verdict: "not_linearizable", Visualization: "linearizability/k000123.html",
			Anomaly: []model.HistoryOp{
				{Client: 7, Op: "put", InvokeMs: 30_012.25, ReturnMs: 30_014.5, Value: 4411, Outcome: "ok", Node: 1},
				{Client: 3, Op: "get", InvokeMs: 30_020, ReturnMs: 30_021.125, Value: 4411, Outcome: "ok", Node: 2},
				{Client: 3, Op: "get", InvokeMs: 30_030, ReturnMs: 30_031, Value: 4398, Outcome: "ok", Node: 3},
			}},
		{Key: "k000200", KeyIdx: 200, Ops: 640, Verdict: "not_linearizable"},
		{Key: "k000321", KeyIdx: 321, Ops: 9120, Verdict: "unknown", Reason: "the 10s budget ran out"},
	}
	c.Sessions.MonotonicReads, c.Sessions.ReadYourWrites = 14, 3
	c.Sessions.Examples = []model.SessionViolation{{
		Guarantee: "monotonic-reads", Client: 3, Key: "k000123",
		First: model.HistoryOp{Client: 3, Op: "get", InvokeMs: 30_020, ReturnMs: 30_021.125, Value: 4411, Outcome: "ok", Node: 2},
		Then:  model.HistoryOp{Client: 3, Op: "get", InvokeMs: 30_030, ReturnMs: 30_031, Value: 4398, Outcome: "ok", Node: 3},
	}}
	return c
}

func TestConsistencyGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    *model.Consistency
	}{
		{"report-consistency-replicas", replicaReads()},
		{"report-consistency-failure", func() *model.Consistency {
			c := replicaReads()
			c.Promised, c.PromisedLinearizable, c.PromisedSessions, c.SafetyFailure = "linearizable", true, true, true
			c.PromiseDetail = "read-from=primary"
			return c
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := reporttest.Clone(t, reporttest.Read(t, "report-a.json"))
			r.Consistency = tc.c
			md, err := Markdown(r)
			if err != nil {
				t.Fatal(err)
			}
			reporttest.Golden(t, tc.name+".md", md)
			page, err := HTML(r)
			if err != nil {
				t.Fatal(err)
			}
			reporttest.Golden(t, tc.name+".html", page)
		})
	}
}

// Each verdict reads as the issue words it, in the summary near the top
// and in the section; a promised violation raises the banner, and a run
// without a history has no section.
func TestConsistencySection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		c       *model.Consistency
		verdict string // "" : no section
		banner  bool
	}{
		{"no history", nil, "", false},
		{"linearizable", consistencyFixture("linearizable", true, 0, 0), "linearizable: yes (64 keys, 41,203 operations)", false},
		{"promised violation", consistencyFixture("linearizable", true, 3, 0), "linearizable: no: 3 of 64 keys (promised: linearizable) → a safety failure", true},
		{"not promised", consistencyFixture("eventual", false, 5, 0), "linearizable: no: 5 of 64 keys (not promised: eventual) → observed, as documented", false},
		{"unknown", consistencyFixture("linearizable", true, 0, 2), "linearizable: unknown: 2 of 64 keys ran out of the 10 s budget", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := reporttest.Clone(t, reporttest.Read(t, "report-a.json"))
			r.Consistency = tc.c
			mdBytes, err := Markdown(r)
			if err != nil {
				t.Fatal(err)
			}
			pageBytes, err := HTML(r)
			if err != nil {
				t.Fatal(err)
			}
			md, page := string(mdBytes), string(pageBytes)
			if tc.verdict == "" {
				for _, out := range []string{md, page} {
					if strings.Contains(out, "Consistency (linearizability)") || strings.Contains(out, "Consistency") {
						t.Error("a run without a history shows a consistency section or line")
					}
				}
				return
			}
			summary, _, found := strings.Cut(md, "## Events")
			if !found {
				t.Fatal("the Markdown has no Events section")
			}
			if !strings.Contains(summary, "- **Consistency:** "+tc.verdict) {
				t.Errorf("the Markdown summary lacks %q:\n%s", tc.verdict, summary)
			}
			if !strings.Contains(md, "## Consistency (linearizability)") || !strings.Contains(page, "<h2>Consistency (linearizability)</h2>") {
				t.Error("no Consistency (linearizability) section")
			}
			if !strings.Contains(page, tc.verdict) {
				t.Errorf("the page lacks %q", tc.verdict)
			}
			if got := strings.Contains(md, "> **NOT LINEARIZABLE**"); got != tc.banner {
				t.Errorf("Markdown banner %t, want %t", got, tc.banner)
			}
			if got := strings.Contains(page, "NOT LINEARIZABLE (a safety failure)"); got != tc.banner {
				t.Errorf("HTML banner %t, want %t", got, tc.banner)
			}
			if got := strings.Contains(summary, "**NOT LINEARIZABLE**"); got != tc.banner {
				t.Errorf("the safety line says NOT LINEARIZABLE: %t, want %t", got, tc.banner)
			}
		})
	}
}

// A key name and a reason are text, never markup.
func TestConsistencyEscapes(t *testing.T) {
	r := reporttest.Clone(t, reporttest.Read(t, "report-a.json"))
	r.Consistency = consistencyFixture("linearizable", true, 1, 0)
	r.Consistency.Findings = []model.ConsistencyFinding{{Key: "k<b>|1", Verdict: "not_linearizable", Reason: "a|b<i>"}}
	md, _ := Markdown(r)
	page, _ := HTML(r)
	if strings.Contains(string(md), "<b>") || !strings.Contains(string(md), `k&lt;b>\|1`) {
		t.Errorf("Markdown does not escape the key:\n%s", md)
	}
	if strings.Contains(string(page), "<b>|1") || strings.Contains(string(page), "<i>") {
		t.Error("HTML does not escape the key or the reason")
	}
}
