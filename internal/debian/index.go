package debian

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"pault.ag/go/debian/control"
	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"
)

// Package is one binary package of an index.
type Package struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	Filename     string `json:"filename"` // relative to the source's URI
	SHA256       string `json:"sha256"`
	Size         int64  `json:"size"`
	URI          string `json:"uri"` // the source's URI
	Essential    bool   `json:"essential,omitempty"`
	Depends      string `json:"-"`
	PreDepends   string `json:"-"`
	Provides     string `json:"-"`

	ver version.Version
}

// Index is the newest version of every package of the sources read, plus
// who provides each virtual package.
type Index struct {
	arch      string
	byName    map[string]*Package
	providers map[string][]string // virtual name → real names (sorted)
}

// NewIndex returns an empty index for arch (amd64…).
func NewIndex(arch string) *Index {
	return &Index{arch: arch, byName: map[string]*Package{}, providers: map[string][]string{}}
}

// Add reads a Packages index (uncompressed text) of the source at uri into
// ix; a package already known in a newer or equal version is kept.
func (ix *Index) Add(r io.Reader, uri string) error {
	pr, err := control.NewParagraphReader(bufio.NewReaderSize(r, 1<<20), nil)
	if err != nil {
		return fmt.Errorf("read Packages index: %w", err)
	}
	for {
		para, err := pr.Next()
		if errors.Is(err, io.EOF) || (err == nil && para == nil) {
			break
		}
		if err != nil {
			return fmt.Errorf("read Packages index: %w", err)
		}
		v := para.Values
		arch := v["Architecture"]
		if arch != ix.arch && arch != "all" {
			continue
		}
		p := &Package{Name: v["Package"], Version: v["Version"], Architecture: arch, Filename: v["Filename"],
			SHA256: strings.ToLower(v["SHA256"]), URI: uri, Essential: v["Essential"] == "yes",
			Depends: v["Depends"], PreDepends: v["Pre-Depends"], Provides: v["Provides"]}
		if p.Name == "" || p.Filename == "" || len(p.SHA256) != 64 {
			return fmt.Errorf("Packages index: entry %q lacks Package, Filename or SHA256", p.Name)
		}
		if p.Size, err = strconv.ParseInt(v["Size"], 10, 64); err != nil {
			return fmt.Errorf("Packages index: %s: bad Size %q", p.Name, v["Size"])
		}
		if p.ver, err = version.Parse(p.Version); err != nil {
			return fmt.Errorf("Packages index: %s: bad Version %q: %w", p.Name, p.Version, err)
		}
		if old, ok := ix.byName[p.Name]; ok && version.Compare(old.ver, p.ver) >= 0 {
			continue
		}
		ix.byName[p.Name] = p
	}
	ix.providers = map[string][]string{}
	for name, p := range ix.byName {
		if p.Provides == "" {
			continue
		}
		for _, prov := range strings.Split(p.Provides, ",") {
			prov = strings.TrimSpace(prov)
			if i := strings.IndexAny(prov, " ("); i >= 0 {
				prov = prov[:i]
			}
			if prov != "" {
				ix.providers[prov] = append(ix.providers[prov], name)
			}
		}
	}
	for k := range ix.providers {
		sort.Strings(ix.providers[k])
	}
	return nil
}

// Essential returns the names of the packages marked Essential: yes.
func (ix *Index) Essential() []string {
	var out []string
	for n, p := range ix.byName {
		if p.Essential {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Provided are packages whose job the root file system writer does, so an
// alternative naming one of them is preferred: "usrmerge | usr-is-merged"
// takes usr-is-merged, since the tree is written merged.
var Provided = map[string]bool{"usr-is-merged": true}

// Resolve returns the closure of want under Depends and Pre-Depends, in
// name order. Of alternatives ("a | b") the first that is already chosen,
// else the first that exists, is taken; a virtual package is satisfied by
// one of its providers (a chosen one first). A package that does not exist
// (or whose only version fails a version constraint) is an error naming it
// and who needs it.
func (ix *Index) Resolve(want []string) ([]Package, error) {
	chosen := map[string]*Package{}
	type need struct{ name, by string }
	queue := make([]need, 0, len(want))
	wanted := map[string]bool{}
	for _, w := range want {
		queue = append(queue, need{name: w})
		wanted[w] = true
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if _, ok := chosen[n.name]; ok {
			continue
		}
		p, ok := ix.byName[n.name]
		if !ok {
			if prov := ix.providers[n.name]; len(prov) > 0 {
				p = ix.byName[prov[0]]
				for _, name := range prov { // one already chosen or asked for first
					if _, c := chosen[name]; c || wanted[name] {
						p = ix.byName[name]
						break
					}
				}
			} else if n.by == "" {
				return nil, fmt.Errorf("debian: no package %q in the archive (%s)", n.name, ix.arch)
			} else {
				return nil, fmt.Errorf("debian: %s needs %q, which is not in the archive (%s)", n.by, n.name, ix.arch)
			}
		}
		chosen[n.name] = p
		chosen[p.Name] = p
		for _, field := range []string{p.PreDepends, p.Depends} {
			if field == "" {
				continue
			}
			dep, err := dependency.Parse(field)
			if err != nil {
				return nil, fmt.Errorf("debian: %s %s: bad dependency field %q: %w", p.Name, p.Version, field, err)
			}
			for _, rel := range dep.Relations {
				name, err := ix.pick(rel, chosen, wanted)
				if err != nil {
					return nil, fmt.Errorf("debian: %s %s: %w", p.Name, p.Version, err)
				}
				queue = append(queue, need{name: name, by: p.Name + " " + p.Version})
			}
		}
	}
	seen := map[string]bool{}
	var out []Package
	for _, p := range chosen {
		if !seen[p.Name] {
			seen[p.Name] = true
			out = append(out, *p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// pick chooses the package that satisfies one relation ("a (>= 1) | b").
func (ix *Index) pick(rel dependency.Relation, chosen map[string]*Package, wanted map[string]bool) (string, error) {
	var cands []string
	for _, poss := range rel.Possibilities {
		if poss.Architectures != nil && len(poss.Architectures.Architectures) > 0 {
			a, _ := dependency.ParseArch(ix.arch)
			if a != nil && !poss.Architectures.Matches(a) {
				continue
			}
		}
		name := poss.Name
		if p, ok := ix.byName[name]; ok {
			if poss.Version != nil && !poss.Version.SatisfiedBy(p.ver) {
				continue
			}
			cands = append(cands, name)
			continue
		}
		if poss.Version == nil { // unversioned: a virtual package may do
			if _, ok := chosen[name]; ok {
				return name, nil
			}
			for _, prov := range ix.providers[name] {
				if _, ok := chosen[prov]; ok {
					return prov, nil
				}
			}
			if len(ix.providers[name]) > 0 {
				cands = append(cands, name)
			}
		}
	}
	for _, c := range cands {
		if _, ok := chosen[c]; ok || wanted[c] {
			return c, nil
		}
	}
	for _, c := range cands {
		if Provided[c] {
			return c, nil
		}
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("no package in the archive satisfies %q", rel.String())
	}
	return cands[0], nil
}
