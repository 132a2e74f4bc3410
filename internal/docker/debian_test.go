package docker

import (
	"context"
	"strings"
	"testing"
	"time"

	dc "github.com/ory/dockertest/v3/docker"

	"github.com/evalrun/evalrun/internal/debian"
)

func TestDebianImageHash(t *testing.T) {
	a := DebianImage{Packages: []string{"b", "a"}, Files: map[string]FileSpec{"/x": {Mode: 0o755, Data: []byte("1")}}}
	b := DebianImage{Packages: []string{"a", "b", "a"}, Files: map[string]FileSpec{"/x": {Mode: 0o755, Data: []byte("1")}}}
	if a.Hash() != b.Hash() {
		t.Errorf("package order changes the hash")
	}
	b.Files["/x"] = FileSpec{Mode: 0o755, Data: []byte("2")}
	if a.Hash() == b.Hash() {
		t.Errorf("file content does not change the hash")
	}
}

func TestUpstreamVersion(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"5:7.0.15-1~deb12u1", "7.0.15"},
		{"3.4.23-4+b9", "3.4.23"},
		{"1.2", "1.2"},
		{"2:1.0+dfsg-1", "1.0_dfsg"},
		{"", "unknown"},
	} {
		if got := UpstreamVersion(tt.in); got != tt.want {
			t.Errorf("UpstreamVersion(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDebianImageCheck(t *testing.T) {
	for _, tt := range []struct {
		name string
		d    DebianImage
		want string
	}{
		{"no name", DebianImage{Packages: []string{"xy"}}, "needs a Tag"},
		{"bad package", DebianImage{Tag: "evalrun-test/x:1", Packages: []string{"Bad Name"}}, "bad package name"},
		{"bad file", DebianImage{Tag: "evalrun-test/x:1", Files: map[string]FileSpec{"rel/path": {}}}, "bad file path"},
		{"bad env", DebianImage{Tag: "evalrun-test/x:1", Env: []string{"NOVALUE"}}, "bad env entry"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.d.check()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("check: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestBuildDebianImage(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short mode: fetches Debian packages")
	}
	t.Parallel()
	e := testEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	tag := randomHex(4)
	d := DebianImage{
		Tag:      "evalrun-test/debian:" + tag,
		Packages: []string{"netcat-openbsd"},
		Users:    []debian.User{{Name: "evalrun-test", UID: 990, Home: "/var/lib/evalrun-test"}},
		Files: map[string]FileSpec{
			"/usr/local/bin/hello":  {Mode: 0o755, Data: []byte("#!/bin/sh\necho hello \"$@\"\n")},
			"/etc/evalrun/test.txt": {Data: []byte("evalrun test file\n")},
		},
		Entrypoint: []string{"sleep", "infinity"},
		Env:        []string{`EVALRUN_TEST=yes "it" works`},
		Expose:     []string{"7000/tcp"},
		Progress:   func(s string) { t.Log(s) },
	}
	t.Cleanup(func() {
		for _, ref := range []string{d.Tag, d.Tag + "-again"} {
			_ = e.client.RemoveImageExtended(ref, dc.RemoveImageOptions{Force: true})
		}
	})
	t0 := time.Now()
	ref, id, err := e.BuildDebianImage(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("BuildDebianImage: %s", time.Since(t0).Round(100*time.Millisecond))
	d2 := d
	d2.Tag += "-again"
	ref2, id2, err := e.EnsureDebianImage(ctx, d2)
	if err != nil {
		t.Fatal(err)
	}
	if ref != d.Tag || ref2 != d2.Tag || id == "" || id2 == "" {
		t.Fatalf("images %q %q, ids %q %q", ref, ref2, id, id2)
	}
	// the same recipe again: the local image is found, nothing is built
	if r, i, err := e.EnsureDebianImage(ctx, d2); err != nil || r != ref2 || i != id2 {
		t.Errorf("EnsureDebianImage of a built recipe: %q %q %v, want %q %q", r, i, err, ref2, id2)
	}
	// A recipe named by repository: a rebuild moves the tag and leaves the
	// old image as <none>:<none> with the same recipe label, which must
	// never be offered as a reference.
	d3 := d
	d3.Tag, d3.Repo, d3.VersionOf = "", "evalrun-test/debian-"+tag, "netcat-openbsd"
	var ids []string
	for range 2 {
		_, i, err := e.BuildDebianImage(ctx, d3)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, i)
	}
	t.Cleanup(func() {
		for _, i := range ids {
			_ = e.client.RemoveImageExtended(i, dc.RemoveImageOptions{Force: true})
		}
	})
	if r, i, err := e.EnsureDebianImage(ctx, d3); err != nil || !strings.HasPrefix(r, d3.Repo+":") || i != ids[1] {
		t.Errorf("EnsureDebianImage after a rebuild: %q %q %v, want a %s tag of %s", r, i, err, d3.Repo, ids[1])
	}
	// only the dangling one left: it is built anew
	if err := e.client.RemoveImageExtended(ids[1], dc.RemoveImageOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	ref3, id3, err := e.EnsureDebianImage(ctx, d3)
	ids = append(ids, id3)
	if err != nil || !strings.HasPrefix(ref3, d3.Repo+":") || id3 == ids[0] {
		t.Errorf("EnsureDebianImage with only a dangling image of the recipe: %q %q %v", ref3, id3, err)
	}

	c := newTestCluster(t, e)
	n, err := c.StartNode(ctx, NodeSpec{Name: "node1", Image: d.Tag, Init: true, Ports: []string{"7000"},
		Ready: ReadyExec("true"), ReadyTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"hello", "world"}, "hello world\n"},
		{[]string{"cat", "/etc/evalrun/test.txt"}, "evalrun test file\n"},
		{[]string{"sh", "-c", `echo "$EVALRUN_TEST"`}, "yes \"it\" works\n"},
		{[]string{"sh", "-c", "command -v nc.openbsd"}, "/usr/bin/nc.openbsd\n"},
		{[]string{"cat", "/etc/debian_version"}, ""},
		{[]string{"sh", "-c", "awk 'BEGIN{print 1+1}'"}, "2\n"},                                                  // alternatives written
		{[]string{"sh", "-c", "id -un; ls -ld /tmp | cut -c1-10"}, "root\ndrwxrwxrwt\n"},                         // passwd, /tmp
		{[]string{"sh", "-c", "readlink /bin; test -e /lib64/ld-linux-x86-64.so.2 && echo ld"}, "usr/bin\nld\n"}, // merged /usr
		{[]string{"getent", "passwd", "evalrun-test"}, "evalrun-test:x:990:990::/var/lib/evalrun-test:/usr/sbin/nologin\n"},
	} {
		r, err := n.Exec(ctx, tc.cmd)
		if err != nil || r.ExitCode != 0 || (tc.want != "" && r.Stdout != tc.want) {
			t.Errorf("Exec %q = %+v, %v; want %q", tc.cmd, r, err, tc.want)
		}
		if tc.want == "" {
			t.Logf("debian_version: %s", strings.TrimSpace(r.Stdout))
		}
	}
	r, err := n.Exec(ctx, []string{"sh", "-c", "exit 7"})
	if err != nil || r.ExitCode != 7 {
		t.Errorf("exit 7: %+v, %v", r, err)
	}
	ii, err := e.client.InspectImage(d.Tag)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ii.Config.ExposedPorts["7000/tcp"]; !ok || ii.Config.Labels[LabelImage] != "debian" || ii.Config.Labels[LabelRecipe] != d.Hash() {
		t.Errorf("image config: exposed %v labels %v", ii.Config.ExposedPorts, ii.Config.Labels)
	}
	if pk := ii.Config.Labels[LabelPackages]; !strings.Contains(pk, "netcat-openbsd=") || !strings.Contains(pk, "libc6=") {
		t.Errorf("label %s = %q lacks the packages", LabelPackages, pk)
	}
	t.Logf("image size %d MB", ii.Size>>20)
}
