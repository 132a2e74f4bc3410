package mariadb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/driverkit"
	"github.com/evalrun/evalrun/internal/drivertest"
	"github.com/evalrun/evalrun/internal/errext"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/scenarios"
)

// fakeGroups is a cluster of shards groups of size nodes, every node up,
// without Docker: enough for the group bookkeeping.
func fakeGroups(t *testing.T, shards, size int) *cluster {
	t.Helper()
	c := &cluster{Base: &driverkit.Base[*node]{Driver: driverName}, opts: options{shards: shards},
		groupSize: size, groups: newGroups(shards, size)}
	idx := make([]int, shards*size)
	for i := range idx {
		idx[i] = i + 1
	}
	ns, err := c.Reserve(idx, func(int) *node { return &node{} })
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		c.SetState(n, driverkit.StateUp)
	}
	return c
}

func TestShardsTopology(t *testing.T) {
	for _, tt := range []struct {
		name      string
		nodes     int
		opts      map[string]string
		wantNodes int
		wantRoles string
		wantErr   string
	}{
		{name: "one group", nodes: 3, wantNodes: 3, wantRoles: "primary replica"},
		{name: "three groups of two", nodes: 2, opts: map[string]string{OptShards: "3"}, wantNodes: 6,
			wantRoles: "primary replica shard1.primary shard1.replica shard2.primary shard2.replica shard3.primary shard3.replica"},
		{name: "groups of one", nodes: 1, opts: map[string]string{OptShards: "2"}, wantNodes: 2,
			wantRoles: "primary replica shard1.primary shard1.replica shard2.primary shard2.replica"},
		{name: "fifteen in all", nodes: 5, opts: map[string]string{OptShards: "3"}, wantNodes: 15,
			wantRoles: "primary replica shard1.primary shard1.replica shard2.primary shard2.replica shard3.primary shard3.replica"},
		{name: "too many in all", nodes: 4, opts: map[string]string{OptShards: "4"},
			wantErr: `mariadb: option shards="4": 4 groups of 4 nodes (cluster.nodes: per group) is 16 nodes; at most 15 in all`},
		{name: "read from replicas of groups of one", nodes: 1, opts: map[string]string{OptShards: "3", OptReadFrom: "replicas"},
			wantErr: `mariadb: option read-from="replicas": a group of 1 node (cluster.nodes counts each group's) has no replica to read from`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			top, err := topology(tt.nodes, o)
			if tt.wantErr != "" {
				var oe *drivers.OptionError
				if err == nil || err.Error() != tt.wantErr || !errors.As(err, &oe) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err %v, want the option error %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if top.Nodes != tt.wantNodes || strings.Join(top.Roles, " ") != tt.wantRoles || top.Primary != 1 {
				t.Errorf("topology %+v, want %d nodes, roles %q, primary 1", top, tt.wantNodes, tt.wantRoles)
			}
		})
	}
}

func TestShardsGroupOfNode(t *testing.T) {
	for _, tt := range []struct {
		shards, size int
		want         []int // group of nodes 1..
	}{
		{1, 3, []int{0, 0, 0, 0, 0}}, // one group: added nodes too
		{3, 2, []int{0, 0, 1, 1, 2, 2}},
		{2, 3, []int{0, 0, 0, 1, 1, 1}},
		{3, 1, []int{0, 1, 2}},
	} {
		c := fakeGroups(t, tt.shards, tt.size)
		var got []int
		for i := range tt.want {
			got = append(got, c.groupOfNode(i+1))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("shards %d × %d: groups %v, want %v", tt.shards, tt.size, got, tt.want)
		}
	}
}

// Roles, groups and routing of a 3 × 2 cluster, before and after group 2
// (nodes 3, 4) fails over to node 4.
func TestShardsRolesAndRouting(t *testing.T) {
	c := fakeGroups(t, 3, 2)
	ctx := context.Background()
	roles, err := c.NodeRoles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := "map[primary:[1 3 5] replica:[2 4 6] shard1.primary:[1] shard1.replica:[2] shard2.primary:[3] shard2.replica:[4] shard3.primary:[5] shard3.replica:[6]]"
	if fmt.Sprint(roles) != want {
		t.Errorf("roles %v\nwant  %s", roles, want)
	}
	if got := fmt.Sprint(c.NodeGroups()); got != "map[1:shard1 2:shard1 3:shard2 4:shard2 5:shard3 6:shard3]" {
		t.Errorf("groups %s", got)
	}
	if w := []int{c.writeTarget(0), c.writeTarget(1), c.writeTarget(2)}; !slices.Equal(w, []int{1, 3, 5}) {
		t.Errorf("write targets %v, want [1 3 5]", w)
	}
	if r := c.readTargets(1, readReplicas); !slices.Equal(r, []int{4}) {
		t.Errorf("group 2's replica reads go to %v, want [4]", r)
	}
	if r := c.readTargets(2, readAny); !slices.Equal(r, []int{5, 6}) {
		t.Errorf("group 3's reads go to %v, want [5 6]", r)
	}

	// what promote does once node 4 is the primary of its group
	c.mu.Lock()
	c.groups[c.groupOfNode(4)].primary = 4
	c.mu.Unlock()
	if w := []int{c.writeTarget(0), c.writeTarget(1), c.writeTarget(2)}; !slices.Equal(w, []int{1, 4, 5}) {
		t.Errorf("write targets after the failover %v, want [1 4 5]", w)
	}
	roles, _ = c.NodeRoles(ctx)
	if got := fmt.Sprint(roles["shard2.primary"], roles["shard2.replica"], roles["primary"]); got != "[4] [3] [1 4 5]" {
		t.Errorf("after the failover: shard2.primary, shard2.replica, primary: %s", got)
	}
	if c.primaryIndex() != 1 || c.primaryOf(3) != 4 || !c.isPrimary(4) || c.isPrimary(3) {
		t.Errorf("primaryIndex %d, primaryOf(3) %d", c.primaryIndex(), c.primaryOf(3))
	}
}

func TestShardsOneGroupHasNoGroups(t *testing.T) {
	c := fakeGroups(t, 1, 3)
	if g := c.NodeGroups(); g != nil {
		t.Errorf("one group: NodeGroups %v, want nil (the report shows no groups)", g)
	}
	roles, _ := c.NodeRoles(context.Background())
	if fmt.Sprint(roles) != "map[primary:[1] replica:[2 3]]" {
		t.Errorf("roles %v", roles)
	}
}

// What needs a group named, or cannot run with several, says so in one
// line before it touches a node.
func TestShardsRefusals(t *testing.T) {
	c := fakeGroups(t, 3, 2)
	ctx := context.Background()
	_, candErr := c.Candidate(ctx)
	_, addErr := c.AddNode(ctx)
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"candidate without a group", candErr, "name the group whose replica to promote (promote: shard2.replica)"},
		{"add-node", addErr, "mariadb: add-node: not supported by this driver with shards=3"},
		{"remove-node", c.RemoveNode(ctx, 2), "mariadb: remove-node: not supported by this driver with shards=3"},
		{"a group that does not exist", candidateOfErr(c, "shard4.replica"), `no group in role "shard4.replica": want shard<g>.replica with g from 1 to 3`},
		{"not a group", candidateOfErr(c, "shardx.replica"), `no group in role "shardx.replica"`},
		{"not a replica role", candidateOfErr(c, "shard2.primary"), `no group in role "shard2.primary"`},
	} {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) || strings.Contains(tt.err.Error(), "\n") {
			t.Errorf("%s: %v, want one line with %q", tt.name, tt.err, tt.want)
		}
	}
	if _, err := c.AddNode(ctx); !errors.Is(err, drivers.ErrNotSupported) {
		t.Errorf("add-node: %v, want ErrNotSupported", err)
	}
}

func candidateOfErr(c *cluster, role string) error {
	_, err := c.CandidateOf(context.Background(), role)
	return err
}

// The example runs on three groups; a step naming a group the cluster
// does not have is refused at validation with its file and line, as bad
// input (exit 2).
func TestShardsScenarioValidation(t *testing.T) {
	const example = "../../scenarios/examples/mariadb-shards-failover.yaml"
	text, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, from, to, want string
	}{
		{name: "the example"},
		{name: "a fourth group's primary", from: "kill: shard2.primary", to: "kill: shard4.primary",
			want: `shards.yaml:32: kill: driver mariadb (provider docker) has no node role "shard4.primary"`},
		{name: "a fourth group's replica", from: "promote: shard2.replica", to: "promote: shard4.replica",
			want: `shards.yaml:35: promote: driver mariadb (provider docker) has no node role "shard4.replica"`},
		{name: "too many nodes in all", from: "nodes: 2", to: "nodes: 6",
			want: `shards.yaml:18: cluster.options: mariadb: option shards="3": 3 groups of 6 nodes`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := string(text)
			if tt.from != "" {
				if !strings.Contains(src, tt.from) {
					t.Fatalf("the example has no %q", tt.from)
				}
				src = strings.Replace(src, tt.from, tt.to, 1)
			}
			p, err := scenarios.Parse("shards.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			top, err := scenarios.Check(p, New(), drivers.ProviderDocker)
			if tt.want == "" {
				if err != nil || top.Nodes != 6 {
					t.Fatalf("%v; %d nodes, want 6", err, top.Nodes)
				}
				return
			}
			var ee errext.HasExitCode
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || !errors.As(err, &ee) || ee.ExitCode() != errext.ExitBadInput {
				t.Errorf("err %v\nwant %s... with exit %d", err, tt.want, errext.ExitBadInput)
			}
		})
	}
}

// Three groups of two under a light load through the runner: shard2's
// primary (node 3) killed, its replica (node 4) promoted by role. Every
// operation goes to its group's primary (read-from primary), so no
// replica serves and node 4 serves only once promoted; groups 1 and 3
// serve throughout, and with semi-sync nothing acknowledged is lost. Its
// timeout is short: the new primary has no replica left to acknowledge,
// so its first commit waits that long and semi-sync falls back to
// asynchronous.
func TestScenarioShardsFailover(t *testing.T) {
	runID := needDocker(t)
	t.Parallel()
	rep, top := drivertest.RunScenario(t, New(), runID, `name: shards-failover
cluster:
  nodes: 2
  options: {shards: 3, semi-sync: on, semi-sync-timeout: 1s}
workload: {mix: {read: 50, write: 50}, keys: 300, value_size: 64, rate: 120, concurrency: 8, timeout: 3s}
steps:
  - phase: baseline
    sleep: 3s
  - phase: down
    kill: shard2.primary
  - sleep: 3s
  - phase: promoted
    promote: shard2.replica
  - sleep: 4s
  - verify:
`, 5*time.Minute)
	if top.Nodes != 6 || rep.Driver.Config[OptShards] != "3" {
		t.Errorf("planned %d nodes, config %v: want 6 nodes, shards 3", top.Nodes, rep.Driver.Config)
	}
	byStep := drivertest.EventsByStep(t, rep)
	if byStep["kill"].Node != 3 || byStep["promote"].Node != 4 {
		t.Errorf("kill node %d, promote node %d: want shard2's primary 3, then its replica 4", byStep["kill"].Node, byStep["promote"].Node)
	}
	for _, p := range rep.Phases {
		served := map[int]model.NodeStats{}
		for _, n := range p.Nodes {
			served[n.Node] = n
			t.Logf("phase %s node %d: %d ops (%v), %d errors", p.Name, n.Node, n.Count, n.Ops, n.Errors)
		}
		for _, g := range p.Groups {
			t.Logf("phase %s %s: nodes %v, %d ops, %d errors, p99 %d us", p.Name, g.Group, g.Nodes, g.Count, g.Errors, g.P99Us)
		}
		for _, primary := range []int{1, 5} { // groups 1 and 3 unaffected
			if n := served[primary]; n.Count == 0 || n.Errors*100 > n.Count {
				t.Errorf("phase %s: node %d (a primary of a group not failed over) served %d operations, %d errors", p.Name, primary, n.Count, n.Errors)
			}
		}
		for _, replica := range []int{2, 6} {
			if n, ok := served[replica]; ok {
				t.Errorf("phase %s: replica node %d served %d operations; read-from primary", p.Name, replica, n.Count)
			}
		}
		switch n, ok := served[4]; {
		case p.Name != "promoted" && ok:
			t.Errorf("phase %s: node 4 served %d operations before it was promoted", p.Name, n.Count)
		case p.Name == "promoted" && n.Count-n.Errors == 0:
			t.Errorf("phase promoted: node 4, shard2's new primary, served nothing: %+v", n)
		}
	}
	s := rep.Safety
	t.Logf("safety: acknowledged %d keys (%d writes), verified %d, lost %d, stale %d", s.Acknowledged, s.AcknowledgedWrites, s.Verified, s.Lost, s.Stale)
	if !s.Checked || s.Acknowledged == 0 || s.Lost != 0 {
		t.Errorf("safety %+v: want every acknowledged write kept (semi-sync)", s)
	}
}
