package docker

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	dc "github.com/ory/dockertest/v3/docker"
)

func TestParseAptSources(t *testing.T) {
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
	got := parseAptSources(deb822, true, "bookworm")
	want := []aptSource{{URI: "http://deb.debian.org/debian", Keyring: "/usr/share/keyrings/debian-archive-keyring.gpg"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deb822: %+v, want %+v", got, want)
	}
	oneLine := `# comment
deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main
deb-src http://ftp.example/debian bookworm main
deb [arch=amd64 signed-by=/etc/apt/keyrings/x.gpg] http://ftp.example/debian bookworm main contrib # local
deb http://ftp2.example/debian bookworm contrib
`
	got = parseAptSources(oneLine, false, "bookworm")
	want = []aptSource{{URI: "http://ftp.example/debian", Keyring: "/etc/apt/keyrings/x.gpg"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("one-line: %+v, want %+v", got, want)
	}
	if srcs := aptSourcesFor("bookworm"); len(srcs) > 0 {
		t.Logf("this machine's mirror for bookworm: %+v", srcs[0])
	}
}

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

func TestDebootstrapMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	e := &Engine{}
	_, err := e.BuildDebianImage(context.Background(), DebianImage{Tag: "evalrun-test/never:x", Packages: []string{"netcat-openbsd"}})
	if err == nil || !errors.Is(err, errNoDebootstrap) || !strings.Contains(err.Error(), "apt-get install debootstrap") {
		t.Fatalf("BuildDebianImage without debootstrap: %v", err)
	}
	t.Logf("message: %v", err)
}

func TestBuildDebianImage(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short mode: debootstrap takes a minute or two the first time")
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Skip("skipping: debootstrap is not installed (sudo apt-get install debootstrap)")
	}
	if os.Geteuid() != 0 {
		t.Skip("skipping: debootstrap needs root")
	}
	t.Parallel()
	e := testEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	tag := randHex(4)
	d := DebianImage{
		Tag:      "evalrun-test/debian:" + tag,
		Packages: []string{"netcat-openbsd"},
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
	id, err := e.BuildDebianImage(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	first := time.Since(t0)
	d2 := d
	d2.Tag += "-again"
	t0 = time.Now()
	id2, err := e.BuildDebianImage(ctx, d2)
	if err != nil {
		t.Fatal(err)
	}
	second := time.Since(t0)
	t.Logf("BuildDebianImage: first %s (includes debootstrap unless already cached), second %s (cached root filesystem)",
		first.Round(100*time.Millisecond), second.Round(100*time.Millisecond))
	if second > 60*time.Second {
		t.Errorf("a cached build took %s", second)
	}
	if id == "" || id2 == "" {
		t.Fatalf("image ids %q %q", id, id2)
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
		{[]string{"sh", "-c", "command -v nc"}, "/usr/bin/nc\n"},
		{[]string{"cat", "/etc/debian_version"}, ""},
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
	if _, ok := ii.Config.ExposedPorts["7000/tcp"]; !ok || ii.Config.Labels[LabelImage] != "debian" {
		t.Errorf("image config: exposed %v labels %v", ii.Config.ExposedPorts, ii.Config.Labels)
	}
	t.Logf("image size %d MB", ii.Size>>20)
}
