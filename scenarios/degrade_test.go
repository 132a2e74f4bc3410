package scenarios

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
)

// withResources is header with a resources line (line 4) in the cluster:
// steps start on line 10.
func withResources(res string) string {
	return strings.Replace(header, "  nodes: 3\n", "  nodes: 3\n  resources: "+res+"\n", 1)
}

func TestParseResources(t *testing.T) {
	cases := []struct {
		name    string
		res     string
		all     drivers.Resources
		perNode map[int]drivers.Resources
	}{
		{"cpus and memory", "{cpus: 0.5, memory: 512m}", drivers.Resources{CPUs: 0.5, MemoryBytes: 512 << 20}, nil},
		{"memory in g and bytes", "{memory: 1g}", drivers.Resources{MemoryBytes: 1 << 30}, nil},
		{"a bare byte count", "{memory: 67108864}", drivers.Resources{MemoryBytes: 64 << 20}, nil},
		{"per-node keeps what it does not override", "{cpus: 0.5, memory: 512m, per-node: {2: {cpus: 1}}}",
			drivers.Resources{CPUs: 0.5, MemoryBytes: 512 << 20}, map[int]drivers.Resources{2: {CPUs: 1, MemoryBytes: 512 << 20}}},
		{"per-node alone", "{per-node: {3: {memory: 64mb}}}", drivers.Resources{}, map[int]drivers.Resources{3: {MemoryBytes: 64 << 20}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("r.yaml", []byte(withResources(tc.res)+"  - sleep: 1s\n"))
			if err != nil {
				t.Fatal(err)
			}
			c := p.Cluster
			if c.Resources != tc.all || len(c.PerNode) != len(tc.perNode) || c.ResourcesLine != 4 {
				t.Fatalf("resources %+v per-node %+v line %d", c.Resources, c.PerNode, c.ResourcesLine)
			}
			for i, r := range tc.perNode {
				if c.PerNode[i] != r || c.PerNodeLines[i] != 4 {
					t.Errorf("per-node %d: %+v at line %d, want %+v", i, c.PerNode[i], c.PerNodeLines[i], r)
				}
			}
		})
	}
}

func TestParseDegrade(t *testing.T) {
	cases := []struct {
		name string
		arg  string
		ref  NodeRef
		want drivers.Degradation
	}{
		{"everything", "{node: 2, cpu: 0.05, bandwidth: 2mbit, loss: 3%, delay: 50ms}", NodeRef{Index: 2},
			drivers.Degradation{CPUs: 0.05, BandwidthBitsPerSec: 2_000_000, LossPercent: 3, Delay: 50 * time.Millisecond}},
		{"a role and cpu", "{node: leader, cpu: 0.1}", NodeRef{Role: "leader"}, drivers.Degradation{CPUs: 0.1}},
		{"bits without a unit, loss without %", "{node: 1, bandwidth: 64000, loss: 0.5}", NodeRef{Index: 1},
			drivers.Degradation{BandwidthBitsPerSec: 64000, LossPercent: 0.5}},
		{"kbit and gbit", "{node: 3, bandwidth: 1.5gbit}", NodeRef{Index: 3}, drivers.Degradation{BandwidthBitsPerSec: 1_500_000_000}},
		{"upper-case unit", "{node: 3, bandwidth: 500Kbit}", NodeRef{Index: 3}, drivers.Degradation{BandwidthBitsPerSec: 500_000}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("d.yaml", []byte(header+"  - degrade: "+tc.arg+"\n  - repair: degraded\n"))
			if err != nil {
				t.Fatal(err)
			}
			s := p.Steps[0]
			if s.Action != ActDegrade || s.Node == nil || *s.Node != tc.ref || s.Degrade == nil || *s.Degrade != tc.want {
				t.Fatalf("step %+v node %+v degrade %+v", s, s.Node, s.Degrade)
			}
			if r := p.Steps[1]; r.Action != ActRepair || r.Node == nil || r.Node.Role != "degraded" || r.Line != 10 {
				t.Errorf("repair step %+v", r)
			}
		})
	}
}

func TestDegradeErrors(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"no node", header + "  - degrade: {cpu: 0.1}\n", `d.yaml:9: degrade: missing required key "node"`},
		{"nothing to degrade", header + "  - degrade: {node: 2}\n", "d.yaml:9: degrade: says nothing to degrade; give at least one of cpu, bandwidth, loss, delay"},
		{"not a mapping", header + "  - degrade: 2\n", "d.yaml:9: degrade: want {node: NODE"},
		{"unknown field", header + "  - degrade: {node: 2, cpus: 0.1}\n", `d.yaml:9: unknown key "cpus" in degrade (did you mean "cpu"?)`},
		{"unknown field, no suggestion", header + "  - degrade: {node: 2, jitter: 5ms}\n", `d.yaml:9: unknown key "jitter" in degrade (valid keys: node, cpu, bandwidth, loss, delay)`},
		{"zero cpu", header + "  - degrade: {node: 2,\n      cpu: 0}\n", "d.yaml:10: degrade.cpu: cores must be > 0"},
		{"negative cpu", header + "  - degrade: {node: 2, cpu: -1}\n", "d.yaml:9: degrade.cpu: cores must be > 0"},
		{"bandwidth unit", header + "  - degrade: {node: 2, bandwidth: 2mb}\n", `d.yaml:9: degrade.bandwidth: want a rate such as 2mbit or 500kbit (units bit, kbit, mbit, gbit), got "2mb"`},
		{"bandwidth too low", header + "  - degrade: {node: 2, bandwidth: 10bit}\n", "d.yaml:9: degrade.bandwidth: must be in 8kbit..100gbit"},
		{"cpu below the smallest quota", header + "  - degrade: {node: 2, cpu: 0.001}\n", "d.yaml:9: degrade.cpu: at least 0.01 cores"},
		{"loss of 100%", header + "  - degrade: {node: 2, loss: 100%}\n", "d.yaml:9: degrade.loss: must be above 0% and below 100%"},
		{"loss of 0", header + "  - degrade: {node: 2, loss: 0}\n", "d.yaml:9: degrade.loss: must be above 0% and below 100%"},
		{"loss not a percentage", header + "  - degrade: {node: 2, loss: 3x}\n", "d.yaml:9: degrade.loss: want a percentage"},
		{"delay too long", header + "  - degrade: {node: 2, delay: 11s}\n", "d.yaml:9: degrade.delay: at most 10s"},
		{"delay without unit", header + "  - degrade: {node: 2, delay: 50}\n", "d.yaml:9: degrade.delay: invalid duration"},
		{"node 0", header + "  - degrade: {node: 0, cpu: 0.1}\n", "d.yaml:9: degrade.node: node indexes start at 1"},
		{"repair degraded before any degrade", header + "  - repair: degraded\n", `d.yaml:9: repair: "degraded" is the most recently degraded node not repaired, but no earlier step degrades one`},
		{"repair without a node", header + "  - repair: {}\n", "d.yaml:9: repair: needs a node"},
		{"resources: unknown key", withResources("{cpu: 1}") + "  - sleep: 1s\n", `d.yaml:4: unknown key "cpu" in cluster.resources (did you mean "cpus"?)`},
		{"resources: negative cpus", withResources("{cpus: -0.5}") + "  - sleep: 1s\n", "d.yaml:4: cluster.resources.cpus: cores must be > 0"},
		{"resources: memory unit", withResources("{memory: 512x}") + "  - sleep: 1s\n", `d.yaml:4: cluster.resources.memory: want a size such as 512m or 2g (units b, k, m, g), got "512x"`},
		{"resources: memory negative", withResources("{memory: -5m}") + "  - sleep: 1s\n", "d.yaml:4: cluster.resources.memory: want a size"},
		{"resources: memory too small", withResources("{memory: 1m}") + "  - sleep: 1s\n", "d.yaml:4: cluster.resources.memory: at least 6m (Docker's minimum)"},
		{"resources: per-node index", withResources("{per-node: {node2: {cpus: 1}}}") + "  - sleep: 1s\n", `d.yaml:4: cluster.resources.per-node: keys are node indexes 1..15, got "node2"`},
		{"resources: per-node 0", withResources("{per-node: {0: {cpus: 1}}}") + "  - sleep: 1s\n", "d.yaml:4: cluster.resources.per-node: keys are node indexes 1..15"},
		{"resources: per-node empty", withResources("{per-node: {2: {}}}") + "  - sleep: 1s\n", "d.yaml:4: cluster.resources.per-node.2: give cpus or memory"},
		{"resources: per-node unknown key", withResources("{per-node: {2: {disk: 1}}}") + "  - sleep: 1s\n", `d.yaml:4: unknown key "disk" in cluster.resources.per-node.2`},
		{"resources: per-node bad cpus", withResources("{per-node: {2: {cpus: 0}}}") + "  - sleep: 1s\n", "d.yaml:4: cluster.resources.per-node.2.cpus: cores must be > 0"},
		{"resources: not a mapping", withResources("0.5") + "  - sleep: 1s\n", "d.yaml:4: cluster.resources: must be a mapping"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("d.yaml", []byte(tc.text))
			var se *Error
			if err == nil || !errors.As(err, &se) {
				t.Fatalf("no *Error: %v (plan %+v)", err, p)
			}
			if !strings.HasPrefix(err.Error(), tc.want) || strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("got  %v\nwant %s...", err, tc.want)
			}
		})
	}
}

func TestValidateResourcesAndDegrade(t *testing.T) {
	docker := drivers.Topology{Nodes: 3, Resources: true,
		Capabilities: []drivers.Capability{drivers.CapKill, drivers.CapDegrade, drivers.CapRepair}}
	inProcess := drivers.Topology{Nodes: 3, Capabilities: []drivers.Capability{drivers.CapKill}}
	cases := []struct {
		name, text string
		top        drivers.Topology
		want       string // "" when valid
	}{
		{"resources on docker", withResources("{cpus: 0.5, per-node: {3: {cpus: 1}}}") + "  - sleep: 1s\n", docker, ""},
		{"resources in process", withResources("{cpus: 0.5}") + "  - sleep: 1s\n", inProcess,
			"v.yaml:4: cluster.resources: driver etcd (provider embedded) runs its nodes in this process and cannot limit their CPU or memory; remove cluster.resources or use a driver on the docker provider"},
		{"per-node beyond the nodes it starts", withResources("{per-node: {4: {cpus: 1}}}") + "  - sleep: 1s\n", docker,
			"v.yaml:4: cluster.resources.per-node: node 4 out of range (driver etcd (provider embedded) starts 3 nodes; added nodes get cluster.resources)"},
		{"degrade and repair", header + "  - degrade: {node: 2, cpu: 0.05}\n  - repair: 2\n", docker, ""},
		{"degrade out of range", header + "  - degrade: {node: 4, cpu: 0.05}\n", docker,
			"v.yaml:9: degrade: node 4 out of range (the cluster has 3 nodes at this point)"},
		{"degrade on a driver that cannot", header + "  - sleep: 1s\n  - degrade: {node: 2, loss: 1%}\n", inProcess,
			`v.yaml:10: step "degrade": driver etcd (provider embedded) cannot degrade nodes; pick another driver or remove the step`},
		{"repair on a driver that cannot", header + "  - repair: 1\n", inProcess,
			`v.yaml:9: step "repair": driver etcd (provider embedded) cannot repair degraded nodes; pick another driver or remove the step`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("v.yaml", []byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			err = Validate(p, Target{Driver: "etcd", Provider: "embedded", Topology: tc.top})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestDegradationText(t *testing.T) {
	cases := []struct {
		d    drivers.Degradation
		want string
	}{
		{drivers.Degradation{CPUs: 0.05, LossPercent: 3}, "cpu 0.05, loss 3%"},
		{drivers.Degradation{BandwidthBitsPerSec: 2_000_000, Delay: 50 * time.Millisecond}, "bandwidth 2mbit, delay 50ms"},
		{drivers.Degradation{BandwidthBitsPerSec: 2_500_000}, "bandwidth 2.5mbit"},
		{drivers.Degradation{BandwidthBitsPerSec: 1500}, "bandwidth 1.5kbit"},
		{drivers.Degradation{BandwidthBitsPerSec: 999}, "bandwidth 999bit"},
	}
	for _, tc := range cases {
		if got := DegradationText(tc.d); got != tc.want {
			t.Errorf("DegradationText(%+v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
