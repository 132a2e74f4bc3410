// Package debian builds root file systems from a Debian archive without
// debootstrap, root or a registry: it reads the host's apt sources, fetches
// and verifies each suite's InRelease (OpenPGP, the keyring the source
// names), checks every Packages index and .deb against the SHA256 sums the
// release signs, resolves the closure of Depends/Pre-Depends of the wanted
// packages plus the Essential set, caches the .deb files by SHA256 under a
// lock shared by concurrent processes, and writes the data archives of the
// packages as one tar stream (merged /usr, no maintainer scripts run).
//
// Nothing here talks to Docker: internal/docker imports the stream.
package debian

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// MirrorEnv overrides the host's apt sources: a mirror URL (its suites
// SUITE, SUITE-updates and SUITE-security under the same URL are used when
// its InRelease exists) whose signatures are checked with the default
// keyrings.
const MirrorEnv = "EVALRUN_DEBIAN_MIRROR"

// Source is one repository of one suite, component main.
type Source struct {
	URI   string // e.g. http://deb.debian.org/debian
	Suite string // e.g. bookworm, bookworm-updates
	// Keyring is what the source's Signed-By names: a key file path or
	// an armored key block; empty means the default keyrings.
	Keyring string
	// Optional: a suite the source lists besides the base suite
	// (bookworm-updates, bookworm-security) is skipped when its InRelease
	// cannot be had, instead of failing the build.
	Optional bool
	From     string // the file (and line) it came from, for errors
}

func (s Source) String() string { return strings.TrimRight(s.URI, "/") + " " + s.Suite }

// HostSources returns the sources for suite: the apt configuration under
// root ("/" on the host; tests pass a directory) unless MirrorEnv is set.
// Suites SUITE-updates and SUITE-security are included where configured.
// No source at all is an error saying how to name one.
func HostSources(root, suite string) ([]Source, error) {
	if m := strings.TrimSpace(os.Getenv(MirrorEnv)); m != "" {
		if !strings.HasPrefix(m, "http://") && !strings.HasPrefix(m, "https://") {
			return nil, fmt.Errorf("debian: %s=%q: want an http:// or https:// mirror URL", MirrorEnv, m)
		}
		return []Source{{URI: m, Suite: suite, From: MirrorEnv},
			{URI: m, Suite: suite + "-updates", Optional: true, From: MirrorEnv}}, nil
	}
	files := []string{filepath.Join(root, "etc/apt/sources.list")}
	for _, pat := range []string{"etc/apt/sources.list.d/*.list", "etc/apt/sources.list.d/*.sources"} {
		m, _ := filepath.Glob(filepath.Join(root, pat))
		sort.Strings(m)
		files = append(files, m...)
	}
	var out []Source
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		out = append(out, ParseSources(string(b), strings.HasSuffix(f, ".sources"), f, suite)...)
	}
	if !slices.ContainsFunc(out, func(s Source) bool { return s.Suite == suite }) {
		return nil, fmt.Errorf("debian: apt has no source for %s/main in %s/etc/apt; set %s to a Debian mirror URL",
			suite, strings.TrimSuffix(root, "/"), MirrorEnv)
	}
	return out, nil
}

// ParseSources parses one-line ("deb [opts] URI suite comp…") or deb822
// (.sources) text and keeps the deb sources with component main of suite,
// suite-updates and suite-security, in the file's order. from names the
// file in Source.From.
func ParseSources(text string, deb822 bool, from, suite string) []Source {
	want := func(s string) (bool, bool) {
		switch s {
		case suite:
			return true, false
		case suite + "-updates", suite + "-security":
			return true, true
		}
		return false, false
	}
	var out []Source
	if !deb822 {
		for n, line := range strings.Split(text, "\n") {
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			}
			f := strings.Fields(line)
			if len(f) < 4 || f[0] != "deb" {
				continue
			}
			f = f[1:]
			var keyring string
			if strings.HasPrefix(f[0], "[") {
				j := 0
				for ; j < len(f); j++ {
					opt := strings.Trim(f[j], "[]")
					if k, v, ok := strings.Cut(opt, "="); ok && k == "signed-by" {
						keyring = v
					}
					if strings.HasSuffix(f[j], "]") {
						break
					}
				}
				f = f[min(j+1, len(f)):]
			}
			if len(f) < 3 || !slices.Contains(f[2:], "main") {
				continue
			}
			if ok, opt := want(f[1]); ok {
				out = append(out, Source{URI: f[0], Suite: f[1], Keyring: keyring, Optional: opt, From: fmt.Sprintf("%s:%d", from, n+1)})
			}
		}
		return out
	}
	for _, para := range paragraphs(text) {
		if strings.EqualFold(para["enabled"], "no") {
			continue
		}
		if !slices.Contains(strings.Fields(para["types"]), "deb") || !slices.Contains(strings.Fields(para["components"]), "main") {
			continue
		}
		for _, s := range strings.Fields(para["suites"]) {
			ok, opt := want(s)
			if !ok {
				continue
			}
			for _, u := range strings.Fields(para["uris"]) {
				out = append(out, Source{URI: u, Suite: s, Keyring: para["signed-by"], Optional: opt, From: from})
			}
		}
	}
	return out
}

// paragraphs parses deb822 stanzas into lower-cased field maps
// (continuation lines joined with newlines; comments dropped). A
// continuation line of a single "." is an empty line (armored keys).
func paragraphs(text string) []map[string]string {
	var out []map[string]string
	cur := map[string]string{}
	last := ""
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur, last = map[string]string{}, ""
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && last != "" {
			l := strings.TrimSpace(line)
			if l == "." {
				l = ""
			}
			cur[last] += "\n" + l
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		last = strings.ToLower(strings.TrimSpace(k))
		cur[last] = strings.TrimSpace(v)
	}
	flush()
	return out
}
