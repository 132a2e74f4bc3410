package judge

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evalrun/evalrun/internal/stats"
	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/model"
)

// Night is one night of a history: a run set, or a single report as a
// set of one.
type Night struct {
	Path string // the runs.json or report.json read
	Set  *model.RunSet
}

// ReadNights reads every run set (runs.json) and every report not inside
// a set under dirs, ordered by run start. Reports are read one at a time
// and only their metrics kept.
func ReadNights(dirs []string) ([]Night, error) {
	var nights []Night
	for _, root := range dirs {
		var setDirs, reportFiles []string
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch {
			case d.IsDir():
			case d.Name() == reports.FileRunsJSON:
				setDirs = append(setDirs, filepath.Dir(p))
			case d.Name() == reports.FileJSON:
				reportFiles = append(reportFiles, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", root, err)
		}
		for _, d := range setDirs {
			p := filepath.Join(d, reports.FileRunsJSON)
			s, err := reports.ReadRunSet(p)
			if err != nil {
				return nil, err
			}
			nights = append(nights, Night{Path: p, Set: s})
		}
		for _, p := range reportFiles {
			if insideAny(p, setDirs) {
				continue
			}
			r, err := reports.ReadJSON(p)
			if err != nil {
				return nil, err
			}
			nights = append(nights, Night{Path: p, Set: SetOfReports(r.Run.ID, r)})
		}
	}
	slices.SortStableFunc(nights, func(a, b Night) int { return a.Set.Start.Compare(b.Set.Start) })
	return nights, nil
}

func insideAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if rel, err := filepath.Rel(d, p); err == nil && !strings.HasPrefix(rel, "..") {
			return true
		}
	}
	return false
}

// History is the nights of each scenario, the band of the last K nights
// and the latest night's verdict against it.
type History struct {
	K         int
	Alpha     float64
	Limits    Limits
	Scenarios []ScenarioHistory
}

// ScenarioHistory is one scenario on one target, night by night.
type ScenarioHistory struct {
	Name   string // "node-loss on etcd (embedded)"
	Nights []Night
	// Band pools the runs of the (up to) K nights before the latest; nil
	// with a single night.
	Band *model.RunSet
	// BandFrom is the index of the band's first night.
	BandFrom int
	// Verdict is the latest night against Band (CompareSets); nil with a
	// single night.
	Verdict *Comparison
	// Changed[i] holds the metric keys of night i that changed
	// significantly (U test at Alpha) against the K nights before it.
	Changed []map[string]bool
}

// BuildHistory groups the nights (in order) by scenario, driver and
// provider and judges each group's latest night against the K before it.
func BuildHistory(nights []Night, k int, lim Limits, alpha float64) *History {
	if lim == nil {
		lim = DefaultLimits()
	}
	h := &History{K: k, Alpha: alpha, Limits: lim}
	at := map[string]int{}
	for _, n := range nights {
		name := fmt.Sprintf("%s on %s (%s)", n.Set.Scenario, n.Set.Driver, n.Set.Provider)
		i, ok := at[name]
		if !ok {
			i = len(h.Scenarios)
			at[name] = i
			h.Scenarios = append(h.Scenarios, ScenarioHistory{Name: name})
		}
		h.Scenarios[i].Nights = append(h.Scenarios[i].Nights, n)
	}
	for i := range h.Scenarios {
		sh := &h.Scenarios[i]
		sh.Changed = make([]map[string]bool, len(sh.Nights))
		for j := range sh.Nights {
			from := max(0, j-k)
			if j == 0 {
				continue
			}
			band := poolSets(fmt.Sprintf("nights %d-%d", from+1, j), sh.Nights[from:j])
			sh.Changed[j] = significantChanges(band, sh.Nights[j].Set, alpha)
			if j == len(sh.Nights)-1 {
				sh.Band, sh.BandFrom = band, from
				sh.Verdict = CompareSets(band, sh.Nights[j].Set, lim, alpha)
			}
		}
	}
	return h
}

// poolSets is one set of all the runs of several nights (their header
// from the latest of them).
func poolSets(id string, nights []Night) *model.RunSet {
	head := *nights[len(nights)-1].Set
	head.Runs, head.Metrics = nil, nil
	head.ID, head.Start = id, nights[0].Set.Start
	sb := newSetBuilder(id, 0)
	sb.set = &head
	for _, n := range nights {
		base := len(head.Runs)
		head.Runs = append(head.Runs, n.Set.Runs...)
		if n.Set.ScenarioSHA256 != head.ScenarioSHA256 {
			head.ScenarioSHA256 = ""
		}
		for _, m := range n.Set.Metrics {
			k := MetricKey(m)
			j, ok := sb.index[k]
			if !ok {
				j = len(head.Metrics)
				sb.index[k] = j
				m.Values = slices.Clone(m.Values)
				for range base {
					m.Values = append([]*float64{nil}, m.Values...)
				}
				head.Metrics = append(head.Metrics, m)
				continue
			}
			sm := &head.Metrics[j]
			for len(sm.Values) < base {
				sm.Values = append(sm.Values, nil)
			}
			sm.Values = append(sm.Values, m.Values...)
		}
	}
	head.Requested = len(head.Runs)
	sha := head.ScenarioSHA256
	out := sb.finish("")
	out.ScenarioSHA256 = sha
	return out
}

// significantChanges lists the headline metrics of b that differ
// significantly from band.
func significantChanges(band, b *model.RunSet, alpha float64) map[string]bool {
	out := map[string]bool{}
	bm := map[string]model.SetMetric{}
	for _, m := range band.Metrics {
		bm[MetricKey(m)] = m
	}
	for _, m := range b.Metrics {
		ref, ok := bm[MetricKey(m)]
		if !ok || !Headline(m) {
			continue
		}
		if r := stats.Compare(sampleOf(ref), sampleOf(m), alpha); r.Significant {
			out[MetricKey(m)] = true
		}
	}
	return out
}

// Regressed reports whether any scenario's latest night regressed.
func (h *History) Regressed() bool {
	for _, s := range h.Scenarios {
		if s.Verdict != nil && s.Verdict.Regressed() {
			return true
		}
	}
	return false
}

// Incomparable says why a scenario's latest night cannot be judged
// against its band, or "".
func (h *History) Incomparable() string {
	for _, s := range h.Scenarios {
		if s.Verdict != nil && s.Verdict.Incomparable != "" {
			return s.Name + ": " + s.Verdict.Incomparable
		}
	}
	return ""
}
