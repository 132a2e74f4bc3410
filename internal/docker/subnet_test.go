package docker

import (
	"net"
	"testing"
)

// A run's subnet is split in halves, the run network keeping the half
// with Docker's gateway; the harness networks' /29s come from the other.
func TestSplitSubnet(t *testing.T) {
	tests := []struct {
		subnet, gw     string
		run, harness   string // harness "" when not split
		firstHarnessGW string
	}{
		{"172.18.0.0/16", "172.18.0.1", "172.18.0.0/17", "172.18.128.0/17", "172.18.128.1"},
		{"192.168.16.0/20", "192.168.16.1", "192.168.16.0/21", "192.168.24.0/21", "192.168.24.1"},
		{"10.1.0.0/16", "10.1.200.1", "10.1.128.0/17", "10.1.0.0/17", "10.1.0.1"},
		{"10.9.9.0/25", "10.9.9.1", "10.9.9.0/25", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.subnet, func(t *testing.T) {
			_, ipn, err := net.ParseCIDR(tt.subnet)
			if err != nil {
				t.Fatal(err)
			}
			run, harness := splitSubnet(ipn, net.ParseIP(tt.gw))
			if run.String() != tt.run {
				t.Errorf("run network %s, want %s", run, tt.run)
			}
			if tt.harness == "" {
				if harness != nil {
					t.Errorf("harness space %s, want none", harness)
				}
				return
			}
			if harness == nil || harness.String() != tt.harness {
				t.Fatalf("harness space %v, want %s", harness, tt.harness)
			}
			c := &Cluster{harnessSpace: harness}
			first, second := c.harnessIPAM(), c.harnessIPAM()
			if first == nil || first.Config[0].Gateway != tt.firstHarnessGW || second == nil {
				t.Fatalf("first harness network %+v, want gateway %s", first, tt.firstHarnessGW)
			}
			_, a, _ := net.ParseCIDR(first.Config[0].Subnet)
			_, b, _ := net.ParseCIDR(second.Config[0].Subnet)
			if ones, _ := a.Mask.Size(); ones != 29 || a.Contains(b.IP) || !harness.Contains(b.IP) || run.Contains(a.IP) {
				t.Errorf("harness networks %s and %s: want distinct /29s inside %s, outside %s", a, b, harness, run)
			}
		})
	}
}
