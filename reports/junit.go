package reports

import (
	"encoding/xml"
	"fmt"
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

// JUnit renders the comparison as a JUnit XML report, which Jenkins,
// GitLab and GitHub display natively: every metric checked against a
// limit is a test case, a regression a failure with the numbers (a
// metric of too few runs to judge is skipped).
func (c *Comparison) JUnit() ([]byte, error) {
	return marshalJUnit(c.junitSuite(fmt.Sprintf("evalrun compare: %s against %s", c.B, c.A)))
}

// JUnitSuites renders several comparisons (a history's verdicts, one per
// scenario) as one JUnit report of test suites.
func JUnitSuites(names []string, cs []*Comparison) ([]byte, error) {
	type suites struct {
		XMLName xml.Name     `xml:"testsuites"`
		Suites  []junitSuite `xml:"testsuite"`
	}
	var s suites
	for i, c := range cs {
		s.Suites = append(s.Suites, c.junitSuite(names[i]))
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

func (c *Comparison) junitSuite(name string) junitSuite {
	s := junitSuite{Name: name}
	c.eachMetric(func(class string, m MetricComparison) {
		if !m.Checked {
			return
		}
		tc := junitCase{Class: class, Name: m.Metric}
		if m.Regression {
			msg := fmt.Sprintf("%s: %s -> %s (%s, limit %s)", m.Metric, fmtValue(m.Kind, m.A), fmtValue(m.Kind, m.B), m.ChangeText, m.Limit)
			if st := m.Stat; st != nil && !st.Worst {
				msg = fmt.Sprintf("%s: median %s -> %s (%s, %s, p=%s n=%d+%d, limit %s)", m.Metric, fmtValue(m.Kind, m.A), fmtValue(m.Kind, m.B),
					m.ChangeText, shiftCIText(m), fmtP(st.P), st.NA, st.NB, m.Limit)
			}
			tc.Failure = &junitFailure{Message: msg, Text: msg}
			s.Failures++
		}
		if m.Inconclusive {
			tc.Skipped = &junitSkipped{Message: "too few runs: " + NeedRunsLine(c.Alpha)}
		}
		s.Cases = append(s.Cases, tc)
		s.Tests++
	})
	return s
}
