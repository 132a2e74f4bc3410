package runner

import (
	"context"
	"testing"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/scenarios"
)

func TestResourcesText(t *testing.T) {
	cases := []struct {
		c    scenarios.Cluster
		want string
	}{
		{scenarios.Cluster{}, ""},
		{scenarios.Cluster{Resources: drivers.Resources{CPUs: 0.5, MemoryBytes: 512 << 20}}, "cpus 0.5, memory 512m"},
		{scenarios.Cluster{Resources: drivers.Resources{CPUs: 0.5}, PerNode: map[int]drivers.Resources{3: {CPUs: 2}, 2: {CPUs: 1, MemoryBytes: 1 << 30}}},
			"cpus 0.5; node2: cpus 1, memory 1g; node3: cpus 2"},
	}
	for _, tc := range cases {
		if got := resourcesText(tc.c); got != tc.want {
			t.Errorf("resourcesText(%+v) = %q, want %q", tc.c, got, tc.want)
		}
	}
}

// "degraded" names the most recently degraded node not repaired.
func TestDegradedRole(t *testing.T) {
	var b nodeBook
	b.started(nil, 3)
	steps := []struct {
		do   func()
		want int // 0: none
	}{
		{func() {}, 0},
		{func() { b.degrade(2) }, 2},
		{func() { b.degrade(3) }, 3},
		{func() { b.degrade(2) }, 2}, // degraded again: the most recent
		{func() { b.repair(2) }, 3},
		{func() { b.repair(3) }, 0},
	}
	for i, st := range steps {
		st.do()
		got, err := b.resolve(context.Background(), nil, 0, "degraded")
		if (st.want == 0) != (err != nil) || got != st.want {
			t.Errorf("step %d: degraded = %d, %v; want %d", i, got, err, st.want)
		}
	}
}
