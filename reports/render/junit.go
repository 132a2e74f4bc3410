package render

import (
	"encoding/xml"
	"fmt"

	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/judge"
)

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitCase struct {
	Class   string        `xml:"classname,attr"`
	Name    string        `xml:"name,attr"`
	Skipped *junitSkipped `xml:"skipped,omitempty"`
	Failure *junitFailure `xml:"failure,omitempty"`
}

type junitSuite struct {
	XMLName  xml.Name    `xml:"testsuite"`
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

// ComparisonJUnit renders the comparison as a JUnit XML report, which Jenkins,
// GitLab and GitHub display natively: every metric checked against a
// limit is a test case, a regression a failure with the numbers (a
// metric of too few runs to judge is skipped).
func ComparisonJUnit(c *judge.Comparison) ([]byte, error) {
	return marshalJUnit(suiteOf(c, fmt.Sprintf("evalrun compare: %s against %s", c.B, c.A)))
}

// JUnitSuites renders several comparisons (a history's verdicts, one per
// scenario) as one JUnit report of test suites.
func JUnitSuites(names []string, cs []*judge.Comparison) ([]byte, error) {
	type suites struct {
		XMLName xml.Name     `xml:"testsuites"`
		Suites  []junitSuite `xml:"testsuite"`
	}
	var s suites
	for i, c := range cs {
		s.Suites = append(s.Suites, suiteOf(c, names[i]))
	}
	return marshalJUnit(s)
}

func marshalJUnit(v any) ([]byte, error) {
	out, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("junit: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

func suiteOf(c *judge.Comparison, name string) junitSuite {
	s := junitSuite{Name: name}
	c.EachMetric(func(class string, m judge.MetricComparison) {
		if !m.Checked {
			return
		}
		tc := junitCase{Class: class, Name: m.Metric}
		if m.Regression {
			msg := fmt.Sprintf("%s: %s -> %s (%s, limit %s)", m.Metric, format.Value(m.Kind, m.A), format.Value(m.Kind, m.B), m.ChangeText, m.Limit)
			if st := m.Stat; st != nil && !st.Worst {
				msg = fmt.Sprintf("%s: median %s -> %s (%s, %s, p=%s n=%d+%d, limit %s)", m.Metric, format.Value(m.Kind, m.A), format.Value(m.Kind, m.B),
					m.ChangeText, judge.ShiftCIText(m), format.P(st.P), st.NA, st.NB, m.Limit)
			}
			tc.Failure = &junitFailure{Message: msg, Text: msg}
			s.Failures++
		}
		if m.Inconclusive {
			tc.Skipped = &junitSkipped{Message: "too few runs: " + judge.NeedRunsLine(c.Alpha)}
		}
		s.Cases = append(s.Cases, tc)
		s.Tests++
	})
	return s
}
