package runner

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/scenarios"
)

// promoteDriver starts a fake primary (node 1) with replicas 2 and 3:
// writes fail while the primary is dead and no replica has been promoted,
// and a promotion takes promoteTook.
type promoteDriver struct {
	panicDriver
	cluster *promoteCluster // the one StartCluster made
}

func (d *promoteDriver) Plan(string, int, map[string]string) (drivers.Topology, error) {
	return drivers.Topology{Nodes: 3, Primary: 1, Roles: []string{drivers.RolePrimary, drivers.RoleReplica},
		Capabilities: drivers.CapabilitiesOf((*promoteCluster)(nil))}, nil
}

func (d *promoteDriver) StartCluster(context.Context, drivers.ClusterSpec) (drivers.Cluster, error) {
	c := &promoteCluster{panicCluster: panicCluster{d: &d.panicDriver}, primary: 1}
	c.candidate.Store(3)
	d.cluster = c
	return c, nil
}

const promoteTook = 300 * time.Millisecond

type promoteCluster struct {
	panicCluster
	mu        sync.Mutex
	primary   int // 0 while there is none
	candidate atomic.Int64
	calls     []string // what the runner asked, in order
}

func (c *promoteCluster) record(s string) {
	c.mu.Lock()
	c.calls = append(c.calls, s)
	c.mu.Unlock()
}

func (c *promoteCluster) NewClient(ctx context.Context) (drivers.Client, error) {
	inner, _ := c.panicCluster.NewClient(ctx)
	return &promoteClient{Client: inner, c: c}, nil
}

func (c *promoteCluster) NodeRoles(context.Context) (map[string][]int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	roles := map[string][]int{}
	for i := 1; i <= 3; i++ {
		if i == c.primary {
			roles[drivers.RolePrimary] = append(roles[drivers.RolePrimary], i)
		} else {
			roles[drivers.RoleReplica] = append(roles[drivers.RoleReplica], i)
		}
	}
	return roles, nil
}

func (c *promoteCluster) KillNode(_ context.Context, i int) error {
	c.record(fmt.Sprintf("kill %d", i))
	c.mu.Lock()
	if i == c.primary {
		c.primary = 0
	}
	c.mu.Unlock()
	return nil
}

func (c *promoteCluster) Candidate(context.Context) (int, error) {
	c.record("candidate")
	return int(c.candidate.Load()), nil
}

func (c *promoteCluster) Promote(ctx context.Context, i int) error {
	c.record(fmt.Sprintf("promote %d", i))
	if err := sleepCtx(ctx, promoteTook); err != nil {
		return err
	}
	c.mu.Lock()
	c.primary = i
	c.mu.Unlock()
	return nil
}

func (c *promoteCluster) Switchover(_ context.Context, i int) error {
	c.record(fmt.Sprintf("switchover %d", i))
	c.mu.Lock()
	c.primary = i
	c.mu.Unlock()
	return nil
}

type promoteClient struct {
	drivers.Client
	c *promoteCluster
}

func (p *promoteClient) Put(ctx context.Context, k string, v []byte) error {
	p.c.mu.Lock()
	down := p.c.primary == 0
	p.c.mu.Unlock()
	if down {
		return drivers.ErrUnavailable
	}
	return p.Client.Put(ctx, k, v)
}

// promote: replica asks the cluster which replica (its candidate, not the
// lowest one up), switchover takes the node named, and the report gives
// the promote step's failover_ms: at least the promotion's own time, at
// most a few windows more.
func TestPromoteAndSwitchoverSteps(t *testing.T) {
	plan, err := scenarios.Parse("promote.yaml", []byte(`name: promote
cluster: {nodes: 3}
workload: {mix: {read: 1, write: 1}, keys: 50, rate: 200, concurrency: 4}
steps:
  - sleep: 1s
  - kill: primary
  - sleep: 1s
  - promote: replica
  - sleep: 2s
  - switchover: 2
  - sleep: 1s
`))
	if err != nil {
		t.Fatal(err)
	}
	d := &promoteDriver{}
	if _, err := scenarios.Check(plan, d, drivers.ProviderEmbedded); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, Options{Plan: plan, Driver: d, Provider: drivers.ProviderEmbedded, RunID: "test-promote", Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	byStep := map[string]model.Event{}
	for _, e := range rep.Events {
		byStep[e.Step] = e
		if !e.Outcome.OK() {
			t.Errorf("event %s: %s", e.Step, e.Outcome)
		}
	}
	if byStep["kill"].Node != 1 || byStep["promote"].Node != 3 || byStep["switchover"].Node != 2 {
		t.Errorf("kill %d, promote %d, switchover %d: want 1, the candidate 3, 2", byStep["kill"].Node, byStep["promote"].Node, byStep["switchover"].Node)
	}
	if got := d.cluster.calls; len(got) != 4 || got[0] != "kill 1" || got[1] != "candidate" || got[2] != "promote 3" || got[3] != "switchover 2" {
		t.Errorf("the cluster was asked %q", got)
	}
	var fo *model.Operational
	for i, o := range rep.Operational {
		if o.Step == "promote" {
			fo = &rep.Operational[i]
		}
	}
	if fo == nil || fo.FailoverMs == nil {
		t.Fatalf("no failover_ms for the promote step: %+v", rep.Operational)
	}
	if ms := *fo.FailoverMs; ms < promoteTook.Milliseconds() || ms > promoteTook.Milliseconds()+1000 {
		t.Errorf("failover_ms %d, want from %d (the promotion) to a second more", ms, promoteTook.Milliseconds())
	}
}
