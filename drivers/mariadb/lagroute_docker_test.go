package mariadb

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/internal/drivertest"
	"github.com/evalrun/evalrun/reports/model"
)

// stalenessMargin is what the test allows a `read` beyond max-lag plus
// lagEvery. By the argument in lagroute.go a routed read is stale by less
// than max-lag itself; the heartbeat is written every 100 ms and its
// timestamp is taken when its statement starts, so lag over-states; the
// margin covers what the argument leaves out: the load's clock (monotonic)
// against the containers' UTC clock, and a heartbeat statement or a write
// commit held up on two shared, busy cores (a scheduling delay of this
// order was seen under load in other tests here).
const stalenessMargin = 250 * time.Millisecond

// The example mariadb-lag-routing through the runner: reads from the
// replicas under max-lag 500ms while node2 is paused 5 s and node3 for
// the last 3 s of it. No `read` is more stale than the bound allows,
// `read-fresh` is never stale, and with both replicas paused the primary
// serves the reads (more than its writes and fresh reads).
func TestScenarioLagRouting(t *testing.T) {
	runID := needDocker(t)
	t.Parallel()
	text, err := os.ReadFile("../../scenarios/examples/mariadb-lag-routing.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := drivertest.RunScenario(t, New(), runID, string(text), 4*time.Minute)
	if rep.Driver.Config[OptMaxLag] != "500ms" {
		t.Fatalf("driver config %v: want max-lag 500ms", rep.Driver.Config)
	}
	drivertest.EventsByStep(t, rep)
	const allowed = 500*time.Millisecond + lagEvery + stalenessMargin
	for _, p := range rep.Phases {
		read, fresh := p.Ops["read"], p.Ops["read-fresh"]
		t.Logf("phase %s: read %d (stale %d, most %.3f s), read-fresh %d (stale %d), write %d; per node %s",
			p.Name, read.Count, read.StaleReads, float64(read.MaxStalenessUs)/1e6, fresh.Count, fresh.StaleReads,
			p.Ops["write"].Count, nodeCounts(p.Nodes))
		if time.Duration(read.MaxStalenessUs)*time.Microsecond > allowed {
			t.Errorf("phase %s: a read stale by %.3f s, want at most %s (max-lag + lagEvery + margin)",
				p.Name, float64(read.MaxStalenessUs)/1e6, allowed)
		}
		if fresh.Count == 0 || fresh.StaleReads != 0 {
			t.Errorf("phase %s: %d read-fresh, %d stale: want some, none stale", p.Name, fresh.Count, fresh.StaleReads)
		}
	}
	byName := map[string]*model.Phase{}
	for i := range rep.Phases {
		byName[rep.Phases[i].Name] = &rep.Phases[i]
	}
	// a replica caught up is within the bound and serves reads (on a
	// busy machine a replica may stay over 500 ms behind for a while, and
	// one run's baseline sent node2 only 5 reads: over the whole run)
	var onReplicas int64
	for i := range rep.Phases {
		for _, idx := range []int{2, 3} {
			if n := nodeOf(&rep.Phases[i], idx); n != nil {
				onReplicas += n.Count
			}
		}
	}
	if onReplicas == 0 {
		t.Error("the replicas served no read in the whole run: none was ever within max-lag")
	}
	// the router leaves a paused replica out at once; with both paused
	// the reads go to the primary (a read the client sent before the
	// pause waits on its replica): at least half of them. After the
	// resume the replicas are up but seconds behind: their reads go to
	// the primary until they catch up, which only the bound does.
	for _, tc := range []struct {
		phase string
		least func(reads int64) int64
	}{
		{"both-paused", func(reads int64) int64 { return max(reads/2, 1) }},
		{"resumed", func(int64) int64 { return 5 }}, // 133 and 219 measured; 2 when the bound was ignored
	} {
		p := byName[tc.phase]
		if p == nil {
			t.Errorf("no phase %s in the report", tc.phase)
			continue
		}
		moved, reads := readsOnPrimary(p)
		t.Logf("%s: the primary served %d of %d reads", tc.phase, moved, reads)
		if moved < tc.least(reads) {
			t.Errorf("%s: the primary served %d of %d reads, want at least %d (per node %s)",
				tc.phase, moved, reads, tc.least(reads), nodeCounts(p.Nodes))
		}
	}
}

// readsOnPrimary is how many of phase p's reads (not read-fresh) node1,
// the primary, served, and how many reads were sent. Until per-node op
// counts (NodeStats.Ops) are filled it is the primary's operations less
// the writes and fresh reads sent (all of which go to it).
func readsOnPrimary(p *model.Phase) (moved, reads int64) {
	sent := func(op string) int64 { s := p.Ops[op]; return s.Count - s.Missed }
	n := nodeOf(p, 1)
	if n == nil {
		return 0, sent("read")
	}
	if r, ok := n.Ops["read"]; ok {
		return r, sent("read")
	}
	return n.Count - sent("write") - sent("read-fresh"), sent("read")
}

// nodeOf is phase p's statistics of node index; nil when it served
// nothing.
func nodeOf(p *model.Phase, index int) *model.NodeStats {
	for i := range p.Nodes {
		if p.Nodes[i].Node == index && p.Nodes[i].Count > 0 {
			return &p.Nodes[i]
		}
	}
	return nil
}

// nodeCounts is "node1 120, node2 3, ..." for a log line.
func nodeCounts(ns []model.NodeStats) string {
	var parts []string
	for _, n := range ns {
		part := fmt.Sprintf("%s %d", n.Name, n.Count)
		if len(n.Ops) > 0 {
			part += fmt.Sprintf(" %v", n.Ops)
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}
