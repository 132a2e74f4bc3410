package measure

import (
	"math"
	"slices"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/evalrun/evalrun/reports/model"
)

// Per-node statistics (Config.PerNode): per phase and per node that served
// operations, a count by op type, the errors and histograms of latency and
// service time. Memory is
// shards × phases × nodes seen histograms of two significant digits
// (about 26 KB each: a p99 to 1%, enough to tell a slow node from its
// peers); a node index above maxTrackedNode counts as unknown.
// With groups (Config.NodeGroups), one more histogram per shard, phase and
// group that wrote: the latency of its writes (WriteOps), for the group's
// write p99; a group's other numbers merge its nodes'.
const maxTrackedNode = 255

func newNodeHist() *hdr.Histogram { return hdr.New(lowestNs, highestNs, serviceDigits) }

// nodePhase is what one node served in one phase, in one shard.
type nodePhase struct {
	lat, svc    *hdr.Histogram
	count, errs int64
	ops         []int64 // count by op type (index of Config.Ops)
}

func newNodePhase(numOps int) *nodePhase {
	return &nodePhase{lat: newNodeHist(), svc: newNodeHist(), ops: make([]int64, numOps)}
}

func (n *nodePhase) merge(src *nodePhase) {
	n.lat.Merge(src.lat)
	n.svc.Merge(src.svc)
	n.count += src.count
	n.errs += src.errs
	for op, c := range src.ops {
		n.ops[op] += c
	}
}

// nodeGroups is Config.NodeGroups indexed for recording: the group of
// each node (0: none; else 1 + the index in names) and the group names
// in the order of their lowest node.
type nodeGroups struct {
	of    []int
	names []string
}

func newNodeGroups(byNode map[int]string) nodeGroups {
	nodes := make([]int, 0, len(byNode))
	for node, g := range byNode {
		if node > 0 && node <= maxTrackedNode && g != "" {
			nodes = append(nodes, node)
		}
	}
	slices.Sort(nodes)
	var ng nodeGroups
	index := map[string]int{}
	for _, node := range nodes {
		g := byNode[node]
		if _, ok := index[g]; !ok {
			ng.names = append(ng.names, g)
			index[g] = len(ng.names)
		}
		for len(ng.of) <= node {
			ng.of = append(ng.of, 0)
		}
		ng.of[node] = index[g]
	}
	return ng
}

// group is the group number (1-based) of node, 0 when it has none.
func (ng *nodeGroups) group(node int) int {
	if node < len(ng.of) {
		return ng.of[node]
	}
	return 0
}

// grow extends s to hold index i.
func grow[T any](s []T, i int) []T {
	for len(s) <= i {
		var zero T
		s = append(s, zero)
	}
	return s
}

// recordNode adds a sent operation to its node's statistics (and a write
// to its group's); the caller holds sh.mu.
func (r *Recorder) recordNode(sh *shard, ph, op, node int, lat, svc int64, failed bool) {
	if node < 0 || node > maxTrackedNode {
		node = 0
	}
	sh.nodes = grow(sh.nodes, ph)
	sh.nodes[ph] = grow(sh.nodes[ph], node)
	n := sh.nodes[ph][node]
	if n == nil {
		n = newNodePhase(len(r.cfg.Ops))
		sh.nodes[ph][node] = n
	}
	_ = n.lat.RecordValue(lat)
	_ = n.svc.RecordValue(svc)
	n.count++
	n.ops[op]++
	if failed {
		n.errs++
	}
	if g := r.groups.group(node); g > 0 && slices.Contains(r.cfg.WriteOps, op) {
		sh.groupWrites = grow(sh.groupWrites, ph)
		sh.groupWrites[ph] = grow(sh.groupWrites[ph], g)
		h := sh.groupWrites[ph][g]
		if h == nil {
			h = newNodeHist()
			sh.groupWrites[ph][g] = h
		}
		_ = h.RecordValue(lat)
	}
}

// nodeStats merges the shards' per-node statistics of phase ph: one entry
// per node that served an operation, by index (unknown, 0, first), and
// one per group (Config.NodeGroups) whose nodes served one; secs is the
// phase's length (for a group's throughput). Both are nil when no
// operation of the phase reached a known node (a client that cannot tell
// says nothing).
func (r *Recorder) nodeStats(ph int, secs float64) ([]model.NodeStats, []model.GroupStats) {
	var merged []*nodePhase
	writes := make([]*hdr.Histogram, len(r.groups.names)+1)
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		if ph < len(sh.nodes) {
			for node, src := range sh.nodes[ph] {
				if src == nil {
					continue
				}
				merged = grow(merged, node)
				if merged[node] == nil {
					merged[node] = newNodePhase(len(r.cfg.Ops))
				}
				merged[node].merge(src)
			}
		}
		if ph < len(sh.groupWrites) {
			for g, src := range sh.groupWrites[ph] {
				if src == nil {
					continue
				}
				if writes[g] == nil {
					writes[g] = newNodeHist()
				}
				writes[g].Merge(src)
			}
		}
		sh.mu.Unlock()
	}
	if len(merged) < 2 { // nothing, or node 0 (unknown) alone
		return nil, nil
	}
	out := make([]model.NodeStats, 0, len(merged))
	for node, n := range merged {
		if n == nil || n.count == 0 {
			continue
		}
		out = append(out, model.NodeStats{Node: node, Count: n.count, Errors: n.errs,
			P50Us: n.lat.ValueAtQuantile(50) / 1000, P99Us: n.lat.ValueAtQuantile(99) / 1000, MaxUs: n.lat.Max() / 1000,
			ServiceP99Us: n.svc.ValueAtQuantile(99) / 1000, Ops: r.opCounts(n.ops)})
	}
	return out, r.groupStats(merged, writes, secs)
}

// groupStats merges the nodes of each group; writes are the groups'
// write histograms by group number.
func (r *Recorder) groupStats(merged []*nodePhase, writes []*hdr.Histogram, secs float64) []model.GroupStats {
	if len(r.groups.names) == 0 {
		return nil
	}
	var out []model.GroupStats
	for gi, name := range r.groups.names {
		g := gi + 1
		agg := newNodePhase(len(r.cfg.Ops))
		gs := model.GroupStats{Group: name}
		for node, n := range merged {
			if n == nil || n.count == 0 || r.groups.group(node) != g {
				continue
			}
			agg.merge(n)
			gs.Nodes = append(gs.Nodes, node)
		}
		if agg.count == 0 {
			continue
		}
		gs.Count, gs.Errors, gs.Ops = agg.count, agg.errs, r.opCounts(agg.ops)
		gs.P50Us, gs.P99Us, gs.MaxUs = agg.lat.ValueAtQuantile(50)/1000, agg.lat.ValueAtQuantile(99)/1000, agg.lat.Max()/1000
		if secs > 0 {
			gs.Throughput = math.Round(float64(agg.count-agg.errs)/secs*10) / 10
		}
		if w := writes[g]; w != nil {
			gs.WriteP99Us = w.ValueAtQuantile(99) / 1000
		}
		out = append(out, gs)
	}
	return out
}

// opCounts names the nonzero counts by op type; nil when all are zero.
func (r *Recorder) opCounts(counts []int64) map[string]int64 {
	var out map[string]int64
	for op, c := range counts {
		if c == 0 {
			continue
		}
		if out == nil {
			out = map[string]int64{}
		}
		out[r.cfg.Ops[op]] = c
	}
	return out
}
