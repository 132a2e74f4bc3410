package judge

import (
	"fmt"
	"slices"

	"github.com/evalrun/evalrun/reports/format"
	"github.com/evalrun/evalrun/reports/model"
)

// The slow-node threshold. In a phase, a node is slow when its service
// p99 (from the send: the node's own answer time; a harness whose workers
// all wait on a slow node makes every node's latency from the intended
// start look slow) is at least SlowNodeFactor times the median of its
// peers' p99 and at least SlowNodeMinExcessUs above it, and it served at
// least SlowNodeMinOps operations. Peers are the other nodes that served
// at least SlowNodeMinOps operations in the phase; with none, nothing is
// said. The factor sits between what issue #20 calls healthy (a degraded
// node within 3x of its peers at a low rate: no finding) and slow (5x and
// more at a high rate); the count and the absolute excess keep a node
// with few operations, or microsecond latencies whose ratios are noise,
// from being called slow.
const (
	SlowNodeFactor      = 4.0
	SlowNodeMinOps      = 200
	SlowNodeMinExcessUs = 5000
)

// SlowNodeRule states the threshold in words, for the reports.
func SlowNodeRule() string {
	return fmt.Sprintf("a node is slow in a phase when its service p99 (from the send) is at least %gx the median service p99 of the other nodes that served operations in it, and %s above it, over at least %d operations",
		SlowNodeFactor, format.Micros(SlowNodeMinExcessUs), SlowNodeMinOps)
}

// SlowNodes finds, phase by phase, the nodes that were slow by the rule
// above (the per-node tables come from a driver that says which node
// served each operation). A healthy run has none.
func SlowNodes(r *model.Report) []model.Finding {
	var out []model.Finding
	for _, p := range r.Phases {
		out = append(out, slowNodesOf(p)...)
	}
	return out
}

func slowNodesOf(p model.Phase) []model.Finding {
	var served []model.NodeStats
	for _, n := range p.Nodes {
		if n.Node >= 1 && n.Count >= SlowNodeMinOps {
			served = append(served, n)
		}
	}
	if len(served) < 2 {
		return nil
	}
	var out []model.Finding
	peers := make([]int64, 0, len(served)-1)
	for i, n := range served {
		peers = peers[:0]
		for j, o := range served {
			if j != i {
				peers = append(peers, o.JudgedP99Us())
			}
		}
		med := median(peers)
		if p99 := float64(n.JudgedP99Us()); p99 < SlowNodeFactor*med || p99-med < SlowNodeMinExcessUs {
			continue
		}
		name := n.Name
		if name == "" {
			name = format.Node(n.Node)
		}
		failed := ""
		if n.Errors > 0 { // a node that fails what it is sent (down, restarting) is slow to fail
			failed = fmt.Sprintf(" (of which %s failed)", format.Errors(n.Errors, n.Count))
		}
		out = append(out, model.Finding{Kind: model.FindingSlowNode, Phase: p.Name, Node: n.Node, Name: n.Name,
			Detail: fmt.Sprintf("%s (node %d) is slow in phase %s: service p99 %s over %s operations%s, %.1fx the median p99 of its %d peers (%s); threshold %gx and %s above",
				name, n.Node, p.Name, format.Micros(n.JudgedP99Us()), format.Count(n.Count), failed, float64(n.JudgedP99Us())/max(med, 1),
				len(peers), format.MicrosF(med), SlowNodeFactor, format.Micros(SlowNodeMinExcessUs))})
	}
	return out
}

// median of v (v is reordered); the mean of the middle two for an even count.
func median(v []int64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return float64(v[n/2])
	}
	return float64(v[n/2-1]+v[n/2]) / 2
}
