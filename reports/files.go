// Package reports reads and writes evalrun's files: a run's report.json
// and a set's runs.json (schema-checked on reading, written atomically).
// The model is reports/model; judging them is reports/judge, rendering
// them reports/render.
package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/evalrun/evalrun/reports/model"
)

// File names inside a run directory.
const (
	FileJSON     = "report.json"
	FileMarkdown = "report.md"
	FileHTML     = "report.html"
	FileHdrLog   = "latency.hlog"
)

// Files of a run-set directory (next to run-1 … run-N).
const (
	FileRunsJSON     = "runs.json"
	FileRunsMarkdown = "runs.md"
	FileRunsHTML     = "runs.html"
)

// RunDirName is the directory of the i-th run (1-based) of a set.
func RunDirName(i int) string { return "run-" + strconv.Itoa(i) }

// SchemaError says a report file has no schema or one of another major
// version than Schema, so this reader cannot trust its fields.
type SchemaError struct {
	Path   string // the file read
	Schema string // the schema found ("" when missing)
	Want   string // the schema wanted; "" is Schema (a report)
}

func (e *SchemaError) Error() string {
	want, what := e.Want, "report"
	if want == "" {
		want = model.Schema
	} else {
		what = "run set"
	}
	if e.Schema == "" {
		return fmt.Sprintf("%s: not an evalrun %s: no \"schema\" field (want %s)", e.Path, what, want)
	}
	return fmt.Sprintf("%s: unsupported %s schema %q (this evalrun reads %s)", e.Path, what, e.Schema, want)
}

// schemaSupported reports whether s is want or a minor revision of it
// ("evalrun.report/v1", "evalrun.report/v1.3"), but not "evalrun.report/v10".
func schemaSupported(s, want string) bool {
	return s == want || strings.HasPrefix(s, want+".")
}

// checkSchema reads the "schema" of a JSON file's data and returns a
// *SchemaError unless it is want ("" for Schema) or a minor revision.
func checkSchema(path string, data []byte, want string) error {
	var head struct {
		Schema *string `json:"schema"`
	}
	what := "report"
	if want != "" {
		what = "run set"
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return fmt.Errorf("read %s %s: not an evalrun %s: %w", what, path, what, err)
	}
	w := want
	if w == "" {
		w = model.Schema
	}
	if head.Schema == nil || !schemaSupported(*head.Schema, w) {
		e := &SchemaError{Path: path, Want: want}
		if head.Schema != nil {
			e.Schema = *head.Schema
		}
		return e
	}
	return nil
}

// WriteFileAtomic writes data to path so that readers see either the old
// content or the new one, never a part: it writes a temporary file in the
// same directory, syncs it, renames it over path and syncs the directory.
// The file is left with mode 0644.
func WriteFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		// The content is in place; only its durability is in doubt.
		return fmt.Errorf("write %s: sync directory: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		// Some file systems cannot sync a directory; that is not an error.
		return err
	}
	return nil
}

// marshalReport renders r as indented JSON (fields in struct order, map keys
// sorted) ending with a newline.
func marshalReport(r *model.Report) ([]byte, error) { return marshalIndented(r, "report") }

// marshalIndented renders v, a what, as indented JSON (fields in struct
// order, map keys sorted, no HTML escaping) ending with a newline.
func marshalIndented(v any, what string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode %s: %w", what, err)
	}
	return buf.Bytes(), nil
}

// WriteJSON writes r to dir/report.json atomically.
func WriteJSON(dir string, r *model.Report) error {
	data, err := marshalReport(r)
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, FileJSON), data)
}

// ReadJSON reads a report file. A file without a schema or with another
// major version than Schema gives a *SchemaError; unknown fields (minor
// additions) are ignored.
func ReadJSON(path string) (*model.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v) // for the position of the error
		return nil, fmt.Errorf("read report %s: not valid JSON: %w", path, err)
	}
	if err := checkSchema(path, data, ""); err != nil {
		return nil, err
	}
	var r model.Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("read report %s: %w", path, err)
	}
	return &r, nil
}

// WriteRunSetJSON writes s to dir/runs.json atomically.
func WriteRunSetJSON(dir string, s *model.RunSet) error {
	data, err := marshalIndented(s, "run set")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, FileRunsJSON), data)
}

// ReadRunSet reads a runs.json. Another schema major version is a
// *SchemaError.
func ReadRunSet(path string) (*model.RunSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read run set: %w", err)
	}
	if err := checkSchema(path, data, model.RunsSchema); err != nil {
		return nil, err
	}
	var s model.RunSet
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("read run set %s: %w", path, err)
	}
	return &s, nil
}
