package runner_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/drivers/mem"
	"github.com/evalrun/evalrun/internal/docker"
	"github.com/evalrun/evalrun/internal/errext"
	"github.com/evalrun/evalrun/internal/runner"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/scenarios"
)

const degradeHead = `name: degrade
cluster: {nodes: 3}
workload: {mix: {read: 50, write: 50}, keys: 100, rate: 300, concurrency: 200, timeout: 2s}
steps:
`

// A degrade step on mem slows the node it names while it lasts; its event
// says what it applied, and repair (by the role "degraded") ends it on
// the same node, which is what the plots' shading pairs.
func TestDegradeAndRepairOnMem(t *testing.T) {
	rep := runMem(t, parse(t, degradeHead+`  - phase: before
    sleep: 1s
  - phase: slow
    degrade: {node: 2, cpu: 0.5, delay: 500ms}
  - sleep: 2s
  - phase: repaired
    repair: degraded
  - sleep: 1s
  - phase: later
    sleep: 1s
`))
	var deg, rep2 *model.Event
	for i, e := range rep.Events {
		switch e.Step {
		case scenarios.ActDegrade:
			deg = &rep.Events[i]
		case scenarios.ActRepair:
			rep2 = &rep.Events[i]
		}
	}
	if deg == nil || rep2 == nil {
		t.Fatalf("events %+v", rep.Events)
	}
	if deg.Node != 2 || deg.Kind != "fault" || deg.Detail != "node2: cpu 0.5, delay 500ms" || deg.Line != 8 {
		t.Errorf("degrade event %+v", *deg)
	}
	if rep2.Node != 2 || rep2.Kind != "recovery" || !slices.Equal(rep2.Ends, []string{scenarios.ActDegrade}) {
		t.Errorf("repair event %+v", *rep2)
	}
	// a third of the operations go through node 2: they wait 500 ms while
	// it is degraded, none does once those under way at the repair ended
	slow, after := phaseOf(rep, "slow"), phaseOf(rep, "later")
	if slow == nil || after == nil {
		t.Fatalf("phases %+v", rep.Phases)
	}
	if slow.Total.MaxUs < 500_000 || after.Total.MaxUs >= 500_000 {
		t.Errorf("max latency %v while degraded (want >= 500ms), %v after the repair (want less)",
			time.Duration(slow.Total.MaxUs)*time.Microsecond, time.Duration(after.Total.MaxUs)*time.Microsecond)
	}
}

// What mem cannot do is refused before anything starts, at its line:
// cluster.resources (its nodes run in this process) and a degrade field
// nothing knows.
func TestDegradeRefusedOnMem(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"resources", strings.Replace(degradeHead, "cluster: {nodes: 3}", "cluster:\n  nodes: 3\n  resources: {cpus: 0.5}", 1) + "  - sleep: 1s\n",
			":4: cluster.resources: driver mem (provider embedded) runs its nodes in this process"},
		{"an unknown field", degradeHead + "  - degrade: {node: 2, jitter: 5ms}\n", `:5: unknown key "jitter" in degrade`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := scenarios.Parse("t.yaml", []byte(tc.text))
			if err == nil {
				_, err = scenarios.Check(plan, mem.New(), drivers.ProviderEmbedded)
			}
			if !errext.IsBadInput(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want bad input with %q", err, tc.want)
			}
		})
	}
}

// netemless wraps mem with the check a docker driver makes on a kernel
// without netem, and counts the clusters it starts.
type netemless struct {
	drivers.Driver
	checked, started int
}

func (d *netemless) CheckDegrade(_ context.Context, _ string, deg drivers.Degradation) error {
	d.checked++
	if deg.Delay > 0 {
		return errext.BadInput(fmt.Errorf("fake: degrade delay: %w", docker.ErrNoNetem), "remove delay")
	}
	return nil
}

func (d *netemless) StartCluster(ctx context.Context, spec drivers.ClusterSpec) (drivers.Cluster, error) {
	d.started++
	return d.Driver.StartCluster(ctx, spec)
}

// A delay the machine cannot apply is refused at run start in one line
// that names the step, as bad input, before any cluster starts.
func TestRunStartRefusesDelayWithoutNetem(t *testing.T) {
	plan := parse(t, degradeHead+"  - degrade: {node: 1, cpu: 0.5}\n  - sleep: 1s\n  - degrade: {node: 2, delay: 50ms}\n")
	d := &netemless{Driver: mem.New()}
	rep, err := runner.Run(t.Context(), runner.Options{Plan: plan, Driver: d, Provider: drivers.ProviderEmbedded, RunID: "test-netem", Version: "test"})
	if err == nil || errext.ExitCodeOf(err) != errext.ExitBadInput {
		t.Fatalf("Run = %v (exit %d), want bad input", err, errext.ExitCodeOf(err))
	}
	want := "test:" + t.Name() + ":7: degrade: fake: degrade delay: this kernel has no netem"
	if msg := err.Error(); !strings.HasPrefix(msg, want) || strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error %q\nwant %q...", msg, want)
	}
	var se *scenarios.Error
	if !errors.As(err, &se) || se.Line != 7 {
		t.Errorf("error %v names no line 7", err)
	}
	if d.checked != 2 || d.started != 0 {
		t.Errorf("checked %d degrade steps (want 2), started %d clusters (want 0)", d.checked, d.started)
	}
	if rep == nil || rep.Complete || len(rep.Events) != 0 {
		t.Errorf("report %+v", rep)
	}
}
