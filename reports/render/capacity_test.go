package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/internal/reporttest"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
)

func TestCapacityGolden(t *testing.T) {
	r := reporttest.CapacityReport(t, 600, 0)
	md, err := Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "report-capacity.md", md)
	page, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "report-capacity.html", page)
	again, _ := HTML(r)
	if !bytes.Equal(page, again) {
		t.Fatal("HTML is not deterministic")
	}
	checkNoFloatNoise(t, string(page))
	for _, want := range []string{"<h2>Capacity</h2>", "the knee", "SLO p99 20ms", "max held 565.7 ops/s", "capacity: 565.7 ops/s held, 800 ops/s broke"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// TestCapacityResultLine: the result never names a rate no stage showed.
func TestCapacityResultLine(t *testing.T) {
	tests := []struct {
		name              string
		capacity, maxRate float64
		want, notWant     string
	}{
		{name: "found", capacity: 600, want: "capacity: 565.7 ops/s held, 800 ops/s broke (SLO p99=20ms"},
		{name: "first stage broke", capacity: 50, want: "capacity: unknown, below the start rate: the first stage (100 ops/s) already broke", notWant: "held"},
		{name: "max rate held", capacity: 1e9, maxRate: 400, want: "capacity: not reached: every stage held, up to 400 ops/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := reporttest.CapacityReport(t, tt.capacity, tt.maxRate)
			got := CapacityResultLine(r.Capacity)
			md, _ := Markdown(r)
			if !strings.HasPrefix(got, tt.want) || (tt.notWant != "" && strings.Contains(got, tt.notWant)) || !strings.Contains(string(md), got) {
				t.Fatalf("result line %q, want %q (and in the Markdown)", got, tt.want)
			}
		})
	}
	c := &model.Capacity{Result: model.CapacityIncomplete, SLO: model.SLO{Text: "p99=1ms"}}
	if got := CapacityResultLine(c); !strings.HasPrefix(got, "capacity: unknown: no stage was judged") {
		t.Fatalf("no stage: %q", got)
	}
}

func TestCapacityCompareGolden(t *testing.T) {
	a, b := reporttest.CapacityReport(t, 600, 0), reporttest.CapacityReport(t, 300, 0) // healthy, degraded
	c := judge.Compare(a, b, nil)
	reporttest.Golden(t, "compare-capacity.md", ComparisonMarkdown(c))
	txt := ComparisonText(c)
	for _, want := range []string{"max rate held: A 565.7 ops/s, B 282.8 ops/s (-50.0%): REGRESSION (limit -10%)", "no statistics"} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q:\n%s", want, txt)
		}
	}
	x, err := ComparisonJUnit(c)
	if err != nil || !bytes.Contains(x, []byte("capacity")) {
		t.Fatalf("JUnit has no capacity case: %v\n%s", err, x)
	}
}

func TestCapacityWriteAllRoundTrip(t *testing.T) {
	dir := t.TempDir()
	r := reporttest.CapacityReport(t, 600, 0)
	if err := WriteAll(dir, r); err != nil {
		t.Fatal(err)
	}
	back, err := reports.ReadJSON(dir + "/report.json")
	if err != nil {
		t.Fatal(err)
	}
	c := back.Capacity
	if c == nil || len(c.Stages) != len(r.Capacity.Stages) || *c.MaxHeldRate != 565.7 || *c.FirstBrokenRate != 800 || c.Result != model.CapacityFound || c.SLO != r.Capacity.SLO {
		t.Fatalf("read back %+v", c)
	}
	old := reporttest.Read(t, "report-a.json") // a report from before capacity reads without one
	if old.Capacity != nil {
		t.Fatal("an old report grew a capacity section")
	}
}
