package judge

import (
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/reports/internal/reporttest"
	"github.com/evalrun/evalrun/reports/model"
)

// consistencyOf is a checked history of 64 keys with the given verdict
// counts and promise.
func consistencyOf(promised string, linearizable bool, notLin, unknown int) *model.Consistency {
	c := &model.Consistency{
		Promised: promised, PromisedLinearizable: linearizable, PromisedSessions: linearizable,
		Checked: true, Keys: 64, Ops: 41203, BudgetPerKeyMs: 10_000,
		NotLinearizable: notLin, Unknown: unknown, Linearizable: 64 - notLin - unknown,
	}
	switch {
	case notLin > 0:
		c.Verdict = "not_linearizable"
		c.SafetyFailure = linearizable
	case unknown > 0:
		c.Verdict = "unknown"
	default:
		c.Verdict = "linearizable"
	}
	return c
}

func TestConsistencyVerdict(t *testing.T) {
	truncated := consistencyOf("linearizable", true, 0, 0)
	truncated.Truncated, truncated.TruncatedAtMs = true, 61_500
	notChecked := consistencyOf("linearizable", true, 0, 64)
	notChecked.Checked, notChecked.Verdict = false, "unknown"
	sessions := consistencyOf("linearizable", true, 0, 0)
	sessions.Sessions.ReadYourWrites = 2
	for _, tc := range []struct {
		name   string
		c      *model.Consistency
		want   string
		failed bool
	}{
		{"no history", nil, "", false},
		{"linearizable", consistencyOf("linearizable", true, 0, 0), "linearizable: yes (64 keys, 41,203 operations)", false},
		{"promised violation", consistencyOf("linearizable", true, 3, 0),
			"linearizable: no: 3 of 64 keys (promised: linearizable) → a safety failure", true},
		{"violation not promised", consistencyOf("eventual", false, 5, 0),
			"linearizable: no: 5 of 64 keys (not promised: eventual) → observed, as documented", false},
		{"no promise stated", consistencyOf("", false, 1, 0),
			"linearizable: no: 1 of 64 keys (not promised: the driver states none) → observed, as documented", false},
		{"violation and unknown", consistencyOf("linearizable", true, 1, 2),
			"linearizable: no: 1 of 64 keys (promised: linearizable) → a safety failure; 2 more unknown (ran out of the 10 s budget)", true},
		{"unknown", consistencyOf("linearizable", true, 0, 2),
			"linearizable: unknown: 2 of 64 keys ran out of the 10 s budget; the other 62 linearizable (41,203 operations)", false},
		{"not checked", notChecked,
			"linearizable: unknown: the check was not done (the run ended before it; 64 keys, 41,203 operations recorded)", false},
		{"truncated", truncated,
			"linearizable: yes (64 keys, 41,203 operations); truncated: the history holds only the operations invoked before 61.50s", false},
		{"promised sessions violated", sessions,
			"linearizable: yes (64 keys, 41,203 operations); session guarantees violated: 0 monotonic reads, 2 read your writes (promised) → a safety failure", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ConsistencyVerdict(tc.c); got != tc.want {
				t.Errorf("ConsistencyVerdict = %q\n want %q", got, tc.want)
			}
			if got := ConsistencyFailed(tc.c); got != tc.failed {
				t.Errorf("ConsistencyFailed = %t, want %t", got, tc.failed)
			}
		})
	}
}

// A promised violation fails the run as a lost write does; one not
// promised leaves the verdict alone.
func TestReportSafetyVerdict(t *testing.T) {
	a := reporttest.Read(t, "report-a.json")
	base, baseLoss := SafetyVerdict(a.Safety, a.Phases)
	if baseLoss || !strings.HasPrefix(base, "OK — ") {
		t.Fatalf("fixture report-a is not OK: %q", base)
	}
	for _, tc := range []struct {
		name       string
		c          *model.Consistency
		lost       int64
		wantPrefix string
		wantFail   bool
		wantHas    string
	}{
		{"no history", nil, 0, "OK — ", false, ""},
		{"linearizable", consistencyOf("linearizable", true, 0, 0), 0, "OK — ", false, ""},
		{"not promised", consistencyOf("eventual", false, 5, 0), 0, "OK — ", false, ""},
		{"unknown", consistencyOf("linearizable", true, 0, 3), 0, "OK — ", false, ""},
		{"promised", consistencyOf("linearizable", true, 3, 0), 0, "NOT LINEARIZABLE — ", true, "; not linearizable: 3 of 64 keys (promised: linearizable)"},
		{"promised and lost", consistencyOf("linearizable", true, 3, 0), 2, "DATA LOSS — ", true, "; not linearizable: 3 of 64 keys (promised: linearizable)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := reporttest.Clone(t, a)
			r.Consistency = tc.c
			r.Safety.Lost = tc.lost
			got, fail := ReportSafetyVerdict(r)
			if fail != tc.wantFail || !strings.HasPrefix(got, tc.wantPrefix) {
				t.Errorf("ReportSafetyVerdict = %q, %t; want prefix %q, %t", got, fail, tc.wantPrefix, tc.wantFail)
			}
			if tc.wantHas != "" && !strings.Contains(got, tc.wantHas) {
				t.Errorf("verdict %q lacks %q", got, tc.wantHas)
			}
			if tc.wantHas == "" && strings.Contains(got, "linearizable") {
				t.Errorf("verdict %q speaks of linearizability without a failure", got)
			}
		})
	}
}

func TestCompareConsistency(t *testing.T) {
	a := reporttest.Read(t, "report-a.json")
	for _, tc := range []struct {
		name       string
		ca, cb     *model.Consistency
		lim        Limits
		regression bool
		note       string // part of a note, "" for none about it
		observedB  float64
	}{
		{"both linearizable", consistencyOf("linearizable", true, 0, 0), consistencyOf("linearizable", true, 0, 0), nil, false, "", 0},
		{"new promised violation", consistencyOf("linearizable", true, 0, 0), consistencyOf("linearizable", true, 3, 0), nil, true, "", 0},
		{"promised violation within lost=5", consistencyOf("linearizable", true, 0, 0), consistencyOf("linearizable", true, 3, 0), Limits{"lost": 5}, false, "", 0},
		{"same promised violation", consistencyOf("linearizable", true, 3, 0), consistencyOf("linearizable", true, 3, 0), nil, false, "", 0},
		{"new violation not promised", consistencyOf("eventual", false, 0, 0), consistencyOf("eventual", false, 5, 0), nil, false, "", 5},
		{"unknown where A was linearizable", consistencyOf("linearizable", true, 0, 0), consistencyOf("linearizable", true, 0, 2), nil, false, "B's linearizability is unknown", 0},
		{"only B has a history", nil, consistencyOf("linearizable", true, 3, 0), nil, false, "only B checked a history", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ra, rb := reporttest.Clone(t, a), reporttest.Clone(t, a)
			ra.Consistency, rb.Consistency = tc.ca, tc.cb
			c := Compare(ra, rb, tc.lim)
			if c.Regressed() != tc.regression {
				t.Errorf("regressed %t (%q), want %t", c.Regressed(), c.Regressions, tc.regression)
			}
			if tc.regression && !strings.Contains(strings.Join(c.Regressions, "\n"), MetricNotLinearizablePromised) {
				t.Errorf("regressions %q do not name %s", c.Regressions, MetricNotLinearizablePromised)
			}
			notes := strings.Join(c.Notes, "\n")
			if tc.note != "" && !strings.Contains(notes, tc.note) {
				t.Errorf("notes %q lack %q", notes, tc.note)
			}
			var observed *MetricComparison
			for i, m := range c.Safety {
				if m.Metric == MetricNotLinearizableObserved {
					observed = &c.Safety[i]
				}
			}
			if observed == nil || observed.B != tc.observedB || observed.Checked {
				t.Errorf("observed violations metric %+v; want B %g, never checked", observed, tc.observedB)
			}
		})
	}
	// Without a history on either side there is nothing to say.
	c := Compare(a, a, nil)
	for _, m := range c.Safety {
		if strings.Contains(m.Metric, "linearizab") {
			t.Errorf("a comparison without histories shows %s", m.Metric)
		}
	}
}

// The nightly history (run sets): a promised violation in the latest
// night's worst run is a regression like a lost key, and a headline
// metric; one not promised is not.
func TestHistoryConsistency(t *testing.T) {
	for _, tc := range []struct {
		name       string
		latest     *model.Consistency
		regression bool
	}{
		{"linearizable", consistencyOf("linearizable", true, 0, 0), false},
		{"promised violation", consistencyOf("linearizable", true, 2, 0), true},
		{"not promised", consistencyOf("eventual", false, 7, 0), false},
		{"unknown", consistencyOf("linearizable", true, 0, 4), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var nights []Night
			for i := range 3 {
				runs := reporttest.SynthRuns(t, 5, 1, i, reporttest.Night0().Add(time.Duration(i)*24*time.Hour))
				for j, r := range runs {
					r.Consistency = consistencyOf("linearizable", true, 0, 0)
					if i == 2 && j == 3 {
						r.Consistency = tc.latest
					}
				}
				nights = append(nights, Night{Path: "night", Set: SetOfReports("night", runs...)})
			}
			h := BuildHistory(nights, 7, nil, 0.05)
			if len(h.Scenarios) != 1 || h.Scenarios[0].Verdict == nil {
				t.Fatalf("history %+v has no verdict", h.Scenarios)
			}
			v := h.Scenarios[0].Verdict
			if h.Regressed() != tc.regression {
				t.Errorf("regressed %t (%q), want %t", h.Regressed(), v.Regressions, tc.regression)
			}
			found := false
			for _, m := range v.Safety {
				if m.Metric == MetricNotLinearizablePromised {
					found = m.Checked
				}
			}
			if !found {
				t.Errorf("the history verdict does not check %s: %+v", MetricNotLinearizablePromised, v.Safety)
			}
		})
	}
	if !Headline(model.SetMetric{Group: model.GroupSafety, Metric: MetricNotLinearizablePromised}) ||
		Headline(model.SetMetric{Group: model.GroupSafety, Metric: MetricNotLinearizableObserved}) {
		t.Error("a promised violation is a headline metric, an observed one is not")
	}
}
