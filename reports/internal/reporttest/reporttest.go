// Package reporttest holds what the report packages' tests share: the
// fixture reports (testdata/report-a.json, report-b.json) and synthetic
// runs made from them.
package reporttest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/model"
)

// Path is the path of the fixture testdata/name, wherever the test runs.
func Path(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", name)
}

// Read reads the fixture report testdata/name of this package (report-a.json,
// report-b.json) from whatever package the test runs in.
func Read(t testing.TB, name string) *model.Report {
	t.Helper()
	r, err := reports.ReadJSON(Path(name))
	if err != nil {
		t.Fatalf("ReadJSON(%s): %v", name, err)
	}
	return r
}

// Clone deep-copies a report through JSON.
func Clone(t testing.TB, r *model.Report) *model.Report {
	t.Helper()
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "r.json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := reports.ReadJSON(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// PhaseOp applies f to the stats of op ("all": the total) in phase.
func PhaseOp(r *model.Report, phase, op string, f func(*model.OpStats)) {
	for i := range r.Phases {
		if r.Phases[i].Name != phase {
			continue
		}
		if op == "all" {
			f(&r.Phases[i].Total)
			return
		}
		s := r.Phases[i].Ops[op]
		f(&s)
		r.Phases[i].Ops[op] = s
	}
}

// runNoise is the run-to-run spread of the synthetic sets (±4 %).
var runNoise = []float64{1.00, 1.03, 0.97, 1.02, 0.98, 1.01, 0.99, 1.04, 0.96}

// SynthRuns returns n runs of report-a: run i has its p99 latencies and
// unavailability scaled by p99Scale times the i-th noise (shifted by
// offset, so that two sets draw different noise), and all other
// latencies by the noise alone. Starts are a minute apart from start.
func SynthRuns(t testing.TB, n int, p99Scale float64, offset int, start time.Time) []*model.Report {
	t.Helper()
	base := Read(t, "report-a.json")
	var out []*model.Report
	for i := range n {
		r := Clone(t, base)
		f := runNoise[(i+offset)%len(runNoise)]
		scale := func(st *model.OpStats) {
			st.P50Us = int64(float64(st.P50Us) * f)
			st.P90Us = int64(float64(st.P90Us) * f)
			st.P99Us = int64(float64(st.P99Us) * f * p99Scale)
			st.P999Us = int64(float64(st.P999Us) * f)
			st.MaxUs = int64(float64(st.MaxUs) * f)
			st.Throughput *= 2 - f
		}
		for pi := range r.Phases {
			for op, st := range r.Phases[pi].Ops {
				scale(&st)
				r.Phases[pi].Ops[op] = st
			}
			scale(&r.Phases[pi].Total)
		}
		for oi := range r.Operational {
			if u := r.Operational[oi].UnavailableMs; u != nil {
				v := int64(float64(*u) * f * p99Scale)
				r.Operational[oi].UnavailableMs = &v
			}
		}
		r.Run.ID = "run-" + string(rune('a'+i))
		r.Run.Start = start.Add(time.Duration(i) * time.Minute)
		r.Run.End = r.Run.Start.Add(90 * time.Second)
		out = append(out, r)
	}
	return out
}

// Night0 is the start of the first synthetic night.
func Night0() time.Time { return time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC) }

// WriteRuns writes each report into dir/run-i as a repeat does.
func WriteRuns(t testing.TB, dir string, rs []*model.Report) []model.RunEntry {
	t.Helper()
	var entries []model.RunEntry
	for i, r := range rs {
		d := reports.RunDirName(i + 1)
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := reports.WriteJSON(filepath.Join(dir, d), r); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, model.RunEntry{Dir: d})
	}
	return entries
}

// update is -update: rewrite the golden files instead of comparing with
// them. Every report package's test binary imports this package, so that
// go test ./reports/... -update runs; only reports/render has golden files.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// Golden compares got with testdata/golden/name of the package under test,
// or rewrites that file with -update.
func Golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports/... -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs from the golden file at line %d:\n got: %.300q\nwant: %.300q\n(run go test ./reports/... -update if the change is intended)", name, i+1, g, w)
			}
		}
		t.Fatalf("%s differs from the golden file", name)
	}
}
