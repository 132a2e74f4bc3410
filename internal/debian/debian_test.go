package debian

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func TestParseSources(t *testing.T) {
	deb822 := `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main

Types: deb deb-src
URIs: http://mirror.example/debian
Suites: bookworm
Components: contrib main
Enabled: no
`
	got := ParseSources(deb822, true, "x.sources", "bookworm")
	want := []Source{
		{URI: "http://deb.debian.org/debian", Suite: "bookworm", Keyring: "/usr/share/keyrings/debian-archive-keyring.gpg", From: "x.sources"},
		{URI: "http://deb.debian.org/debian", Suite: "bookworm-updates", Keyring: "/usr/share/keyrings/debian-archive-keyring.gpg", Optional: true, From: "x.sources"},
		{URI: "http://deb.debian.org/debian-security", Suite: "bookworm-security", Optional: true, From: "x.sources"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deb822:\n got %+v\nwant %+v", got, want)
	}
	oneLine := `# comment
deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main
deb-src http://ftp.example/debian bookworm main
deb [arch=amd64 signed-by=/etc/apt/keyrings/x.gpg] http://ftp.example/debian bookworm main contrib # local
deb http://ftp2.example/debian bookworm contrib
`
	got = ParseSources(oneLine, false, "sources.list", "bookworm")
	want = []Source{{URI: "http://ftp.example/debian", Suite: "bookworm", Keyring: "/etc/apt/keyrings/x.gpg", From: "sources.list:4"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("one-line:\n got %+v\nwant %+v", got, want)
	}
}

func TestHostSources(t *testing.T) {
	root := t.TempDir()
	if _, err := HostSources(root, "bookworm"); err == nil || !strings.Contains(err.Error(), MirrorEnv) {
		t.Errorf("no sources: %v, want a hint naming %s", err, MirrorEnv)
	}
	t.Setenv(MirrorEnv, "ftp://x")
	if _, err := HostSources(root, "bookworm"); err == nil || !strings.Contains(err.Error(), "http://") {
		t.Errorf("bad override: %v", err)
	}
	t.Setenv(MirrorEnv, "http://127.0.0.1:1/debian")
	srcs, err := HostSources(root, "bookworm")
	if err != nil || len(srcs) != 2 || srcs[0].URI != "http://127.0.0.1:1/debian" || srcs[0].Optional || !srcs[1].Optional {
		t.Errorf("override: %+v, %v", srcs, err)
	}
}

func TestCanonicalAndExcluded(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"./bin/sh", "usr/bin/sh"}, {"./lib64/ld.so", "usr/lib64/ld.so"}, {"./sbin/", "usr/sbin"},
		{"./usr/bin/x", "usr/bin/x"}, {"./etc/passwd", "etc/passwd"}, {"./", ""}, {"./binary/x", "binary/x"},
		{"../../etc/x", "etc/x"},
	} {
		if got := canonical(tt.in); got != tt.want {
			t.Errorf("canonical(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for name, want := range map[string]bool{
		"usr/share/doc/x/README": true, "usr/share/doc/x/copyright": false, "usr/share/doc": false,
		"usr/share/man/man1/ls.1.gz": true, "usr/share/locale/de/x.mo": true, "usr/bin/ls": false,
	} {
		if got := excluded(name); got != want {
			t.Errorf("excluded(%q) = %v, want %v", name, got, want)
		}
	}
}

// fakePkg is a package of the fake archive.
type fakePkg struct {
	name, version, depends, provides string
	essential                        bool
	files                            map[string]string // path in data.tar → content; "->x" makes a symlink
}

// fakeArchive is a signed Debian archive served by httptest: one suite,
// main, amd64.
type fakeArchive struct {
	t       *testing.T
	srv     *httptest.Server
	root    string // apt configuration root (sources, keyring)
	key     *openpgp.Entity
	files   map[string][]byte // URL path → content
	hits    map[string]*atomic.Int64
	mu      sync.Mutex
	corrupt map[string]bool // URL paths served with a flipped byte
}

func newFakeArchive(t *testing.T, pkgs []fakePkg) *fakeArchive {
	t.Helper()
	key, err := openpgp.NewEntity("evalrun test archive", "", "test@evalrun.invalid", &packet.Config{RSABits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	a := &fakeArchive{t: t, root: t.TempDir(), key: key, files: map[string][]byte{}, hits: map[string]*atomic.Int64{}, corrupt: map[string]bool{}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	var index bytes.Buffer
	for _, p := range pkgs {
		deb := buildDeb(t, p)
		fn := fmt.Sprintf("pool/main/%s/%s_%s_amd64.deb", p.name[:1], p.name, p.version)
		a.files["/debian/"+fn] = deb
		sum := sha256.Sum256(deb)
		fmt.Fprintf(&index, "Package: %s\nVersion: %s\nArchitecture: amd64\n", p.name, p.version)
		if p.essential {
			index.WriteString("Essential: yes\n")
		}
		if p.depends != "" {
			fmt.Fprintf(&index, "Depends: %s\n", p.depends)
		}
		if p.provides != "" {
			fmt.Fprintf(&index, "Provides: %s\n", p.provides)
		}
		fmt.Fprintf(&index, "Filename: %s\nSize: %d\nSHA256: %s\n\n", fn, len(deb), hex.EncodeToString(sum[:]))
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	mustWrite(t, zw, index.Bytes())
	mustClose(t, zw)
	a.files["/debian/dists/testsuite/main/binary-amd64/Packages.gz"] = gz.Bytes()
	a.sign(nil)
	var pub bytes.Buffer
	if err := key.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(a.root, "usr/share/keyrings/test-archive.gpg"), pub.Bytes())
	writeFile(t, filepath.Join(a.root, "etc/apt/sources.list.d/test.sources"), []byte(fmt.Sprintf(
		"Types: deb\nURIs: %s/debian\nSuites: testsuite testsuite-updates\nComponents: main\nSigned-By: /usr/share/keyrings/test-archive.gpg\n", a.srv.URL)))
	return a
}

// sign writes InRelease for the current index, signed by signer (nil: the
// archive's key).
func (a *fakeArchive) sign(signer *openpgp.Entity) {
	if signer == nil {
		signer = a.key
	}
	gz := a.files["/debian/dists/testsuite/main/binary-amd64/Packages.gz"]
	sum := sha256.Sum256(gz)
	rel := fmt.Sprintf("Origin: Test\nCodename: testsuite\nDate: %s\nArchitectures: amd64\nComponents: main\nSHA256:\n %s %d main/binary-amd64/Packages.gz\n",
		time.Now().UTC().Format(time.RFC1123), hex.EncodeToString(sum[:]), len(gz))
	var out bytes.Buffer
	w, err := clearsign.Encode(&out, signer.PrivateKey, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	mustWrite(a.t, w, []byte(rel))
	mustClose(a.t, w)
	a.files["/debian/dists/testsuite/InRelease"] = out.Bytes()
}

func (a *fakeArchive) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	b, ok := a.files[r.URL.Path]
	bad := a.corrupt[r.URL.Path]
	c := a.hits[r.URL.Path]
	if c == nil {
		c = &atomic.Int64{}
		a.hits[r.URL.Path] = c
	}
	a.mu.Unlock()
	c.Add(1)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if bad {
		b = append([]byte(nil), b...)
		b[len(b)/2] ^= 0xff
	}
	_, _ = w.Write(b) // the client sees a short body if this fails
}

func (a *fakeArchive) builder(t *testing.T, cache string) *Builder {
	return &Builder{Root: a.root, Cache: Cache{Dir: cache}, Arch: "amd64", Client: a.srv.Client(), Progress: func(s string) { t.Log(s) }}
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildDeb makes a .deb: an ar archive of debian-binary, control.tar.gz
// and data.tar.gz.
func buildDeb(t *testing.T, p fakePkg) []byte {
	t.Helper()
	tgz := func(add func(tw *tar.Writer)) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		tw := tar.NewWriter(zw)
		add(tw)
		mustClose(t, tw)
		mustClose(t, zw)
		return b.Bytes()
	}
	control := tgz(func(tw *tar.Writer) {
		c := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: t <t@t>\nDescription: test\n", p.name, p.version)
		mustHeader(t, tw, &tar.Header{Name: "./control", Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg})
		mustWrite(t, tw, []byte(c))
	})
	data := tgz(func(tw *tar.Writer) {
		names := make([]string, 0, len(p.files))
		for n := range p.files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if target, ok := strings.CutPrefix(p.files[n], "->"); ok {
				mustHeader(t, tw, &tar.Header{Name: "./" + n, Linkname: target, Mode: 0o777, Typeflag: tar.TypeSymlink})
				continue
			}
			mustHeader(t, tw, &tar.Header{Name: "./" + path2dir(n), Mode: 0o755, Typeflag: tar.TypeDir})
			mustHeader(t, tw, &tar.Header{Name: "./" + n, Mode: 0o755, Size: int64(len(p.files[n])), Typeflag: tar.TypeReg})
			mustWrite(t, tw, []byte(p.files[n]))
		}
	})
	var ar bytes.Buffer
	ar.WriteString("!<arch>\n")
	for _, m := range []struct {
		name string
		data []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", control}, {"data.tar.gz", data}} {
		fmt.Fprintf(&ar, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, 0, 0, 0, "100644", len(m.data))
		ar.Write(m.data)
		if len(m.data)%2 == 1 {
			ar.WriteByte('\n')
		}
	}
	return ar.Bytes()
}

func path2dir(n string) string {
	if i := strings.LastIndexByte(n, '/'); i >= 0 {
		return n[:i+1]
	}
	return ""
}

var testPackages = []fakePkg{
	{name: "libc6", version: "2.36-9", essential: false, files: map[string]string{"lib/x86_64-linux-gnu/libc.so.6": "libc", "lib64/ld-linux-x86-64.so.2": "->/lib/x86_64-linux-gnu/ld.so"}},
	{name: "dash", version: "0.5.12-2", essential: true, depends: "libc6 (>= 2.34)", files: map[string]string{"bin/dash": "dash", "bin/sh": "->dash"}},
	{name: "mawk", version: "1.3.4-3", depends: "libc6", provides: "awk", files: map[string]string{"usr/bin/mawk": "mawk"}},
	{name: "gawk", version: "1:5.2.1-2", depends: "libc6", provides: "awk", files: map[string]string{"usr/bin/gawk": "gawk"}},
	{name: "server", version: "2:7.0.15-1", depends: "libc6, awk, usrmerge | usr-is-merged, helper (>= 1.0) | other", files: map[string]string{"usr/bin/server": "srv", "usr/share/doc/server/README": "doc", "usr/share/doc/server/copyright": "c"}},
	{name: "usrmerge", version: "37", depends: "perl", files: map[string]string{"usr/lib/usrmerge/x": "x"}},
	{name: "usr-is-merged", version: "37", files: map[string]string{"usr/share/doc/usr-is-merged/copyright": "c"}},
	{name: "helper", version: "0.9", files: map[string]string{"usr/bin/helper": "old"}},
	{name: "other", version: "1", files: map[string]string{"usr/bin/other": "other"}},
	{name: "broken", version: "1", depends: "missing-lib", files: map[string]string{"usr/bin/broken": "b"}},
}

func TestBuildFromSignedArchive(t *testing.T) {
	a := newFakeArchive(t, testPackages)
	cache := t.TempDir()
	b := a.builder(t, cache)
	ctx := context.Background()
	plan, err := b.Resolve(ctx, "testsuite", []string{"server"})
	if err != nil {
		t.Fatal(err)
	}
	// dash (Essential), mawk (base; gawk is not taken for "awk"),
	// usr-is-merged (not usrmerge and its perl), other (helper is too old)
	want := []string{"dash=0.5.12-2", "libc6=2.36-9", "mawk=1.3.4-3", "other=1", "server=2:7.0.15-1", "usr-is-merged=37"}
	if got := plan.Versions(); !reflect.DeepEqual(got, want) {
		t.Errorf("plan %v, want %v", got, want)
	}
	if len(plan.Sources) != 1 || !strings.Contains(plan.Sources[0], "signed by") {
		t.Errorf("sources %v (testsuite-updates is absent: left out)", plan.Sources)
	}
	p, err := b.Rootfs(ctx, plan, []User{{Name: "srv", UID: 999, Home: "/var/lib/srv"}})
	if err != nil {
		t.Fatal(err)
	}
	entries := readTar(t, p)
	for name, want := range map[string]string{
		"bin":                            "->usr/bin",
		"lib64":                          "->usr/lib64",
		"usr/bin/sh":                     "->dash",
		"usr/bin/dash":                   "dash",
		"usr/lib64/ld-linux-x86-64.so.2": "->/lib/x86_64-linux-gnu/ld.so",
		"usr/bin/awk":                    "->/usr/bin/mawk",
		"usr/share/doc/server/copyright": "c",
		"tmp/":                           "dir 1777",
		"var/lib/srv/":                   "dir 755",
	} {
		if got := entries[name]; got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if _, ok := entries["usr/share/doc/server/README"]; ok {
		t.Error("documentation was not left out")
	}
	if pw := entries["etc/passwd"]; !strings.Contains(pw, "root:x:0:0:") || !strings.Contains(pw, "srv:x:999:999::/var/lib/srv:/usr/sbin/nologin") {
		t.Errorf("passwd %q", pw)
	}
	// a second resolve reads no index: the resolution is cached
	idx := a.hits["/debian/dists/testsuite/main/binary-amd64/Packages.gz"].Load()
	if _, err := b.Resolve(ctx, "testsuite", []string{"server"}); err != nil {
		t.Fatal(err)
	}
	if n := a.hits["/debian/dists/testsuite/main/binary-amd64/Packages.gz"].Load(); n != idx || idx != 1 {
		t.Errorf("index fetched %d then %d times, want 1 and 1", idx, n)
	}
}

func readTar(t *testing.T, p string) map[string]string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := out[h.Name]; dup {
			t.Errorf("%s twice in the tree", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeSymlink:
			out[h.Name] = "->" + h.Linkname
		case tar.TypeDir:
			out[h.Name] = fmt.Sprintf("dir %o", h.Mode)
		default:
			b, _ := io.ReadAll(tr)
			out[h.Name] = string(b)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	ctx := context.Background()
	oneLine := func(t *testing.T, err error, want ...string) {
		t.Helper()
		if err == nil {
			t.Fatalf("no error, want one saying %q", want)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error is not one line: %q", err)
		}
	}
	noPartial := func(t *testing.T, cache string) {
		t.Helper()
		_ = filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.Contains(d.Name(), ".part") {
				t.Errorf("left in the cache: %s", p)
			}
			return nil
		})
	}
	t.Run("bad signature", func(t *testing.T) {
		a := newFakeArchive(t, testPackages)
		other, err := openpgp.NewEntity("someone else", "", "x@evalrun.invalid", &packet.Config{RSABits: 2048})
		if err != nil {
			t.Fatal(err)
		}
		a.sign(other)
		_, err = a.builder(t, t.TempDir()).Resolve(ctx, "testsuite", []string{"server"})
		oneLine(t, err, "InRelease signature", "testsuite", "test-archive.gpg")
	})
	t.Run("tampered release", func(t *testing.T) {
		a := newFakeArchive(t, testPackages)
		a.files["/debian/dists/testsuite/InRelease"] = bytes.Replace(a.files["/debian/dists/testsuite/InRelease"], []byte("Origin: Test"), []byte("Origin: Evil"), 1)
		_, err := a.builder(t, t.TempDir()).Resolve(ctx, "testsuite", []string{"server"})
		oneLine(t, err, "InRelease signature")
	})
	t.Run("index checksum mismatch", func(t *testing.T) {
		a := newFakeArchive(t, testPackages)
		a.corrupt["/debian/dists/testsuite/main/binary-amd64/Packages.gz"] = true
		cache := t.TempDir()
		_, err := a.builder(t, cache).Resolve(ctx, "testsuite", []string{"server"})
		oneLine(t, err, "Packages.gz", "checksum mismatch")
		noPartial(t, cache)
	})
	t.Run("deb checksum mismatch", func(t *testing.T) {
		a := newFakeArchive(t, testPackages)
		a.corrupt["/debian/pool/main/s/server_2:7.0.15-1_amd64.deb"] = true
		cache := t.TempDir()
		b := a.builder(t, cache)
		plan, err := b.Resolve(ctx, "testsuite", []string{"server"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.Rootfs(ctx, plan, nil)
		oneLine(t, err, "package server 2:7.0.15-1", "server_2:7.0.15-1_amd64.deb", "checksum mismatch")
		noPartial(t, cache)
		for _, p := range plan.Packages {
			_, err := os.Stat(b.Cache.Path("debs", p.SHA256, ".deb"))
			if p.Name == "server" && err == nil {
				t.Error("the corrupt package is in the cache")
			}
		}
		if m, _ := filepath.Glob(filepath.Join(cache, "rootfs", "*")); len(m) > 0 {
			t.Errorf("root filesystem left: %v", m)
		}
	})
	t.Run("no such package", func(t *testing.T) {
		a := newFakeArchive(t, testPackages)
		_, err := a.builder(t, t.TempDir()).Resolve(ctx, "testsuite", []string{"no-such-db"})
		oneLine(t, err, `no package "no-such-db"`)
	})
	t.Run("missing dependency", func(t *testing.T) {
		a := newFakeArchive(t, testPackages)
		_, err := a.builder(t, t.TempDir()).Resolve(ctx, "testsuite", []string{"broken"})
		oneLine(t, err, "broken 1", "missing-lib")
	})
	t.Run("mirror unreachable", func(t *testing.T) {
		a := newFakeArchive(t, testPackages)
		a.srv.Close()
		_, err := a.builder(t, t.TempDir()).Resolve(ctx, "testsuite", []string{"server"})
		oneLine(t, err, "cannot reach", a.srv.URL+"/debian/dists/testsuite/InRelease")
	})
}

// Processes that build at the same time fetch each package once.
func TestConcurrentBuildsShareTheCache(t *testing.T) {
	a := newFakeArchive(t, testPackages)
	cache := t.TempDir()
	var wg sync.WaitGroup
	paths := make([]string, 4)
	errs := make([]error, 4)
	for i := range paths {
		wg.Go(func() {
			b := a.builder(t, cache)
			plan, err := b.Resolve(context.Background(), "testsuite", []string{"server"})
			if err == nil {
				paths[i], err = b.Rootfs(context.Background(), plan, nil)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Fatalf("build %d: %q, %v (first %q)", i, paths[i], errs[i], paths[0])
		}
	}
	for p, n := range a.hits {
		if strings.HasSuffix(p, ".deb") && n.Load() != 1 {
			t.Errorf("%s fetched %d times", p, n.Load())
		}
	}
}

func mustWrite(t *testing.T, w io.Writer, b []byte) {
	t.Helper()
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
}

func mustClose(t *testing.T, c io.Closer) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

func mustHeader(t *testing.T, tw *tar.Writer, h *tar.Header) {
	t.Helper()
	if err := tw.WriteHeader(h); err != nil {
		t.Fatal(err)
	}
}
