package drivers

import (
	"context"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/internal/errext"
)

type degradingCluster struct{ bareCluster }

func (degradingCluster) Degrade(context.Context, int, Degradation) error { return nil }
func (degradingCluster) Repair(context.Context, int) error               { return nil }
func (degradingCluster) NodeResources(int) Resources                     { return Resources{} }

func TestDegraderCapabilities(t *testing.T) {
	got := CapabilitiesOf(degradingCluster{})
	if len(got) != 2 || got[0] != CapDegrade || got[1] != CapRepair {
		t.Errorf("CapabilitiesOf(a Degrader) = %v, want [degrade repair]", got)
	}
	if !LimitsResources(degradingCluster{}) || LimitsResources(bareCluster{}) {
		t.Error("LimitsResources does not follow ResourceLimiter")
	}
}

func TestResourcesOf(t *testing.T) {
	spec := ClusterSpec{Resources: Resources{CPUs: 0.5}, PerNode: map[int]Resources{2: {CPUs: 1, MemoryBytes: 1 << 30}}}
	cases := []struct {
		index int
		want  Resources
	}{{1, Resources{CPUs: 0.5}}, {2, Resources{CPUs: 1, MemoryBytes: 1 << 30}}, {4, Resources{CPUs: 0.5}}}
	for _, tc := range cases {
		if got := spec.ResourcesOf(tc.index); got != tc.want {
			t.Errorf("ResourcesOf(%d) = %+v, want %+v", tc.index, got, tc.want)
		}
	}
	if !spec.HasResources() || (ClusterSpec{PerNode: map[int]Resources{1: {}}}).HasResources() {
		t.Error("HasResources")
	}
	err := RefuseResources("mem", spec)
	if !errext.IsBadInput(err) || !strings.Contains(err.Error(), "mem runs its nodes in this process") {
		t.Errorf("RefuseResources = %v", err)
	}
	if err := RefuseResources("mem", ClusterSpec{}); err != nil {
		t.Errorf("RefuseResources without resources = %v", err)
	}
}
