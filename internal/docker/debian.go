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
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	dc "github.com/ory/dockertest/v3/docker"

	"github.com/evalrun/evalrun/internal/debian"
)

// Labels of images built from Debian packages.
const (
	// LabelRecipe is DebianImage.Hash: a local image with it is reused.
	LabelRecipe = "evalrun.recipe"
	// LabelPackages lists "name=version" of every package in the image.
	LabelPackages = "evalrun.packages"
)

// DebianImage describes an image built offline from Debian packages: the
// closure of Packages plus Debian's Essential set, unpacked by
// internal/debian (signed indices, checked .debs, no maintainer scripts),
// plus Files and Trees.
type DebianImage struct {
	// Tag names the image. When empty it is Repo:<version of
	// VersionOf>-<hash>, e.g. evalrun/redis:7.0.15-1a2b3c4d5e6f.
	Tag       string
	Repo      string // e.g. "evalrun/redis"
	VersionOf string // the package whose upstream version the tag carries
	Suite     string // default "bookworm"
	Packages  []string
	// Users are accounts the packages' maintainer scripts would have made.
	Users []debian.User
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

// Hash is a short digest of everything that goes into the image but the
// package versions (the archive decides those), so a changed recipe gives
// a new tag and LabelRecipe.
func (d DebianImage) Hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "v2\x00%s\x00%s\x00%s\x00", defaultSuite(d.Suite), strings.Join(normPackages(d.Packages), ","), d.Tag)
	for _, u := range d.Users {
		fmt.Fprintf(h, "user\x00%s\x00%d\x00%s\x00%s\x00", u.Name, u.UID, u.Home, u.Shell)
	}
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

// check validates the recipe before anything is fetched.
func (d DebianImage) check() error {
	if !pkgRe.MatchString(defaultSuite(d.Suite)) {
		return fmt.Errorf("docker: bad suite %q", d.Suite)
	}
	for _, p := range normPackages(d.Packages) {
		if !pkgRe.MatchString(p) {
			return fmt.Errorf("docker: bad package name %q", p)
		}
	}
	if d.Tag == "" && (d.Repo == "" || d.VersionOf == "") {
		return errors.New("docker: a Debian image needs a Tag, or a Repo and the package whose version names it")
	}
	if d.Tag != "" && !refRe.MatchString(d.Tag) {
		return fmt.Errorf("docker: bad image tag %q", d.Tag)
	}
	for p := range d.Files {
		if _, err := relPath(p); err != nil {
			return err
		}
	}
	for p, dir := range d.Trees {
		if _, err := relPath(p); err != nil {
			return err
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("docker: image tree %s: %s is not a directory", p, dir)
		}
	}
	_, err := imageChanges(d.Entrypoint, d.Cmd, d.Env, d.Expose, "debian")
	return err
}

// LocalDebianImage returns the newest local image built from recipe d (its
// LabelRecipe), if any: no network is needed to reuse one.
func (e *Engine) LocalDebianImage(ctx context.Context, d DebianImage) (ref, id string, ok bool, err error) {
	imgs, err := e.client.ListImages(dc.ListImagesOptions{Context: ctx, Filters: map[string][]string{"label": {LabelRecipe + "=" + d.Hash()}}})
	if err != nil {
		return "", "", false, fmt.Errorf("docker: list images: %w", err)
	}
	ref, id = newestTagged(imgs, func(t string) bool { return d.Tag == "" || t == d.Tag })
	return ref, id, ref != "", nil
}

// EnsureDebianImage returns a local image of recipe d, building it when
// there is none. Processes that ask at the same time build it once (a
// lock in the cache).
func (e *Engine) EnsureDebianImage(ctx context.Context, d DebianImage) (ref, id string, err error) {
	if ref, id, ok, err := e.LocalDebianImage(ctx, d); err != nil || ok {
		return ref, id, err
	}
	return e.buildDebianImage(ctx, d, false)
}

// BuildDebianImage builds d anew (fresh package versions from the archive)
// and returns its reference and ID.
func (e *Engine) BuildDebianImage(ctx context.Context, d DebianImage) (ref, id string, err error) {
	return e.buildDebianImage(ctx, d, true)
}

// BuildOffline connects to Docker and builds d anew (BuildDebianImage),
// with the engine's log lines sent to d.Progress: what a driver's
// drivers.ImageBuilder.BuildImage does. It returns the image's reference.
func BuildOffline(ctx context.Context, d DebianImage) (string, error) {
	e, err := Connect(ctx)
	if err != nil {
		return "", err
	}
	if d.Progress != nil {
		e.Logf = func(f string, a ...any) { d.Progress(fmt.Sprintf(f, a...)) }
	}
	ref, _, err := e.BuildDebianImage(ctx, d)
	if err != nil {
		name := d.Repo
		if name == "" {
			name = d.Tag
		}
		return "", fmt.Errorf("build the %s image: %w", name, err)
	}
	return ref, nil
}

func (e *Engine) buildDebianImage(ctx context.Context, d DebianImage, force bool) (string, string, error) {
	progress := d.Progress
	if progress == nil {
		progress = func(s string) { e.logf("%s", s) }
	}
	if err := d.check(); err != nil {
		return "", "", err
	}
	dir, err := debian.DefaultCacheDir()
	if err != nil {
		return "", "", err
	}
	cache := debian.Cache{Dir: dir}
	t0 := time.Now()
	waited := false
	unlock, err := cache.Lock(ctx, "image-"+d.Hash(), func() {
		waited = true
		progress("docker: another process is building the same image; waiting for it")
	})
	if err != nil {
		return "", "", err
	}
	defer unlock()
	if !force || waited { // built by another process while we waited
		if ref, id, ok, err := e.LocalDebianImage(ctx, d); err != nil || ok {
			return ref, id, err
		}
	}
	b := &debian.Builder{Root: "/", Cache: cache, Progress: progress}
	suite := defaultSuite(d.Suite)
	plan, err := b.Resolve(ctx, suite, normPackages(d.Packages))
	if err != nil {
		return "", "", err
	}
	tag := d.Tag
	if tag == "" {
		v, ok := plan.Version(d.VersionOf)
		if !ok {
			return "", "", fmt.Errorf("docker: %s is not among the packages of %s", d.VersionOf, d.Repo)
		}
		tag = d.Repo + ":" + UpstreamVersion(v) + "-" + d.Hash()
	}
	rootfs, err := b.Rootfs(ctx, plan, d.Users)
	if err != nil {
		return "", "", err
	}
	changes, _ := imageChanges(d.Entrypoint, d.Cmd, d.Env, d.Expose, "debian")
	changes = append(changes, "LABEL "+LabelRecipe+"="+d.Hash(),
		"LABEL "+LabelPackages+"="+dockerfileQuote(strings.Join(plan.Versions(), " ")))
	f, err := os.Open(rootfs)
	if err != nil {
		return "", "", fmt.Errorf("docker: open cached root filesystem: %w", err)
	}
	defer f.Close()
	t1 := time.Now()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(mergeRootfs(pw, f, d.Files, d.Trees)) }()
	id, err := e.importImage(ctx, tag, changes, pr)
	pr.CloseWithError(errors.New("import ended"))
	if err != nil {
		return "", "", err
	}
	progress(fmt.Sprintf("docker: imported %s (%s) in %s; built in %s", tag, shortID(id),
		time.Since(t1).Round(100*time.Millisecond), time.Since(t0).Round(100*time.Millisecond)))
	return tag, id, nil
}

// UpstreamVersion is the part of a Debian version a tag can carry: no
// epoch, no Debian revision ("5:7.0.15-1~deb12u1" → "7.0.15").
func UpstreamVersion(v string) string {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i > 0 {
		v = v[:i]
	}
	v = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, v)
	if v == "" {
		return "unknown"
	}
	return v
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
