package docker

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestMergeRootfsTrees checks that a host tree lands under its image path
// with modes and symlinks kept, after the root filesystem's entries, and
// that a tree under a symlinked directory of the image is refused.
func TestMergeRootfsTrees(t *testing.T) {
	host := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(host, "bin"), 0o755))
	must(os.WriteFile(filepath.Join(host, "bin", "riak"), []byte("#!/bin/sh\n"), 0o755))
	must(os.WriteFile(filepath.Join(host, "etc.conf"), []byte("x = 1\n"), 0o600))
	must(os.Symlink("bin/riak", filepath.Join(host, "run")))

	var rootfs bytes.Buffer
	rw := tar.NewWriter(&rootfs)
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755},
		{Typeflag: tar.TypeDir, Name: "./usr/", Mode: 0o755},
		{Typeflag: tar.TypeSymlink, Name: "./lib", Linkname: "usr/lib", Mode: 0o777},
	} {
		must(rw.WriteHeader(h))
	}
	must(rw.Close())

	var out bytes.Buffer
	must(mergeRootfs(&out, bytes.NewReader(rootfs.Bytes()), nil, map[string]string{"/opt/riak": host}))
	type entry struct {
		typ  byte
		mode int64
		link string
		data string
	}
	got := map[string]entry{}
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(err)
		b, _ := io.ReadAll(tr)
		got[h.Name] = entry{h.Typeflag, h.Mode, h.Linkname, string(b)}
	}
	want := map[string]entry{
		"./usr/":            {tar.TypeDir, 0o755, "", ""},
		"./lib":             {tar.TypeSymlink, 0o777, "usr/lib", ""},
		"opt/":              {tar.TypeDir, 0o755, "", ""},
		"opt/riak/":         {tar.TypeDir, 0o755, "", ""},
		"opt/riak/bin/":     {tar.TypeDir, 0o755, "", ""},
		"opt/riak/bin/riak": {tar.TypeReg, 0o755, "", "#!/bin/sh\n"},
		"opt/riak/etc.conf": {tar.TypeReg, 0o600, "", "x = 1\n"},
		"opt/riak/run":      {tar.TypeSymlink, 0o777, "bin/riak", ""},
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s: got %+v (present %v), want %+v", name, g, ok, w)
		}
	}
	if len(got) != len(want) {
		var names []string
		for n := range got {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Errorf("entries %v, want %d", names, len(want))
	}

	err := mergeRootfs(io.Discard, bytes.NewReader(rootfs.Bytes()), nil, map[string]string{"/lib/riak": host})
	if err == nil {
		t.Error("a tree under the image's /lib symlink was accepted")
	}
}

// Run ids are cut to a length Docker accepts, but a restore's id
// ("<run>-restore-1") must never equal its source's (issue 11: a scenario
// name of 53+ characters made them collide and the restore failed on the
// source's network).
func TestRunIDFromKeepsLongIDsDistinct(t *testing.T) {
	long := "20261201-120000-" + strings.Repeat("a-very-long-scenario-name-", 3) + "riak-abcdef"
	src, restore := RunIDFrom(long, "riak"), RunIDFrom(long+"-restore-1", "riak")
	for _, id := range []string{src, restore} {
		if len(id) > maxRunID || runIDBad.MatchString(id) {
			t.Errorf("run id %q: longer than %d or with characters Docker refuses", id, maxRunID)
		}
	}
	if src == restore {
		t.Errorf("source and restore share run id %q", src)
	}
	if again := RunIDFrom(long, "riak"); again != src {
		t.Errorf("not deterministic: %q then %q", src, again)
	}
	if short := RunIDFrom("run/1 x", "riak"); short != "run-1-x" {
		t.Errorf("short id = %q, want run-1-x", short)
	}
}

func TestRunIDFrom(t *testing.T) {
	if got := RunIDFrom("2026-01-02T03:04:05Z-node-loss-redis-ab12", "redis"); got != "2026-01-02T03-04-05Z-node-loss-redis-ab12" {
		t.Errorf("RunIDFrom = %q", got)
	}
	if got := RunIDFrom("TestX/sub test", "redis"); got != "TestX-sub-test" {
		t.Errorf("RunIDFrom = %q", got)
	}
	a, b := RunIDFrom("", "redis"), RunIDFrom("", "redis")
	if a == b || !strings.HasPrefix(a, "redis-") {
		t.Errorf("random run ids %q %q", a, b)
	}
	if len(RunIDFrom(strings.Repeat("x", 200), "redis")) > 80 {
		t.Error("long run id not cut")
	}
}
