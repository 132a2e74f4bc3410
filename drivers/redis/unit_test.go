package redis

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/drivers"

	"github.com/evalrun/evalrun/internal/driverkit"
	"github.com/evalrun/evalrun/internal/drivertest"
)

func TestDriver(t *testing.T) {
	d := New()
	if d.Name() != "redis" || d.Description() == "" || strings.Contains(d.Description(), "\n") {
		t.Fatalf("name %q description %q", d.Name(), d.Description())
	}
	if ps := d.Providers(); len(ps) != 1 || ps[0] != drivers.ProviderDocker {
		t.Fatalf("providers %v", ps)
	}
	// every node a cluster starts is addressable: 3 masters with 1
	// replica each are nodes 1..6
	top, err := d.Plan(drivers.ProviderDocker, 3, map[string]string{OptReplicas: "1"})
	if err != nil || top.Nodes != 6 || !drivers.Supports(top.Capabilities, drivers.CapPause) ||
		strings.Join(top.Roles, ",") != "leader,master,replica" {
		t.Errorf("3+3: %+v, %v", top, err)
	}
	if top, err := d.Plan(drivers.ProviderDocker, 2, map[string]string{OptReplicas: "0"}); err != nil || top.Nodes != 2 {
		t.Errorf("2 masters without replicas: %+v, %v", top, err)
	}
	var oe *drivers.OptionError
	if _, err := d.Plan(drivers.ProviderDocker, 15, map[string]string{OptReplicas: "5"}); !errors.As(err, &oe) || oe.Name != OptReplicas {
		t.Errorf("90 nodes: %v", err)
	}
	if _, err := d.Plan(drivers.ProviderDocker, 3, map[string]string{"replica": "1"}); !errors.As(err, &oe) || oe.Known == nil {
		t.Errorf("a typo: %v", err)
	}
	if _, err := d.Plan(drivers.ProviderEmbedded, 3, nil); !errors.Is(err, drivers.ErrNotSupported) {
		t.Errorf("embedded: %v", err)
	}
	b, ok := d.(drivers.ImageBuilder)
	if !ok || b.DefaultImage() != "redis:7.2" {
		t.Fatalf("ImageBuilder: %v %v", ok, b)
	}
	if r := offlineRecipe(nil); r.Repo != "evalrun/redis" || r.VersionOf != "redis-server" || r.Hash() != offlineRecipe(nil).Hash() {
		t.Errorf("offline recipe %+v", r)
	}
}

func TestStartClusterErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		spec drivers.ClusterSpec
		want string
		is   error
	}{
		{"embedded", drivers.ClusterSpec{Provider: drivers.ProviderEmbedded, Nodes: 3}, "embedded", drivers.ErrNotSupported},
		{"unknown option", drivers.ClusterSpec{Nodes: 3, Options: map[string]string{"node-timeout": "1"}},
			`unknown option "node-timeout" (known: appendonly, cluster-node-timeout, replicas)`, nil},
		{"no nodes", drivers.ClusterSpec{Nodes: 0}, "at least 1 master", nil},
		{"too many", drivers.ClusterSpec{Nodes: 15, Options: map[string]string{"replicas": "5"}}, "at most", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New().StartCluster(t.Context(), tt.spec)
			if err == nil {
				drivertest.CloseCluster(t, c)
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Errorf("error %q, want %q (%v)", err, tt.want, tt.is)
			}
		})
	}
}

func TestParseOptions(t *testing.T) {
	o, err := parseOptions(nil)
	if err != nil || o.replicas != 1 || o.nodeTimeoutMs != 5000 || o.appendOnly {
		t.Fatalf("defaults %+v %v", o, err)
	}
	cfg := o.config()
	if cfg["cluster-node-timeout"] != "5000" || cfg["replicas"] != "1" || cfg["appendonly"] != "false" {
		t.Errorf("config %v", cfg)
	}
	o, err = parseOptions(map[string]string{"replicas": "0", "cluster-node-timeout": " 2000 ", "appendonly": "yes"})
	if err != nil || o.replicas != 0 || o.nodeTimeoutMs != 2000 || !o.appendOnly {
		t.Fatalf("parsed %+v %v", o, err)
	}
	for _, bad := range []map[string]string{
		{"replicas": "-1"}, {"replicas": "6"}, {"replicas": "x"},
		{"cluster-node-timeout": "50"}, {"cluster-node-timeout": "5s"},
		{"appendonly": "maybe"},
	} {
		if _, err := parseOptions(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

const sampleNodes = `07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,hostname4 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002,hostname2 master - 0 1426238316232 2 connected 5461-10922
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003,hostname3 master - 0 1426238318243 3 connected 10923-16383 [10000->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]
6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005,hostname5 slave,fail? 67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 0 1426238316232 5 connected
824fe116063bc5fcf9f4ffd895bc17aee7731ac3 127.0.0.1:30006@31006,hostname6 slave 292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 0 1426238317741 6 connected
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001,hostname1 myself,master - 0 0 1 connected 0-5460 5470
`

func TestParseClusterNodes(t *testing.T) {
	view, err := parseClusterNodes(sampleNodes)
	if err != nil {
		t.Fatal(err)
	}
	if len(view) != 6 {
		t.Fatalf("%d lines", len(view))
	}
	me := view[5]
	if !me.myself() || !me.master() || me.addr != "127.0.0.1:30001" || me.slotCount() != 5462 || !me.owns(0) || !me.owns(5470) || me.owns(5465) {
		t.Errorf("myself %+v", me)
	}
	if r := view[0]; !r.replica() || r.masterID != "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca" || r.failed() {
		t.Errorf("replica %+v", r)
	}
	if m := view[2]; len(m.open) != 1 || m.slotCount() != 5461 {
		t.Errorf("migrating master %+v", m)
	}
	if !view[3].failed() {
		t.Errorf("fail? not seen: %+v", view[3])
	}
	// The signature ignores line order and volatile fields.
	lines := strings.Split(strings.TrimSpace(sampleNodes), "\n")
	rev := make([]string, len(lines))
	for i, l := range lines {
		rev[len(lines)-1-i] = strings.Replace(l, "1426238317239", "1", 1)
	}
	other, _ := parseClusterNodes(strings.Join(rev, "\n"))
	if layoutSignature(view) != layoutSignature(other) {
		t.Error("signatures differ for the same layout")
	}
	if _, err := parseClusterNodes("abc def\n"); err == nil {
		t.Error("a short line parsed")
	}
	if _, err := parseClusterNodes("a b c d e f g h x-y\n"); err == nil {
		t.Error("a bad slot parsed")
	}
}

func TestRanges(t *testing.T) {
	rs := rangesOf(map[int]bool{1: true, 2: true, 3: true, 7: true, 9: true, 10: true})
	if formatRanges(rs) != "1-3 7 9-10" {
		t.Errorf("ranges %s", formatRanges(rs))
	}
	back, err := parseRanges("1-3 7 9-10")
	if err != nil || formatRanges(back) != "1-3 7 9-10" {
		t.Errorf("parse: %v %v", back, err)
	}
	for _, bad := range []string{"3-1", "x", "0-16384", "-1"} {
		if _, err := parseRanges(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestPlans(t *testing.T) {
	n := []*node{nodeAt(1), nodeAt(2), nodeAt(3), nodeAt(7)}
	masters := []masterSlots{
		{node: n[0], slots: []slotRange{{0, 5460}}},
		{node: n[1], slots: []slotRange{{5461, 10922}}},
		{node: n[2], slots: []slotRange{{10923, 16383}}},
	}
	check := func(name string, moves []slotMove, wantCounts map[*node]int) {
		t.Helper()
		owner := map[int]*node{}
		for _, m := range masters {
			for _, s := range expand(m.slots) {
				owner[s] = m.node
			}
		}
		for _, mv := range moves {
			for _, s := range mv.slots {
				if owner[s] != mv.from {
					t.Fatalf("%s: slot %d moved from %s, owned by %v", name, s, mv.from.Name, owner[s])
				}
				owner[s] = mv.to
			}
		}
		counts := map[*node]int{}
		for _, o := range owner {
			counts[o]++
		}
		for nd, want := range wantCounts {
			if counts[nd] != want {
				t.Errorf("%s: %s ends with %d slots, want %d", name, nd.Name, counts[nd], want)
			}
		}
		if len(owner) != numSlots {
			t.Errorf("%s: %d slots owned", name, len(owner))
		}
	}
	add := planAdd(masters, n[3])
	check("add", add, map[*node]int{n[0]: 4096, n[1]: 4096, n[2]: 4096, n[3]: 4096})
	if len(add) != 3 {
		t.Errorf("add: %d moves", len(add))
	}
	drain := planDrain(masters, n[1])
	check("drain", drain, map[*node]int{n[0]: 8192, n[1]: 0, n[2]: 8192})
	for _, mv := range drain {
		if mv.slots[len(mv.slots)-1]-mv.slots[0] != len(mv.slots)-1 {
			t.Errorf("drain to %s is not one block", mv.to.Name)
		}
	}
	// A retry after a partial add: node7 already has some.
	partial := slices.Clone(masters)
	partial[2] = masterSlots{node: n[2], slots: []slotRange{{10923, 15383}}}
	partial = append(partial, masterSlots{node: n[3], slots: []slotRange{{15384, 16383}}})
	masters = partial
	check("add again", planAdd(partial, n[3]), map[*node]int{n[3]: 4096})
	if planDrain(partial, &node{Node: driverkit.Node{Name: "nobody"}}) != nil {
		t.Error("draining a node without slots planned moves")
	}
}

func TestReadManifest(t *testing.T) {
	dir := t.TempDir()
	write := func(m manifest) drivers.Backup {
		data, _ := json.Marshal(m)
		if err := os.WriteFile(filepath.Join(dir, manifestName), data, 0o644); err != nil {
			t.Fatal(err)
		}
		return drivers.Backup{Path: dir}
	}
	good := manifest{Format: manifestFormat, Masters: []manifestMaster{
		{Index: 2, Name: "node2", File: "node2.rdb", Slots: "8192-16383"},
		{Index: 1, Name: "node1", File: "node1.rdb", Slots: "0-8191"},
	}}
	m, err := readManifest(write(good))
	if err != nil || m.Masters[0].Index != 1 {
		t.Fatalf("good manifest: %+v %v", m, err)
	}
	for name, bad := range map[string]manifest{
		"format":  {Format: "x", Masters: good.Masters},
		"empty":   {Format: manifestFormat},
		"overlap": {Format: manifestFormat, Masters: []manifestMaster{{File: "a", Slots: "0-8192"}, {File: "b", Slots: "8192-16383"}}},
		"hole":    {Format: manifestFormat, Masters: []manifestMaster{{File: "a", Slots: "0-8190"}, {File: "b", Slots: "8192-16383"}}},
		"path":    {Format: manifestFormat, Masters: []manifestMaster{{File: "../a", Slots: "0-16383"}}},
	} {
		if _, err := readManifest(write(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := readManifest(drivers.Backup{Path: filepath.Join(dir, "missing")}); err == nil {
		t.Error("a missing manifest read")
	}
}

// nodeAt is a node of no cluster, for the slot planners.
func nodeAt(i int) *node {
	return &node{Node: driverkit.Node{Index: i, Name: "node" + strconv.Itoa(i)}}
}
