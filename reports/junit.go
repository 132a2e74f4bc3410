package reports

import (
	"encoding/xml"
	"fmt"
)

// JUnit renders the comparison as a JUnit XML report, which Jenkins,
// GitLab and GitHub display natively: every metric checked against a
// limit is a test case, a regression a failure with the numbers.
func (c *Comparison) JUnit() ([]byte, error) {
	type failure struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type testCase struct {
		Class   string   `xml:"classname,attr"`
		Name    string   `xml:"name,attr"`
		Failure *failure `xml:"failure,omitempty"`
	}
	type suite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Cases    []testCase `xml:"testcase"`
	}
	s := suite{Name: fmt.Sprintf("evalrun compare: %s against %s", c.B, c.A)}
	add := func(class string, m MetricComparison) {
		if !m.Checked {
			return
		}
		tc := testCase{Class: class, Name: m.Metric}
		if m.Regression {
			msg := fmt.Sprintf("%s: %s -> %s (%s, limit %s)", m.Metric, fmtValue(m.Kind, m.A), fmtValue(m.Kind, m.B), m.ChangeText, m.Limit)
			tc.Failure = &failure{Message: msg, Text: msg}
			s.Failures++
		}
		s.Cases = append(s.Cases, tc)
		s.Tests++
	}
	for _, p := range c.Phases {
		for _, op := range p.Ops {
			for _, m := range op.Metrics {
				add("phase "+p.Name+"."+op.Op, m)
			}
		}
	}
	for _, o := range c.Operational {
		class := "operational " + o.Step
		if o.Node > 0 {
			class += fmt.Sprintf(" n%d", o.Node)
		}
		if o.N > 1 {
			class += fmt.Sprintf(" #%d", o.N)
		}
		for _, m := range o.Metrics {
			add(class, m)
		}
	}
	for _, m := range c.Safety {
		add("safety", m)
	}
	out, err := xml.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("junit: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}
