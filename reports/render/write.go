// Package render turns reports, run sets, comparisons and histories into
// what people read: Markdown, one self-contained HTML page with SVG plots
// (gonum.org/v1/plot), JUnit XML and terminal text, and writes a run's and
// a set's files. It is the only report package that plots.
package render

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/model"
)

// WriteAll fills r.Files and writes report.json, report.md and report.html
// into dir, each atomically. The JSON is written even when a rendering
// fails; the errors are joined.
func WriteAll(dir string, r *model.Report) error {
	old := r.Files
	r.Files = model.Files{JSON: reports.FileJSON, Markdown: reports.FileMarkdown, HTML: reports.FileHTML, HdrLogError: old.HdrLogError}
	if st, err := os.Stat(filepath.Join(dir, reports.FileHdrLog)); err == nil && st.Mode().IsRegular() {
		r.Files.HdrLog = reports.FileHdrLog
	}
	// The history and the check's views are written by the runner; they
	// are named only when they are there.
	if old.History != "" {
		if st, err := os.Stat(filepath.Join(dir, old.History)); err == nil && st.Mode().IsRegular() {
			r.Files.History = old.History
		}
	}
	if old.Linearizability != "" {
		if st, err := os.Stat(filepath.Join(dir, old.Linearizability)); err == nil && st.IsDir() {
			r.Files.Linearizability = old.Linearizability
		}
	}
	var errs []error
	if err := reports.WriteJSON(dir, r); err != nil {
		errs = append(errs, err)
	}
	if md, err := Markdown(r); err != nil {
		errs = append(errs, err)
	} else if err := reports.WriteFileAtomic(filepath.Join(dir, reports.FileMarkdown), md); err != nil {
		errs = append(errs, err)
	}
	if page, err := HTML(r); err != nil {
		errs = append(errs, err)
	} else if err := reports.WriteFileAtomic(filepath.Join(dir, reports.FileHTML), page); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
