package scenarios

// Per-node resources (cluster.resources) and the degrade step's argument:
//
//	cluster:
//	  resources: {cpus: 0.5, memory: 512m, per-node: {2: {cpus: 1}}}
//	steps:
//	  - degrade: {node: 2, cpu: 0.05, bandwidth: 2mbit, loss: 3%, delay: 50ms}
//	  - repair: degraded
//
// cpus and cpu are cores (> 0); memory is bytes with a unit b, k, m or g
// (1024-based, as Docker's --memory); bandwidth is bits per second with a
// unit bit, kbit, mbit or gbit (1000-based, as tc's), or a bare integer
// of bits per second; loss is a percentage (3% or 3), 0 < loss < 100;
// delay a duration. A per-node entry overrides the fields it gives for
// that node (1-based, one of the nodes the cluster starts with); nodes
// added later get the cluster's.

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/errext"
)

// Bounds of resources and degradations.
const (
	minCPUs        = 0.01 // the kernel's smallest CFS quota: 1 ms per 100 ms period
	maxCPUs        = 1024
	minMemory      = 6 << 20 // Docker refuses less than 6 MiB
	minBandwidth   = 8000    // bits/s (8kbit): less than a packet per second and a half
	maxBandwidth   = 1e11    // 100gbit
	maxDegradeWait = 10 * time.Second
)

var (
	resourceKeys = []string{"cpus", "memory", "per-node"}
	perNodeKeys  = []string{"cpus", "memory"}
	degradeKeys  = []string{"node", "cpu", "bandwidth", "loss", "delay"}
	memoryUnits  = map[string]int64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gb": 1 << 30}
	bitUnits     = map[string]float64{"bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9}
)

// resources reads cluster.resources into c.
func (ps *parser) resources(n *yaml.Node, c *Cluster) *Error {
	if isNull(n) {
		return nil
	}
	fs, e := ps.fields(n, "in cluster.resources", resourceKeys)
	if e != nil {
		return e
	}
	c.ResourcesLine = n.Line
	var perNode *field
	for i, f := range fs {
		if f.name == "per-node" {
			perNode = &fs[i]
			continue
		}
		if e := ps.resource(f, "cluster.resources.", &c.Resources); e != nil {
			return e
		}
	}
	if perNode == nil || isNull(perNode.val) {
		return nil
	}
	return ps.perNode(perNode.val, c)
}

// resource reads one field of a resources mapping (cpus or memory) into r.
func (ps *parser) resource(f field, prefix string, r *drivers.Resources) *Error {
	var e *Error
	switch f.name {
	case "cpus":
		r.CPUs, e = ps.cores(f.val, prefix+f.name)
	case "memory":
		r.MemoryBytes, e = ps.memory(f.val, prefix+f.name)
	}
	return e
}

// perNode reads per-node: {INDEX: {cpus, memory}}; each entry starts from
// the cluster's resources.
func (ps *parser) perNode(n *yaml.Node, c *Cluster) *Error {
	fs, e := ps.fields(n, "in cluster.resources.per-node", nil)
	if e != nil {
		return e
	}
	c.PerNode, c.PerNodeLines = map[int]drivers.Resources{}, map[int]int{}
	for _, f := range fs {
		i, err := strconv.Atoi(f.name)
		if err != nil || i < 1 || i > MaxNodes {
			return ps.errf(f.key, "cluster.resources.per-node: keys are node indexes 1..%d, got %q", MaxNodes, f.name)
		}
		what := "cluster.resources.per-node." + f.name
		nfs, e := ps.fields(f.val, "in "+what, perNodeKeys)
		if e != nil {
			return e
		}
		if len(nfs) == 0 {
			return ps.errf(f.val, "%s: give cpus or memory", what)
		}
		r := c.Resources
		for _, nf := range nfs {
			if e := ps.resource(nf, what+".", &r); e != nil {
				return e
			}
		}
		c.PerNode[i], c.PerNodeLines[i] = r, f.key.Line
	}
	return nil
}

// cores reads a number of cores: > 0 and at most maxCPUs.
func (ps *parser) cores(n *yaml.Node, what string) (float64, *Error) {
	v, e := ps.number(n, what)
	switch {
	case e != nil:
		return 0, e
	case !(v > 0):
		return 0, ps.errf(n, "%s: cores must be > 0 (0.5 is half a core), got %v", what, v)
	case v < minCPUs:
		return 0, ps.errf(n, "%s: at least %v cores (the kernel's smallest CPU quota), got %v", what, minCPUs, v)
	case v > maxCPUs:
		return 0, ps.errf(n, "%s: at most %d cores, got %v", what, maxCPUs, v)
	}
	return v, nil
}

// memory reads a size: an integer of bytes or a number with a unit b, k,
// m, g (1024-based), at least minMemory.
func (ps *parser) memory(n *yaml.Node, what string) (int64, *Error) {
	num, unit, ok := splitUnit(n)
	mult, known := memoryUnits[strings.ToLower(unit)]
	if !ok || !known || num < 0 {
		return 0, ps.errf(n, "%s: want a size such as 512m or 2g (units b, k, m, g), got %s", what, describe(n))
	}
	v := num * float64(mult)
	switch {
	case v < minMemory:
		return 0, ps.errf(n, "%s: at least 6m (Docker's minimum), got %s", what, describe(n))
	case v > math.MaxInt64/2:
		return 0, ps.errf(n, "%s: too large, got %s", what, describe(n))
	}
	return int64(v), nil
}

// splitUnit splits a scalar such as "512m" or "2.5mbit" into its number and
// unit; ok is false when it is no such scalar.
func splitUnit(n *yaml.Node) (num float64, unit string, ok bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return 0, "", false
	}
	s := strings.TrimSpace(n.Value)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(s)
	}
	v, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, "", false
	}
	return v, strings.TrimSpace(s[i:]), true
}

// degradeArg reads {node: NODE, cpu, bandwidth, loss, delay}: the node
// and at least one of the others.
func (ps *parser) degradeArg(v *yaml.Node, tl *timeline) (*NodeRef, *drivers.Degradation, *Error) {
	const want = "want {node: NODE, cpu: 0.05, bandwidth: 2mbit, loss: 3%, delay: 50ms} (node and at least one of the others)"
	if v.Kind != yaml.MappingNode {
		return nil, nil, ps.errf(v, "degrade: %s, got %s", want, describe(v))
	}
	fs, e := ps.fields(v, "in degrade", degradeKeys)
	if e != nil {
		return nil, nil, e
	}
	var ref *NodeRef
	d := &drivers.Degradation{}
	for _, f := range fs {
		what := "degrade." + f.name
		switch f.name {
		case "node":
			ref, e = ps.nodeRef(f.val, what, tl)
		case "cpu":
			d.CPUs, e = ps.cores(f.val, what)
		case "bandwidth":
			d.BandwidthBitsPerSec, e = ps.bandwidth(f.val, what)
		case "loss":
			d.LossPercent, e = ps.percent(f.val, what)
		case "delay":
			if d.Delay, e = ps.duration(f.val, what); e == nil && d.Delay > maxDegradeWait {
				e = ps.errf(f.val, "%s: at most %v, got %s", what, maxDegradeWait, describe(f.val))
			}
		}
		if e != nil {
			return nil, nil, e
		}
	}
	switch {
	case ref == nil:
		return nil, nil, ps.errf(v, "degrade: missing required key \"node\" (%s)", want)
	case *d == drivers.Degradation{}:
		return nil, nil, ps.errf(v, "degrade: says nothing to degrade; give at least one of cpu, bandwidth, loss, delay")
	}
	tl.degradable = true
	return ref, d, nil
}

// bandwidth reads bits per second: an integer, or a number with a unit
// bit, kbit, mbit or gbit (1000-based, as tc's).
func (ps *parser) bandwidth(n *yaml.Node, what string) (int64, *Error) {
	num, unit, ok := splitUnit(n)
	mult, known := bitUnits[strings.ToLower(unit)]
	if unit == "" && n.ShortTag() == "!!int" {
		mult, known = 1, true
	}
	if !ok || !known {
		return 0, ps.errf(n, "%s: want a rate such as 2mbit or 500kbit (units bit, kbit, mbit, gbit), got %s", what, describe(n))
	}
	v := num * mult
	if v < minBandwidth || v > maxBandwidth {
		return 0, ps.errf(n, "%s: must be in 8kbit..100gbit, got %s", what, describe(n))
	}
	return int64(v), nil
}

// percent reads a share of packets: "3%" or 3, 0 < p < 100.
func (ps *parser) percent(n *yaml.Node, what string) (float64, *Error) {
	num, unit, ok := splitUnit(n)
	if !ok || (unit != "" && unit != "%") {
		return 0, ps.errf(n, "%s: want a percentage such as 3%% or 0.5, got %s", what, describe(n))
	}
	if !(num > 0) || num >= 100 {
		return 0, ps.errf(n, "%s: must be above 0%% and below 100%%, got %s", what, describe(n))
	}
	return num, nil
}

// checkResources refuses cluster.resources for a cluster that cannot
// apply them, and per-node entries for nodes the cluster does not start.
func checkResources(p *Plan, t Target, who string) error {
	c := p.Cluster
	if !c.Resources.IsZero() || len(c.PerNode) > 0 {
		if !t.Topology.Resources {
			return &Error{File: errFile(p.Source), Line: c.ResourcesLine,
				Msg: "cluster.resources: " + who + " runs its nodes in this process and cannot limit their CPU or memory; remove cluster.resources or use a driver on the docker provider"}
		}
	}
	for i, line := range c.PerNodeLines {
		if i > t.Topology.Nodes {
			return &Error{File: errFile(p.Source), Line: line,
				Msg: "cluster.resources.per-node: node " + strconv.Itoa(i) + " out of range (" + who + " starts " + strconv.Itoa(t.Topology.Nodes) + " nodes; added nodes get cluster.resources)"}
		}
	}
	return nil
}

// DegradationText says what a degradation applies, for the report's
// events ("cpu 0.05, bandwidth 2mbit, loss 3%, delay 50ms").
func DegradationText(d drivers.Degradation) string {
	var parts []string
	if d.CPUs > 0 {
		parts = append(parts, "cpu "+strconv.FormatFloat(d.CPUs, 'g', -1, 64))
	}
	if b := d.BandwidthBitsPerSec; b > 0 {
		parts = append(parts, "bandwidth "+bitsText(b))
	}
	if d.LossPercent > 0 {
		parts = append(parts, "loss "+strconv.FormatFloat(d.LossPercent, 'g', -1, 64)+"%")
	}
	if d.Delay > 0 {
		parts = append(parts, "delay "+d.Delay.String())
	}
	return strings.Join(parts, ", ")
}

func bitsText(b int64) string {
	for _, u := range []struct {
		name string
		mult int64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}} {
		if b >= u.mult {
			return strconv.FormatFloat(float64(b)/float64(u.mult), 'g', -1, 64) + u.name
		}
	}
	return strconv.FormatInt(b, 10) + "bit"
}

// StepError is err about step s of p, as a one-line error naming the
// scenario's file and the step's line; it keeps err's exit code and
// hint (a machine that cannot apply the step is bad input).
func StepError(p *Plan, s Step, err error) error {
	at := &Error{File: errFile(p.Source), Line: s.Line, Msg: s.Action}
	if !errext.IsBadInput(err) {
		return fmt.Errorf("%s: %w", at.Error(), err)
	}
	at.Msg = oneLine(s.Action + ": " + err.Error())
	return errext.WithHint(at, errext.HintOf(err))
}
