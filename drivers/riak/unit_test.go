package riak

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	riakgo "github.com/basho/riak-go-client"

	"github.com/evalrun/evalrun/drivers"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]string
		check   func(options) bool
		wantErr string
	}{
		{name: "defaults", in: nil, check: func(o options) bool {
			return o.bucketType == "evalrun" && o.nval == 3 && o.r.pb == quorumQuorum && o.pw.pb == 0 &&
				o.notFoundOK && !o.allowMult && o.ringSize == 64 && o.backend == "bitcask" && o.admin == adminAuto
		}},
		{name: "quorums", in: map[string]string{"n_val": "5", "r": "all", "w": "one", "pr": "2", "pw": "default"}, check: func(o options) bool {
			return o.nval == 5 && o.r.pb == quorumAll && o.w.pb == quorumOne && o.pr.pb == 2 && o.pw.pb == quorumDefault
		}},
		{name: "count above n_val", in: map[string]string{"n_val": "2", "r": "3"}, wantErr: `option r="3"`},
		{name: "siblings", in: map[string]string{"allow_mult": "true", "notfound_ok": "false", "bucket-type": "default"}, check: func(o options) bool {
			return o.allowMult && !o.notFoundOK && o.bucketType == "default"
		}},
		{name: "ring size not a power of 2", in: map[string]string{"ring-size": "48"}, wantErr: "power of 2"},
		{name: "transfer limit", in: map[string]string{"transfer-limit": "8"}, check: func(o options) bool { return o.transferLimit == 8 }},
		{name: "inactivity", in: map[string]string{"vnode-inactivity-timeout": "10s"}, check: func(o options) bool { return o.inactivity == 10*time.Second }},
		{name: "inactivity too short", in: map[string]string{"vnode-inactivity-timeout": "10ms"}, wantErr: "from 1s"},
		{name: "admin style", in: map[string]string{"admin": "riak-admin"}, check: func(o options) bool { return o.admin == adminRiak2 }},
		{name: "bad bucket", in: map[string]string{"bucket": "a b"}, wantErr: "option bucket"},
		{name: "bad backend", in: map[string]string{"storage-backend": "rocksdb"}, wantErr: `want one of "bitcask", "leveldb"`},
		{name: "unknown", in: map[string]string{"nval": "3"}, wantErr: `unknown option "nval"`},
		{name: "riak.conf lines", in: map[string]string{"riak.conf": "handoff.ip = 127.0.0.1; anti_entropy=passive;"}, check: func(o options) bool {
			return len(o.conf) == 2 && o.conf[0] == confSetting{"handoff.ip", "127.0.0.1"} && o.conf[1].String() == "anti_entropy = passive"
		}},
		{name: "riak.conf without a value", in: map[string]string{"riak.conf": "handoff.ip"}, wantErr: `is not "key = value"`},
		{name: "riak.conf bad key", in: map[string]string{"riak.conf": "a b = c"}, wantErr: "not a riak.conf key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(o) {
				t.Errorf("options %+v", o)
			}
		})
	}
}

func TestOptionsConfigReportsEverything(t *testing.T) {
	o, err := parseOptions(map[string]string{"transfer-limit": "4"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.config()
	for _, k := range []string{OptBucketType, OptBucket, OptNVal, OptR, OptW, OptPR, OptPW, OptAllowMult, OptNotFoundOK, OptRingSize, OptBackend, OptTransferLimit} {
		if cfg[k] == "" {
			t.Errorf("config lacks %s: %v", k, cfg)
		}
	}
	if cfg[OptTransferLimit] != "4" || cfg[OptR] != "quorum" {
		t.Errorf("config %v", cfg)
	}
}

func TestResolveSiblings(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	obj := func(v string, at int, tomb bool) *riakgo.Object {
		return &riakgo.Object{Value: []byte(v), LastModified: t0.Add(time.Duration(at) * time.Second), IsTombstone: tomb}
	}
	tests := []struct {
		name     string
		in       []*riakgo.Object
		want     string // "" for none
		siblings bool
	}{
		{"one value", []*riakgo.Object{obj("a", 1, false)}, "a", false},
		{"newest wins", []*riakgo.Object{obj("a", 1, false), obj("b", 3, false), obj("c", 2, false)}, "b", true},
		{"newest is a delete", []*riakgo.Object{obj("a", 1, false), obj("", 5, true)}, "", true},
		{"older delete", []*riakgo.Object{obj("", 1, true), obj("b", 5, false)}, "b", true},
		{"only tombstones", []*riakgo.Object{obj("", 1, true)}, "", false},
		{"nothing", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, sib := resolveSiblings(tt.in)
			gotV := ""
			if got != nil {
				gotV = string(got.Value)
			}
			if gotV != tt.want || sib != tt.siblings {
				t.Errorf("got %q siblings=%v, want %q siblings=%v", gotV, sib, tt.want, tt.siblings)
			}
		})
	}
}

// TestEntrypoint runs entrypoint.sh against a fake riak and riak.conf: it
// must set the node name from the hostname, replace (not duplicate) the
// keys it owns, keep the others, copy the config into the data directory
// and exec `riak foreground` when the script offers it.
func TestEntrypoint(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "riak.conf")
	// A release built for one host keeps its handoff listener on loopback
	// (the local build of ../shared/riak-build does): in a container that
	// makes every node hand its partitions to itself, and an ownership
	// handoff then deletes data no other node received (issue 9).
	orig := "nodename = riak@127.0.0.1\n## a comment\nstorage_backend = leveldb\nanti_entropy = active\nring_size = 32\nhandoff.ip = 127.0.0.1\n"
	if err := os.WriteFile(conf, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(dir, "riak")
	script := "#!/bin/sh\nif [ $# -eq 0 ]; then echo 'Usage: riak {start|stop|foreground|console}'; exit 1; fi\necho \"RAN $*\"\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	lock := filepath.Join(data, "bitcask", "0", "bitcask.write.lock")
	if err := os.MkdirAll(filepath.Dir(lock), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lock, []byte("7 /data/bitcask/0/1.bitcask.data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", entrypointScript, "evalrun-riak")
	cmd.Env = append(os.Environ(),
		"EVALRUN_RIAK_BIN="+fake, "EVALRUN_RIAK_CONF_FILE="+conf, "EVALRUN_RIAK_DATA="+data,
		"EVALRUN_RIAK_COOKIE=sesame", "EVALRUN_RIAK_RING_SIZE=16", "EVALRUN_RIAK_BACKEND=bitcask",
		"EVALRUN_RIAK_TRANSFER_LIMIT=6", "EVALRUN_RIAK_CONF=search = off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("entrypoint: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "RAN foreground") {
		t.Errorf("riak was not run in the foreground:\n%s", out)
	}
	got, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.ReadFile("/proc/sys/kernel/hostname")
	want := map[string]string{
		"nodename": "riak@" + strings.TrimSpace(string(host)), "distributed_cookie": "sesame",
		"listener.protobuf.internal": "0.0.0.0:8087", "listener.http.internal": "0.0.0.0:8098",
		"platform_data_dir": data, "ring_size": "16", "storage_backend": "bitcask", "transfer_limit": "6",
		"anti_entropy": "active", "handoff.ip": "0.0.0.0", "search": "off",
	}
	seen := map[string][]string{}
	for _, l := range strings.Split(string(got), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(strings.TrimSpace(l), "#") {
			seen[strings.TrimSpace(k)] = append(seen[strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	for k, v := range want {
		if !reflect.DeepEqual(seen[k], []string{v}) {
			t.Errorf("%s: got %q, want exactly [%q]\n%s", k, seen[k], v, got)
		}
	}
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Errorf("a stale bitcask lock survived the start: %v", err)
	}
	if !strings.Contains(string(got), "## a comment") {
		t.Error("a comment was lost")
	}
	copied, err := os.ReadFile(filepath.Join(data, "evalrun-riak.conf"))
	if err != nil || string(copied) != string(got) {
		t.Errorf("data directory copy of riak.conf: %v", err)
	}

	// Riak 2.x's script has no foreground command: console -noinput.
	script2 := "#!/bin/sh\nif [ $# -eq 0 ]; then echo 'Usage: riak {start|stop|console|attach}'; exit 1; fi\necho \"RAN $*\"\n"
	if err := os.WriteFile(fake, []byte(script2), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err = cmd2(entrypointScript, fake, conf, data).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "RAN console -noinput") {
		t.Errorf("Riak 2.x start: %v\n%s", err, out)
	}
}

func cmd2(script, fake, conf, data string) *exec.Cmd {
	c := exec.Command("sh", "-c", script, "evalrun-riak")
	c.Env = append(os.Environ(), "EVALRUN_RIAK_BIN="+fake, "EVALRUN_RIAK_CONF_FILE="+conf, "EVALRUN_RIAK_DATA="+data)
	return c
}

func TestArchiveRoundTrip(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{
		"ring/riak_core_ring.default.20261129": "ring",
		"bitcask/0/1.bitcask.data":             strings.Repeat("x", 100000),
		"evalrun-riak.conf":                    "nodename = riak@node1\n",
	}
	for p, v := range files {
		full := filepath.Join(src, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(v), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("ring", filepath.Join(src, "ring-link")); err != nil {
		t.Fatal(err)
	}
	arch := filepath.Join(t.TempDir(), "node1.tar.gz")
	size, err := archiveDir(src, arch)
	if err != nil {
		t.Fatal(err)
	}
	if size <= 0 || size > 20000 {
		t.Errorf("archive size %d: want a compressed archive", size)
	}
	dst := filepath.Join(t.TempDir(), "restored")
	if err := extractArchive(arch, dst); err != nil {
		t.Fatal(err)
	}
	for p, v := range files {
		b, err := os.ReadFile(filepath.Join(dst, p))
		if err != nil || string(b) != v {
			t.Errorf("%s: %v (%d bytes)", p, err, len(b))
		}
		if st, err := os.Stat(filepath.Join(dst, p)); err == nil && st.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v", p, st.Mode())
		}
	}
	if l, err := os.Readlink(filepath.Join(dst, "ring-link")); err != nil || l != "ring" {
		t.Errorf("symlink: %q %v", l, err)
	}
	if err := extractArchive(filepath.Join(t.TempDir(), "missing.tar.gz"), dst); err == nil {
		t.Error("a missing archive was accepted")
	}
}

func TestReleaseImageChecksTheDirectory(t *testing.T) {
	dir := t.TempDir()
	if _, err := releaseImage(dir); err == nil || !strings.Contains(err.Error(), "not a Riak release directory") {
		t.Fatalf("empty dir: %v", err)
	}
	for _, p := range []string{"bin/riak", "etc/riak.conf", "releases/start_erl.data"} {
		full := filepath.Join(dir, p)
		_ = os.MkdirAll(filepath.Dir(full), 0o755)
		_ = os.WriteFile(full, []byte("13.1.5 3.2.2p1\n"), 0o755)
	}
	if _, err := releaseImage(dir); err == nil || !strings.Contains(err.Error(), "no bundled ERTS") {
		t.Fatalf("no erts: %v", err)
	}
	beam := filepath.Join(dir, "erts-13.1.5", "bin", "beam.smp")
	_ = os.MkdirAll(filepath.Dir(beam), 0o755)
	_ = os.WriteFile(beam, nil, 0o755)
	d, err := releaseImage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Tag != "evalrun/riak:3.2.2p1" || d.Trees["/opt/riak"] == "" || d.Entrypoint[0] != "/usr/local/bin/evalrun-riak" {
		t.Errorf("recipe %+v", d)
	}
}

func TestDebTrees(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"etc/riak", "usr/lib/riak/bin", "usr/sbin", "var/lib/riak", "lib/systemd"} {
		_ = os.MkdirAll(filepath.Join(root, p), 0o755)
	}
	// /lib and /usr/lib both exist: refused rather than one silently replacing the other
	if _, err := debTrees(root); err == nil || !strings.Contains(err.Error(), "both /lib and /usr/lib") {
		t.Errorf("/lib beside /usr/lib: %v", err)
	}
	root2 := t.TempDir()
	for _, p := range []string{"etc/riak", "usr/lib/riak/bin", "usr/sbin", "var/lib/riak"} {
		_ = os.MkdirAll(filepath.Join(root2, p), 0o755)
	}
	got2, err := debTrees(root2)
	if err != nil {
		t.Fatal(err)
	}
	want2 := map[string]string{
		"/etc": filepath.Join(root2, "etc"), "/usr/lib": filepath.Join(root2, "usr/lib"),
		"/usr/sbin": filepath.Join(root2, "usr/sbin"), "/var": filepath.Join(root2, "var"),
	}
	if !reflect.DeepEqual(got2, want2) {
		t.Errorf("got %v\nwant %v", got2, want2)
	}
	if _, err := debTrees(t.TempDir()); err == nil {
		t.Error("an empty package was accepted")
	}
}

func TestTagSafe(t *testing.T) {
	for in, want := range map[string]string{"3.2.2p1": "3.2.2p1", "2.2.3-1": "2.2.3-1", "1:2.0+b1": "1_2.0_b1", "": "unknown"} {
		if got := tagSafe(in); got != want {
			t.Errorf("tagSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDebImage builds a small .deb shaped like Basho's Riak package with
// dpkg-deb and checks the recipe debImage makes of it.
func TestDebImage(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb is not installed")
	}
	build := func(name, version string) string {
		t.Helper()
		root := filepath.Join(t.TempDir(), "pkg")
		files := map[string]string{
			"DEBIAN/control":        "Package: " + name + "\nVersion: " + version + "\nArchitecture: all\nMaintainer: test <t@example.com>\nDescription: test\n",
			"usr/sbin/riak":         "#!/bin/sh\n",
			"usr/lib/riak/bin/riak": "#!/bin/sh\n",
			"etc/riak/riak.conf":    "nodename = riak@127.0.0.1\n",
		}
		for p, v := range files {
			full := filepath.Join(root, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(v), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		deb := filepath.Join(t.TempDir(), name+".deb")
		if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, deb).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb --build: %v\n%s", err, out)
		}
		return deb
	}
	d, cleanup, err := debImage(t.Context(), build("riak", "2.2.3-1"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Tag != "evalrun/riak:2.2.3-1" {
		t.Errorf("tag %s", d.Tag)
	}
	for _, p := range []string{"/usr/sbin", "/usr/lib", "/etc"} {
		if _, err := os.Stat(d.Trees[p]); err != nil {
			t.Errorf("tree %s: %v (trees %v)", p, err, d.Trees)
		}
	}
	if _, err := os.Stat(filepath.Join(d.Trees["/usr/sbin"], "riak")); err != nil {
		t.Errorf("riak not unpacked: %v", err)
	}
	if !reflect.DeepEqual(d.Packages[len(d.Packages)-len(debPackages):], debPackages) {
		t.Errorf("packages %v lack %v", d.Packages, debPackages)
	}
	unpacked := d.Trees["/etc"]
	cleanup()
	if _, err := os.Stat(unpacked); !os.IsNotExist(err) {
		t.Errorf("cleanup left %s", unpacked)
	}
	if _, _, err := debImage(t.Context(), build("redis-server", "7.0")); err == nil || !strings.Contains(err.Error(), "not Riak") {
		t.Errorf("a non-Riak package: %v", err)
	}
}

// Replica lines as `riak eval` printed them on a one-node Riak 3.2.2p1
// (ring 16) after a value was put into one vnode only, plus a fallback, a
// tombstone with a sibling and an rpc error.
const replicaOutput = `evalrun-replica k1 1004782375664995756265033322492444576013453623296 riak@node1.test primary found 30313233343536373839616263646566
evalrun-replica k1 1096126227998177188652763624537212264741949407232 riak@node1.test primary notfound
evalrun-replica k1 1187470080331358621040493926581979953470445191168 riak@node1.test primary notfound
evalrun-replica k2 913438523331814323877303020447676887284957839360 riak@node2.test fallback found tomb,E7A10001000000020000000000000009
evalrun-replica k2 1004782375664995756265033322492444576013453623296 riak@node1.test primary found tomb
evalrun-replica k2 1096126227998177188652763624537212264741949407232 riak@node3.test primary error {badrpc,nodedown}
ok
`

func TestParseReplicas(t *testing.T) {
	got, err := parseReplicas(replicaOutput)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "k1" || got[1].Key != "k2" || len(got[0].Replicas) != 3 || len(got[1].Replicas) != 3 {
		t.Fatalf("parsed %+v", got)
	}
	k1 := got[0].Replicas
	if !k1[0].Found || k1[0].Tombstone || string(k1[0].Header) != "0123456789abcdef" || k1[1].Found || !k1[1].Primary {
		t.Errorf("k1: %+v", k1)
	}
	k2 := got[1].Replicas
	if k2[0].Primary || !k2[0].Found || k2[0].Tombstone || k2[0].Values != 2 || len(k2[0].Header) != 16 {
		t.Errorf("k2 fallback with a value and a tombstone: %+v", k2[0])
	}
	if !k2[1].Found || !k2[1].Tombstone || k2[1].Header != nil {
		t.Errorf("k2 tombstone: %+v", k2[1])
	}
	if k2[2].Error != "{badrpc,nodedown}" || k2[2].Found {
		t.Errorf("k2 error: %+v", k2[2])
	}
	for _, bad := range []string{"evalrun-replica k1 1 n primary maybe", "evalrun-replica k1 1 n primary found zz", "evalrun-replica k1 1"} {
		if _, err := parseReplicas(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestInspectExprChecksKeys(t *testing.T) {
	o := defaultOptions()
	expr, err := inspectExpr(o, []string{"evalrun/k00000011", "k2"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`T = <<101,118,97,108,114,117,110>>`, `N = 3`,
		`<<101,118,97,108,114,117,110,47,107,48,48,48,48,48,48,49,49>>, <<107,50>>`, "riak_kv_vnode, local_get"} {
		if !strings.Contains(expr, want) {
			t.Errorf("expression lacks %q:\n%s", want, expr)
		}
	}
	for _, bad := range []string{"a key", "", "caf\u00e9"} {
		if _, err := inspectExpr(o, []string{bad}); err == nil {
			t.Errorf("key %q went into the expression", bad)
		}
	}
}

// A client error keeps both its class and its cause (issue 11: the cause
// was flattened into text).
func TestUnavailableKeepsCause(t *testing.T) {
	err := unavailable(syscall.ECONNREFUSED)
	if !errors.Is(err, drivers.ErrUnavailable) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("%v: class or cause lost", err)
	}
}

// A client whose nodes all refuse connections fails as unavailable, soon,
// naming a node it tried: riak-go-client's default NodeManager would loop
// here until a node came back.
func TestExecuteWithEveryNodeDown(t *testing.T) {
	quietRiakClient()
	mgr := newServingManager()
	var nodes []*riakgo.Node
	for i, addr := range []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"} {
		rn, err := newRiakNode(addr)
		if err != nil {
			t.Fatal(err)
		}
		mgr.setIndex(rn, i+1)
		nodes = append(nodes, rn)
	}
	rc, err := startRiakCluster(nodes, mgr, clientAttempts)
	if err != nil {
		t.Fatal(err)
	}
	cl := &client{rc: rc, mgr: mgr}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range 3 { // the first command, and later ones while health checks fail
		node, err := cl.execute(ctx, &riakgo.GetServerInfoCommand{})
		if !errors.Is(err, drivers.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable (before the deadline)", err)
		}
		if node < 1 || node > 3 {
			t.Errorf("node = %d, want the last node tried (1-3)", node)
		}
	}
	if n := len(mgr.served); n != 0 {
		t.Errorf("%d commands still held by the manager", n)
	}
}
