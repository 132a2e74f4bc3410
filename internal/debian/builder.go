package debian

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ulikunitz/xz"
)

// BasePackages are installed besides the Essential set: what scripts
// commonly use without declaring it (awk), since no maintainer script runs
// to pick an alternative.
var BasePackages = []string{"mawk"}

// Builder fetches, verifies and unpacks packages of a Debian archive.
type Builder struct {
	Root     string       // where the apt configuration and keyrings are read ("/")
	Cache    Cache        // .deb files, indices, resolutions and root file systems
	Client   *http.Client // nil: http.DefaultClient
	Arch     string       // Debian architecture; "" means this machine's
	Progress func(string) // one line per step; nil: none
	Now      func() time.Time
}

// Plan is a resolved set of packages and where they came from.
type Plan struct {
	Suite    string    `json:"suite"`
	Arch     string    `json:"arch"`
	Want     []string  `json:"want"`
	Sources  []string  `json:"sources"` // "URI suite (signed by …)"
	Packages []Package `json:"packages"`
}

// Versions returns "name=version" of every package, in name order.
func (p *Plan) Versions() []string {
	out := make([]string, len(p.Packages))
	for i, pk := range p.Packages {
		out[i] = pk.Name + "=" + pk.Version
	}
	return out
}

// Version returns the version of package name in the plan.
func (p *Plan) Version(name string) (string, bool) {
	for _, pk := range p.Packages {
		if pk.Name == name {
			return pk.Version, true
		}
	}
	return "", false
}

// Bytes is the total download size.
func (p *Plan) Bytes() int64 {
	var n int64
	for _, pk := range p.Packages {
		n += pk.Size
	}
	return n
}

// Key is a digest of the exact packages (their SHA256 sums).
func (p *Plan) Key() string {
	h := sha256.New()
	fmt.Fprintf(h, "plan-v1\x00%s\x00", p.Arch)
	for _, pk := range p.Packages {
		fmt.Fprintf(h, "%s\x00%s\x00", pk.Name, pk.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (b *Builder) progress(format string, args ...any) {
	if b.Progress != nil {
		b.Progress(fmt.Sprintf(format, args...))
	}
}

func (b *Builder) client() *http.Client {
	if b.Client != nil {
		return b.Client
	}
	return http.DefaultClient
}

func (b *Builder) arch() string {
	if b.Arch != "" {
		return b.Arch
	}
	return HostArch()
}

func (b *Builder) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// HostArch is the Debian name of this machine's architecture.
func HostArch() string {
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

// Resolve reads the signed indices of suite and returns the closure of
// want, the Essential set and BasePackages. A resolution is cached by the
// digests of the indices it read, so a later call with the same archive
// state reads no index.
func (b *Builder) Resolve(ctx context.Context, suite string, want []string) (*Plan, error) {
	root := b.Root
	if root == "" {
		root = "/"
	}
	srcs, err := HostSources(root, suite)
	if err != nil {
		return nil, err
	}
	arch := b.arch()
	rels, err := b.releases(ctx, root, srcs)
	if err != nil {
		return nil, err
	}
	type index struct {
		rel  *Release
		path string // under dists/SUITE
		sum  FileSum
	}
	var indices []index
	plan := &Plan{Suite: suite, Arch: arch, Want: sortedUnique(want)}
	key := sha256.New()
	fmt.Fprintf(key, "resolve-v1\x00%s\x00%s\x00%s\x00", arch, suite, strings.Join(plan.Want, ","))
	for _, rel := range rels {
		found := false
		for _, ext := range []string{".gz", ".xz"} {
			p := "main/binary-" + arch + "/Packages" + ext
			if s, ok := rel.Files[p]; ok {
				indices = append(indices, index{rel: rel, path: p, sum: s})
				fmt.Fprintf(key, "%s\x00%s\x00", rel.Source, s.SHA256)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("debian: %s has no signed main/binary-%s/Packages index", rel.Source, arch)
		}
		plan.Sources = append(plan.Sources, fmt.Sprintf("%s (signed by %s)", rel.Source, rel.Signer))
	}
	resolved := b.Cache.Path("resolved", hex.EncodeToString(key.Sum(nil)), ".json")
	if data, err := os.ReadFile(resolved); err == nil {
		var cached Plan
		if json.Unmarshal(data, &cached) == nil && len(cached.Packages) > 0 {
			return &cached, nil
		}
	}
	t0 := time.Now()
	ix := NewIndex(arch)
	for _, in := range indices {
		u := indexURL(in.rel, in.path, in.sum)
		file, err := b.Cache.Fetch(ctx, b.client(), u, "indices", in.sum.SHA256, filepath.Ext(in.path), in.sum.Size)
		if err != nil {
			return nil, err
		}
		if err := addIndexFile(ix, file, in.rel.Source.URI); err != nil {
			return nil, fmt.Errorf("debian: %s: %w", u, err)
		}
	}
	all := append(append(ix.Essential(), BasePackages...), want...)
	pkgs, err := ix.Resolve(all)
	if err != nil {
		return nil, err
	}
	plan.Packages = pkgs
	b.progress("debian: resolved %s + the Essential set to %d packages (%.1f MB) from %d signed indices in %s",
		strings.Join(plan.Want, " "), len(pkgs), float64(plan.Bytes())/1e6, len(indices), time.Since(t0).Round(10*time.Millisecond))
	if data, err := json.MarshalIndent(plan, "", " "); err == nil {
		_ = writeAtomic(resolved, func(w io.Writer) error { _, err := w.Write(data); return err })
	}
	return plan, nil
}

// indexURL is where an index is fetched: by hash when the release says
// the mirror serves that (no race with a mirror update).
func indexURL(rel *Release, p string, sum FileSum) string {
	base := strings.TrimRight(rel.Source.URI, "/") + "/dists/" + rel.Source.Suite + "/"
	if rel.AcquireByHash {
		return base + p[:strings.LastIndexByte(p, '/')] + "/by-hash/SHA256/" + sum.SHA256
	}
	return base + p
}

func addIndexFile(ix *Index, file, uri string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader
	switch filepath.Ext(file) {
	case ".gz":
		gz, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		r = gz
	case ".xz":
		xr, err := xz.NewReader(f)
		if err != nil {
			return err
		}
		r = xr
	default:
		r = f
	}
	return ix.Add(r, uri)
}

// releases fetches and verifies the InRelease of every source, at once.
// An optional source (SUITE-updates, SUITE-security) that cannot be had is
// left out with a note; a base suite that cannot is an error.
func (b *Builder) releases(ctx context.Context, root string, srcs []Source) ([]*Release, error) {
	rels := make([]*Release, len(srcs))
	errs := make([]error, len(srcs))
	var wg sync.WaitGroup
	for i, src := range srcs {
		wg.Go(func() { rels[i], errs[i] = b.release(ctx, root, src) })
	}
	wg.Wait()
	var out []*Release
	seen := map[string]bool{}
	for i, src := range srcs {
		if errs[i] != nil {
			if src.Optional && ctx.Err() == nil {
				b.progress("debian: leaving out %s: %v", src, errs[i])
				continue
			}
			return nil, errs[i]
		}
		if k := src.String(); !seen[k] {
			seen[k] = true
			out = append(out, rels[i])
		}
	}
	return out, nil
}

func (b *Builder) release(ctx context.Context, root string, src Source) (*Release, error) {
	keyring, err := LoadKeyring(root, src.Keyring)
	if err != nil {
		return nil, fmt.Errorf("%w (source %s from %s)", err, src, src.From)
	}
	u := strings.TrimRight(src.URI, "/") + "/dists/" + src.Suite + "/InRelease"
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	body, err := get(ctx, b.client(), u)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("debian: download %s: %w", u, err)
	}
	return VerifyInRelease(src, data, keyring, b.now())
}

// Fetch makes every package of plan present in the cache (downloading
// four at a time) and returns their paths in plan order.
func (b *Builder) Fetch(ctx context.Context, plan *Plan) ([]string, error) {
	paths := make([]string, len(plan.Packages))
	var missing []int
	for i, p := range plan.Packages {
		paths[i] = b.Cache.Path("debs", p.SHA256, ".deb")
		if ok, _ := fileHasSize(paths[i], p.Size); !ok {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return paths, nil
	}
	var bytes int64
	for _, i := range missing {
		bytes += plan.Packages[i].Size
	}
	t0 := time.Now()
	b.progress("debian: downloading %d of %d packages (%.1f MB)", len(missing), len(plan.Packages), float64(bytes)/1e6)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(missing))
	work := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for j := range work {
				p := plan.Packages[missing[j]]
				u := strings.TrimRight(p.URI, "/") + "/" + p.Filename
				if _, err := b.Cache.Fetch(ctx, b.client(), u, "debs", p.SHA256, ".deb", p.Size); err != nil {
					errs[j] = fmt.Errorf("package %s %s: %w", p.Name, p.Version, err)
					cancel()
				}
			}
		})
	}
	for j := range missing {
		work <- j
	}
	close(work)
	wg.Wait()
	// the failure that cancelled the others, not one of their cancellations
	if i := slices.IndexFunc(errs, func(err error) bool { return err != nil && !errors.Is(err, context.Canceled) }); i >= 0 {
		return nil, errs[i]
	}
	if i := slices.IndexFunc(errs, func(err error) bool { return err != nil }); i >= 0 {
		return nil, errs[i]
	}
	b.progress("debian: downloaded %.1f MB in %s", float64(bytes)/1e6, time.Since(t0).Round(10*time.Millisecond))
	return paths, nil
}

// Rootfs returns the path of a cached tar of the root file system of plan
// with users, building it (one process at a time) when it is missing.
func (b *Builder) Rootfs(ctx context.Context, plan *Plan, users []User) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "rootfs-v1\x00%s\x00", plan.Key())
	for _, u := range users {
		fmt.Fprintf(h, "%s\x00%d\x00%s\x00%s\x00", u.Name, u.UID, u.Home, u.Shell)
	}
	for _, k := range slices.Sorted(maps.Keys(Alternatives)) {
		fmt.Fprintf(h, "%s\x00%s\x00", k, Alternatives[k])
	}
	dst := b.Cache.Path("rootfs", hex.EncodeToString(h.Sum(nil))[:32], ".tar")
	if ok, _ := fileHasSize(dst, -1); ok {
		return dst, nil
	}
	debs, err := b.Fetch(ctx, plan)
	if err != nil {
		return "", err
	}
	unlock, err := b.Cache.Lock(ctx, "rootfs-"+filepath.Base(dst), func() {
		b.progress("debian: another process is unpacking the same root file system; waiting for it")
	})
	if err != nil {
		return "", err
	}
	defer unlock()
	if ok, _ := fileHasSize(dst, -1); ok {
		return dst, nil
	}
	t0 := time.Now()
	if err := writeAtomic(dst, func(w io.Writer) error { return writeRootfs(ctx, w, plan, debs, users) }); err != nil {
		return "", err
	}
	st, _ := os.Stat(dst)
	b.progress("debian: unpacked %d packages into a %.0f MB root file system in %s", len(debs), float64(st.Size())/1e6, time.Since(t0).Round(10*time.Millisecond))
	return dst, nil
}

// writeRootfs writes the tree of plan: packages are decompressed in
// parallel (one per core, a few ahead) and written in plan order.
func writeRootfs(ctx context.Context, w io.Writer, plan *Plan, debs []string, users []User) error {
	rw, err := NewRootfsWriter(w, users)
	if err != nil {
		return err
	}
	type result struct {
		entries []Entry
		err     error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]chan result, len(debs))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	ahead := make(chan struct{}, runtime.GOMAXPROCS(0)+1) // bounds memory
	go func() {
		for i := range debs {
			select {
			case ahead <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				e, err := ReadDeb(debs[i], plan.Packages[i].Name+" "+plan.Packages[i].Version)
				results[i] <- result{e, err}
			}()
		}
	}()
	for i, p := range plan.Packages {
		var r result
		select {
		case r = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-ahead
		if r.err != nil {
			return r.err
		}
		if err := rw.AddEntries(r.entries, p.Name+" "+p.Version); err != nil {
			return err
		}
	}
	return rw.Close()
}

// writeAtomic makes dst appear whole or not at all: write fills a
// temporary file beside it, which is renamed to dst only when write and
// the close succeed, and removed otherwise.
func writeAtomic(dst string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("debian: cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".part-*")
	if err != nil {
		return fmt.Errorf("debian: cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	err = write(tmp)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("debian: cache: %w", cerr)
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("debian: cache: %w", err)
	}
	return nil
}

func sortedUnique(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
}
