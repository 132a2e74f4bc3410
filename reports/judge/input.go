package judge

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/model"
)

// ReadInput reads one side of a comparison: a report.json, a runs.json,
// or a directory: a set directory (runs.json), a run directory
// (report.json), or a directory of run directories, summarised as a set
// (reading one report at a time). Exactly one of the results is non-nil.
func ReadInput(path string) (*model.Report, *model.RunSet, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !st.IsDir() {
		if isRunSetFile(path) {
			s, err := reports.ReadRunSet(path)
			return nil, s, err
		}
		r, err := reports.ReadJSON(path)
		return r, nil, err
	}
	if p := filepath.Join(path, reports.FileRunsJSON); fileExists(p) {
		s, err := reports.ReadRunSet(p)
		return nil, s, err
	}
	if p := filepath.Join(path, reports.FileJSON); fileExists(p) {
		r, err := reports.ReadJSON(p)
		return r, nil, err
	}
	dirs, err := reportDirs(path)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range dirs {
		if fileExists(filepath.Join(path, filepath.Dir(d), reports.FileRunsJSON)) {
			return nil, nil, fmt.Errorf("%s holds sets of runs (%s): pass one set directory", path, filepath.Join(path, filepath.Dir(d)))
		}
	}
	if len(dirs) == 0 {
		return nil, nil, fmt.Errorf("%s: no %s, %s or run directories with a %s under it", path, reports.FileRunsJSON, reports.FileJSON, reports.FileJSON)
	}
	entries := make([]model.RunEntry, len(dirs))
	for i, d := range dirs {
		entries[i] = model.RunEntry{Dir: d}
	}
	s, err := BuildRunSet(path, filepath.Base(filepath.Clean(path)), len(entries), entries, "")
	return nil, s, err
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// isRunSetFile peeks at a JSON file's schema.
func isRunSetFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var head struct {
		Schema string `json:"schema"`
	}
	// The schema is the first field of both files; decoding the whole
	// object is still needed to reach it with encoding/json.
	if err := json.NewDecoder(f).Decode(&head); err != nil {
		return false
	}
	return strings.HasPrefix(head.Schema, model.RunsSchema)
}

// reportDirs lists the directories under root (relative to it) that hold
// a report.json, in natural order (run-2 before run-10).
func reportDirs(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != reports.FileJSON {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		dirs = append(dirs, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", root, err)
	}
	slices.SortFunc(dirs, naturalCompare)
	return dirs, nil
}

// naturalCompare orders strings with their digit runs compared as numbers.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da != "" && db != "" {
			na, _ := strconv.ParseUint(da, 10, 64)
			nb, _ := strconv.ParseUint(db, 10, 64)
			if na != nb {
				if na < nb {
					return -1
				}
				return 1
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return strings.Compare(a[:1], b[:1])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func digitPrefix(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}
