package reports_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/internal/reporttest"
)

func TestReadJSONRoundTrip(t *testing.T) {
	r := reporttest.Read(t, "report-a.json")
	dir := t.TempDir()
	if err := reports.WriteJSON(dir, r); err != nil {
		t.Fatal(err)
	}
	x, err := os.ReadFile(filepath.Join(dir, reports.FileJSON))
	if err != nil {
		t.Fatal(err)
	}
	back, err := reports.ReadJSON(filepath.Join(dir, reports.FileJSON))
	if err != nil {
		t.Fatal(err)
	}
	again := t.TempDir()
	if err := reports.WriteJSON(again, back); err != nil {
		t.Fatal(err)
	}
	if y, err := os.ReadFile(filepath.Join(again, reports.FileJSON)); err != nil || !bytes.Equal(x, y) {
		t.Fatalf("report changed through WriteJSON/ReadJSON (%v)", err)
	}
	// The fixture is itself in the canonical form.
	orig, _ := os.ReadFile(reporttest.Path("report-a.json"))
	if !bytes.Equal(orig, x) {
		t.Error("reports/internal/reporttest/testdata/report-a.json is not in WriteJSON's form")
	}
}

func TestReadJSONRejects(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, content string
		schemaErr     bool
		want          string // in the message
	}{
		{"v2.json", `{"schema":"evalrun.report/v2","complete":true}`, true, "evalrun.report/v2"},
		{"v10.json", `{"schema":"evalrun.report/v10"}`, true, "evalrun.report/v10"},
		{"other.json", `{"schema":"something/else"}`, true, "unsupported"},
		{"missing.json", `{"complete":true,"run":{"id":"x"}}`, true, "no \"schema\""},
		{"garbage.json", "this is not json\x00", false, "not valid JSON"},
		{"truncated.json", `{"schema":"evalrun.report/v1","run":{`, false, "not valid JSON"},
		{"array.json", `[1,2,3]`, false, "not an evalrun report"},
		{"badtype.json", `{"schema":"evalrun.report/v1","complete":"yes"}`, false, "badtype.json"},
	} {
		p := write(tc.name, tc.content)
		r, err := reports.ReadJSON(p)
		if err == nil {
			t.Errorf("%s: accepted: %+v", tc.name, r)
			continue
		}
		var se *reports.SchemaError
		if errors.As(err, &se) != tc.schemaErr {
			t.Errorf("%s: error %T %v, SchemaError want %v", tc.name, err, err, tc.schemaErr)
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: error %q should name the file and contain %q", tc.name, err, tc.want)
		}
	}
	if _, err := reports.ReadJSON(filepath.Join(dir, "absent.json")); err == nil || !strings.Contains(err.Error(), "absent.json") {
		t.Errorf("missing file: %v", err)
	}
	// A minor revision and unknown fields are fine.
	p := write("minor.json", `{"schema":"evalrun.report/v1.2","complete":true,"new_field":{"x":1}}`)
	if r, err := reports.ReadJSON(p); err != nil || !r.Complete {
		t.Errorf("minor revision: %v %+v", err, r)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.txt")
	if err := reports.WriteFileAtomic(p, []byte("first version, rather long")); err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteFileAtomic(p, []byte("second")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "second" {
		t.Fatalf("content %q, %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "out.txt" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %q, want only out.txt", names)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	// A failed write leaves nothing behind.
	if err := reports.WriteFileAtomic(filepath.Join(dir, "no-such-dir", "x"), []byte("x")); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("failed write left %d entries", len(entries))
	}
}
