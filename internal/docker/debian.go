package docker

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// DebianImage describes an image built offline from Debian packages:
// debootstrap --variant=minbase --include=Packages SUITE, plus Files.
type DebianImage struct {
	Tag      string   // e.g. "evalrun/redis:bookworm-" + d.Hash()
	Suite    string   // default "bookworm"
	Mirror   string   // default: apt's configured mirror for Suite (else deb.debian.org)
	Packages []string // extra packages (--include)
	// Files are added on top of the root filesystem (absolute paths; not
	// under the merged-/usr symlinks /bin, /sbin, /lib…: use /usr/...).
	Files map[string]FileSpec
	// Trees copies host directories into the image: image path (absolute,
	// clean) to host directory. Modes and symlinks are kept; owners become
	// root. For a release directory too large to hold in Files.
	Trees      map[string]string
	Entrypoint []string
	Cmd        []string
	Env        []string // KEY=VALUE
	Expose     []string // "6379/tcp"
	// Progress receives one line per step (nil: Engine.Logf).
	Progress func(string)
}

// Hash is a short digest of everything that goes into the image, so a tag
// like "evalrun/redis:bookworm-"+Hash() changes when the recipe does.
func (d DebianImage) Hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "v1\x00%s\x00%s\x00", defaultSuite(d.Suite), strings.Join(normPackages(d.Packages), ","))
	for _, p := range slices.Sorted(maps.Keys(d.Files)) {
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", p, d.Files[p].Mode, len(d.Files[p].Data))
		h.Write(d.Files[p].Data)
	}
	for _, p := range slices.Sorted(maps.Keys(d.Trees)) {
		// the tree's path and a cheap summary (not its content: trees are large)
		fmt.Fprintf(h, "tree\x00%s\x00%s\x00%s\x00", p, d.Trees[p], treeSummary(d.Trees[p]))
	}
	fmt.Fprintf(h, "%q\x00%q\x00%q\x00%q", d.Entrypoint, d.Cmd, d.Env, d.Expose)
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func defaultSuite(s string) string {
	if s == "" {
		return "bookworm"
	}
	return s
}

var pkgRe = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

func normPackages(p []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range p {
		x = strings.TrimSpace(x)
		if x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// CacheDir is where built root filesystems are kept:
// $XDG_CACHE_HOME/evalrun, else ~/.cache/evalrun.
func CacheDir() (string, error) {
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "evalrun"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("docker: no cache directory: %w", err)
	}
	return filepath.Join(home, ".cache", "evalrun"), nil
}

// BuildDebianImage builds d.Tag without any registry: the root filesystem
// comes from debootstrap (run as root, ~80 s, from apt's configured
// mirror) and is cached under CacheDir()/debootstrap keyed by suite,
// architecture and package list, so later builds only add Files and import
// (seconds). The import sets ENTRYPOINT, CMD, ENV and EXPOSE.
func (e *Engine) BuildDebianImage(ctx context.Context, d DebianImage) (string, error) {
	progress := d.Progress
	if progress == nil {
		progress = func(s string) { e.logf("%s", s) }
	}
	suite := defaultSuite(d.Suite)
	if !pkgRe.MatchString(suite) {
		return "", fmt.Errorf("docker: bad suite %q", suite)
	}
	pkgs := normPackages(d.Packages)
	for _, p := range pkgs {
		if !pkgRe.MatchString(p) {
			return "", fmt.Errorf("docker: bad package name %q", p)
		}
	}
	changes, err := imageChanges(d.Entrypoint, d.Cmd, d.Env, d.Expose, "debian")
	if err != nil {
		return "", err
	}
	for p := range d.Files {
		if _, err := relPath(p); err != nil {
			return "", err
		}
	}
	for p, dir := range d.Trees {
		if _, err := relPath(p); err != nil {
			return "", err
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return "", fmt.Errorf("docker: image tree %s: %s is not a directory", p, dir)
		}
	}
	rootfs, err := debianRootfs(ctx, suite, d.Mirror, pkgs, progress)
	if err != nil {
		return "", err
	}
	f, err := os.Open(rootfs)
	if err != nil {
		return "", fmt.Errorf("docker: open cached root filesystem: %w", err)
	}
	defer f.Close()
	t0 := time.Now()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(mergeRootfs(pw, f, d.Files, d.Trees)) }()
	id, err := e.importImage(ctx, d.Tag, changes, pr)
	pr.CloseWithError(errors.New("import ended"))
	if err != nil {
		return "", err
	}
	progress(fmt.Sprintf("docker: imported %s (%s) in %s", d.Tag, shortID(id), time.Since(t0).Round(100*time.Millisecond)))
	return id, nil
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// mergeRootfs copies the cached root filesystem tar to w, leaving out the
// entries that files replace, then appends files and trees.
func mergeRootfs(w io.Writer, rootfs io.Reader, files map[string]FileSpec, trees map[string]string) error {
	replace := map[string]bool{}
	for p := range files {
		rel, _ := relPath(p)
		replace[rel] = true
	}
	tr := tar.NewReader(rootfs)
	tw := tar.NewWriter(w)
	dirs := map[string]bool{}
	links := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read cached root filesystem: %w", err)
		}
		name := strings.TrimSuffix(path.Clean("/"+hdr.Name), "/")
		name = strings.TrimPrefix(name, "/")
		if name == "" {
			continue // "./"
		}
		if replace[name] {
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			dirs[name] = true
		case tar.TypeSymlink:
			links[name] = hdr.Linkname
		}
		hdr.Format = tar.FormatUnknown
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	if err := writeFiles(tw, files, dirs, links); err != nil {
		return err
	}
	if err := writeTrees(tw, trees, dirs, links); err != nil {
		return err
	}
	return tw.Close()
}

// debianRootfs returns the path of the cached root filesystem tar for
// (suite, architecture, packages), building it with debootstrap if needed.
func debianRootfs(ctx context.Context, suite, mirror string, pkgs []string, progress func(string)) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	arch := debArch()
	h := sha256.Sum256([]byte("debootstrap-minbase-v1\x00" + suite + "\x00" + arch + "\x00" + strings.Join(pkgs, ",")))
	dir := filepath.Join(cache, "debootstrap")
	tarPath := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.tar", suite, arch, hex.EncodeToString(h[:])[:16]))
	desc := strings.Join(pkgs, ",")
	if desc == "" {
		desc = "no extra packages"
	}
	if _, err := os.Stat(tarPath); err == nil {
		progress(fmt.Sprintf("docker: using cached Debian %s root filesystem (%s): %s", suite, desc, tarPath))
		return tarPath, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("docker: cache directory: %w", err)
	}
	if err := buildRootfs(ctx, rootfsJob{suite: suite, arch: arch, mirror: mirror, pkgs: pkgs, dir: dir,
		tarPath: tarPath, desc: desc, progress: progress}); err != nil {
		return "", err
	}
	return tarPath, nil
}

type rootfsJob struct {
	suite, arch, mirror string
	pkgs                []string
	dir, tarPath, desc  string
	progress            func(string)
}

func debArch() string {
	switch runtime.GOARCH {
	case "arm":
		return "armhf"
	case "386":
		return "i386"
	case "ppc64le":
		return "ppc64el"
	}
	return runtime.GOARCH
}

// aptSource is one "deb" source of apt's configuration.
type aptSource struct {
	URI     string
	Keyring string // Signed-By, when it is a file
}

// aptSourcesFor reads apt's configuration and returns the sources that
// serve suite with component main, in apt's order.
func aptSourcesFor(suite string) []aptSource {
	files := []string{"/etc/apt/sources.list"}
	for _, pat := range []string{"/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources"} {
		m, _ := filepath.Glob(pat)
		sort.Strings(m)
		files = append(files, m...)
	}
	var out []aptSource
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		out = append(out, parseAptSources(string(b), strings.HasSuffix(f, ".sources"), suite)...)
	}
	return out
}

// parseAptSources parses one-line ("deb [opts] URI suite comp…") or
// deb822 (.sources) text and keeps the deb sources of suite/main.
func parseAptSources(text string, deb822 bool, suite string) []aptSource {
	var out []aptSource
	if !deb822 {
		for _, line := range strings.Split(text, "\n") {
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
				f = f[j+1:]
			}
			if len(f) < 3 || f[1] != suite || !contains(f[2:], "main") {
				continue
			}
			out = append(out, aptSource{URI: f[0], Keyring: fileOnly(keyring)})
		}
		return out
	}
	for _, para := range splitParagraphs(text) {
		if strings.EqualFold(para["enabled"], "no") {
			continue
		}
		if !contains(strings.Fields(para["types"]), "deb") || !contains(strings.Fields(para["suites"]), suite) ||
			!contains(strings.Fields(para["components"]), "main") {
			continue
		}
		for _, u := range strings.Fields(para["uris"]) {
			out = append(out, aptSource{URI: u, Keyring: fileOnly(para["signed-by"])})
		}
	}
	return out
}

func fileOnly(k string) string {
	k = strings.TrimSpace(k)
	if strings.HasPrefix(k, "/") && !strings.ContainsAny(k, " \n") {
		return k
	}
	return ""
}

// splitParagraphs parses deb822 stanzas into lower-cased field maps
// (continuation lines are joined; comments dropped).
func splitParagraphs(text string) []map[string]string {
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
			cur[last] += "\n" + strings.TrimSpace(line)
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
