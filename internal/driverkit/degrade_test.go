package driverkit

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/docker"
	"github.com/evalrun/evalrun/internal/errext"
)

// fakeShaper records what Degrade and Repair asked of a container.
type fakeShaper struct {
	own   docker.Resources
	calls []string
	fail  error
}

func (f *fakeShaper) SetCPUs(_ context.Context, cpus float64) error {
	f.calls = append(f.calls, fmt.Sprintf("cpus %g", cpus))
	return f.fail
}

func (f *fakeShaper) SetShaping(_ context.Context, s docker.Shaping) error {
	f.calls = append(f.calls, fmt.Sprintf("shaping %+v", s))
	return f.fail
}

func (f *fakeShaper) Resources() docker.Resources { return f.own }

// fakeBase is a Base of three running nodes whose containers are fakes;
// node 2 has a quota of its own (1 core), the others have none.
func fakeBase(t *testing.T) (*Base[*Node], map[int]*fakeShaper) {
	t.Helper()
	spec := drivers.ClusterSpec{PerNode: map[int]drivers.Resources{2: {CPUs: 1}}}
	b := &Base[*Node]{Driver: "fake", limits: limitsOf(spec)}
	fakes := map[int]*fakeShaper{}
	for i := 1; i <= 3; i++ {
		fakes[i] = &fakeShaper{own: docker.Resources(spec.ResourcesOf(i))}
	}
	b.limits.shaperOf = func(n *Node) shaper { return fakes[n.Index] }
	ns, err := b.Reserve([]int{1, 2, 3}, func(int) *Node { return &Node{} })
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		b.Attach(n, nil)
	}
	return b, fakes
}

func TestDegradeRepairBookkeeping(t *testing.T) {
	ctx := context.Background()
	loss := drivers.Degradation{LossPercent: 3, BandwidthBitsPerSec: 2e6}
	cases := []struct {
		name  string
		steps func(b *Base[*Node]) error
		node  int
		calls []string
		left  map[int]drivers.Degradation
	}{
		{"cpu only touches the quota", func(b *Base[*Node]) error {
			return b.Degrade(ctx, 1, drivers.Degradation{CPUs: 0.05})
		}, 1, []string{"cpus 0.05"}, map[int]drivers.Degradation{1: {CPUs: 0.05}}},
		{"network only touches the shaping", func(b *Base[*Node]) error {
			return b.Degrade(ctx, 3, loss)
		}, 3, []string{"shaping {BandwidthBitsPerSec:2000000 LossPercent:3 Delay:0s}"}, map[int]drivers.Degradation{3: loss}},
		{"repair gives back the node's own quota", func(b *Base[*Node]) error {
			return errors.Join(b.Degrade(ctx, 2, drivers.Degradation{CPUs: 0.05}), b.Repair(ctx, 2))
		}, 2, []string{"cpus 0.05", "cpus 1"}, map[int]drivers.Degradation{}},
		{"repair of no quota is unlimited, and clears the shaping", func(b *Base[*Node]) error {
			return errors.Join(b.Degrade(ctx, 1, drivers.Degradation{CPUs: 0.1, LossPercent: 1}), b.Repair(ctx, 1))
		}, 1, []string{"cpus 0.1", "shaping {BandwidthBitsPerSec:0 LossPercent:1 Delay:0s}", "cpus 0", "shaping {BandwidthBitsPerSec:0 LossPercent:0 Delay:0s}"}, map[int]drivers.Degradation{}},
		{"a second degrade replaces the first", func(b *Base[*Node]) error {
			return errors.Join(b.Degrade(ctx, 2, drivers.Degradation{CPUs: 0.05, LossPercent: 1}), b.Degrade(ctx, 2, drivers.Degradation{Delay: time.Millisecond}))
		}, 2, []string{"cpus 0.05", "shaping {BandwidthBitsPerSec:0 LossPercent:1 Delay:0s}", "cpus 1", "shaping {BandwidthBitsPerSec:0 LossPercent:0 Delay:1ms}"},
			map[int]drivers.Degradation{2: {Delay: time.Millisecond}}},
		{"repair of a node not degraded does nothing", func(b *Base[*Node]) error {
			return b.Repair(ctx, 3)
		}, 3, nil, map[int]drivers.Degradation{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, fakes := fakeBase(t)
			if err := tc.steps(b); err != nil {
				t.Fatal(err)
			}
			if got := fakes[tc.node].calls; !reflect.DeepEqual(got, tc.calls) {
				t.Errorf("calls %q\nwant  %q", got, tc.calls)
			}
			if got := b.Degraded(); !reflect.DeepEqual(got, tc.left) {
				t.Errorf("degraded %v, want %v", got, tc.left)
			}
		})
	}
}

func TestDegradeRefuses(t *testing.T) {
	ctx := context.Background()
	b, fakes := fakeBase(t)
	n, _ := b.Node(2)
	b.SetState(n, StateDown)
	if err := b.Degrade(ctx, 2, drivers.Degradation{CPUs: 0.1}); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("degrade of a node that is down: %v", err)
	}
	if err := b.Degrade(ctx, 9, drivers.Degradation{CPUs: 0.1}); err == nil {
		t.Error("degrade of node 9 of 3 succeeded")
	}
	// a degrade that fails counts as degraded (what took is not known for
	// sure), so that a repair undoes every mechanism it named
	fakes[1].fail = errors.New("docker says no")
	err := b.Degrade(ctx, 1, drivers.Degradation{CPUs: 0.1, LossPercent: 5})
	if err == nil || !strings.Contains(err.Error(), "docker says no") || len(b.Degraded()) != 1 {
		t.Errorf("a failed degrade: %v, degraded %v", err, b.Degraded())
	}
	fakes[1].fail, fakes[1].calls = nil, nil
	if err := b.Repair(ctx, 1); err != nil || len(b.Degraded()) != 0 {
		t.Fatalf("repair after a failed degrade: %v, degraded %v", err, b.Degraded())
	}
	if want := []string{"cpus 0", "shaping {BandwidthBitsPerSec:0 LossPercent:0 Delay:0s}"}; !reflect.DeepEqual(fakes[1].calls, want) {
		t.Errorf("repair calls %q, want %q", fakes[1].calls, want)
	}
}

func TestResourcesOfNodes(t *testing.T) {
	spec := drivers.ClusterSpec{Resources: drivers.Resources{CPUs: 0.5, MemoryBytes: 512 << 20},
		PerNode: map[int]drivers.Resources{2: {CPUs: 1, MemoryBytes: 512 << 20}}}
	b := &Base[*Node]{limits: limitsOf(spec)}
	cases := []struct {
		name string
		want docker.Resources
	}{
		{"node1", docker.Resources{CPUs: 0.5, MemoryBytes: 512 << 20}},
		{"node2", docker.Resources{CPUs: 1, MemoryBytes: 512 << 20}},
		{"node7", docker.Resources{CPUs: 0.5, MemoryBytes: 512 << 20}}, // added later: the cluster's
	}
	for _, tc := range cases {
		if got := b.ContainerResources(tc.name); got != tc.want {
			t.Errorf("ContainerResources(%s) = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestNetemCheck(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name     string
		has      bool
		err      error
		bad, any bool // bad input; any error
	}{
		{"netem", true, nil, false, false},
		{"no netem", false, nil, true, true},
		{"no netem, said by the engine", false, docker.ErrNoNetem, true, true},
		{"cannot tell", false, errors.New("daemon gone"), false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := netemCheck(ctx, "redis", func(context.Context) (bool, error) { return tc.has, tc.err })
			if (err != nil) != tc.any || errext.IsBadInput(err) != tc.bad {
				t.Fatalf("err %v (bad input %v)", err, errext.IsBadInput(err))
			}
			if tc.bad && (!strings.Contains(err.Error(), "this kernel has no netem") || strings.Contains(err.Error(), "\n")) {
				t.Errorf("message %q", err)
			}
		})
	}
}
