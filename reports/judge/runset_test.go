package judge

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/internal/reporttest"
	"github.com/evalrun/evalrun/reports/model"
)

func TestCompareSetsSaysTheSize(t *testing.T) {
	a := SetOfReports("A", reporttest.SynthRuns(t, 6, 1, 0, reporttest.Night0())...)
	b := SetOfReports("B", reporttest.SynthRuns(t, 6, 1.15, 3, reporttest.Night0())...)
	c := CompareSets(a, b, nil, 0.05)
	var p99 *MetricComparison
	c.EachMetric(func(class string, m MetricComparison) {
		if class == "phase baseline.all" && m.Metric == "p99" {
			p99 = &m
		}
	})
	if p99 == nil || !p99.Regression {
		t.Fatalf("baseline/all p99 not flagged: %+v", p99)
	}
	if p99.Change < 12 || p99.Change > 18 {
		t.Errorf("change %.1f%%, want about +15%%", p99.Change)
	}
	ci := ShiftCIText(*p99)
	if !strings.HasPrefix(ci, "95% CI [+") {
		t.Errorf("interval %q should be positive", ci)
	}
	if st := p99.Stat; st.P >= 0.05 || st.NA != 6 || st.NB != 6 {
		t.Errorf("stat %+v", st)
	}
}

// TestRunSetMemoryFlat summarises a set of large reports from disk and
// checks that what stays in memory afterwards is far below one report
// per run: BuildRunSet keeps metrics, never reports.
func TestRunSetMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 12 large reports")
	}
	dir := t.TempDir()
	big := reporttest.Read(t, "report-a.json")
	// ~4 MB of windows per report, as a long run has.
	w := big.Windows
	for len(big.Windows) < 20000 {
		big.Windows = append(big.Windows, w...)
	}
	data, err := json.Marshal(big)
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	var entries []model.RunEntry
	for i := 1; i <= n; i++ {
		d := filepath.Join(dir, reports.RunDirName(i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, reports.FileJSON), data, 0o644); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, model.RunEntry{Dir: reports.RunDirName(i)})
	}
	size := int64(len(data))
	big = nil
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := BuildRunSet(dir, "set", n, entries, "")
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	kept := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if len(s.Runs) != n {
		t.Fatalf("%d runs", len(s.Runs))
	}
	// One decoded report takes more than its JSON; the set must keep
	// less than a single one.
	if kept > size {
		t.Errorf("the set of %d runs keeps %d bytes after summarising, more than one report's JSON (%d bytes)", n, kept, size)
	}
	t.Logf("report JSON %d bytes; the summary of %d runs keeps %d bytes", size, n, kept)
	runtime.KeepAlive(s)
}
