package measure

import (
	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/evalrun/evalrun/reports/model"
)

// Per-node statistics (Config.PerNode): per phase and per node that served
// operations, a count, the errors and histograms of latency and service
// time. Memory is
// shards × phases × nodes seen histograms of two significant digits
// (about 26 KB each: a p99 to 1%, enough to tell a slow node from its
// peers); a node index above maxTrackedNode counts as unknown.
const maxTrackedNode = 255

func newNodeHist() *hdr.Histogram { return hdr.New(lowestNs, highestNs, serviceDigits) }

// nodePhase is what one node served in one phase, in one shard.
type nodePhase struct {
	lat, svc    *hdr.Histogram
	count, errs int64
}

func newNodePhase() *nodePhase { return &nodePhase{lat: newNodeHist(), svc: newNodeHist()} }

// recordNode adds a sent operation to its node's statistics; the caller
// holds sh.mu.
func (sh *shard) recordNode(ph, node int, lat, svc int64, failed bool) {
	if node < 0 || node > maxTrackedNode {
		node = 0
	}
	for len(sh.nodes) <= ph {
		sh.nodes = append(sh.nodes, nil)
	}
	for len(sh.nodes[ph]) <= node {
		sh.nodes[ph] = append(sh.nodes[ph], nil)
	}
	n := sh.nodes[ph][node]
	if n == nil {
		n = newNodePhase()
		sh.nodes[ph][node] = n
	}
	_ = n.lat.RecordValue(lat)
	_ = n.svc.RecordValue(svc)
	n.count++
	if failed {
		n.errs++
	}
}

// nodeStats merges the shards' per-node statistics of phase ph: one entry
// per node that served an operation, by index (unknown, 0, first). It is
// nil when no operation of the phase reached a known node (a client that
// cannot tell says nothing).
func (r *Recorder) nodeStats(ph int) []model.NodeStats {
	var merged []*nodePhase
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		if ph < len(sh.nodes) {
			for node, src := range sh.nodes[ph] {
				if src == nil {
					continue
				}
				for len(merged) <= node {
					merged = append(merged, nil)
				}
				if merged[node] == nil {
					merged[node] = newNodePhase()
				}
				merged[node].lat.Merge(src.lat)
				merged[node].svc.Merge(src.svc)
				merged[node].count += src.count
				merged[node].errs += src.errs
			}
		}
		sh.mu.Unlock()
	}
	if len(merged) < 2 { // nothing, or node 0 (unknown) alone
		return nil
	}
	out := make([]model.NodeStats, 0, len(merged))
	for node, n := range merged {
		if n == nil || n.count == 0 {
			continue
		}
		out = append(out, model.NodeStats{Node: node, Count: n.count, Errors: n.errs,
			P50Us: n.lat.ValueAtQuantile(50) / 1000, P99Us: n.lat.ValueAtQuantile(99) / 1000, MaxUs: n.lat.Max() / 1000,
			ServiceP99Us: n.svc.ValueAtQuantile(99) / 1000})
	}
	return out
}
