// Scenario format
//
// A scenario is one YAML document (a mapping). Unknown keys anywhere are
// errors; every error names the file and line.
//
//	name: node-loss                       # required, [a-z0-9-]+ (at most 64 characters)
//	description: Kill one node under load, keep it down, restart it, watch recovery.
//	cluster:
//	  nodes: 3                            # required, 1..15
//	  options: {election-timeout-ms: "1000"}   # optional map of string -> scalar, passed to the driver as strings
//	  resources: {cpus: 0.5, memory: 512m, per-node: {2: {cpus: 1}}}   # optional: every node's CPU quota (cores >= 0.01)
//	                                      # and memory limit (b, k, m, g; >= 6m); per-node overrides fields for nodes the
//	                                      # cluster starts with (added nodes get the cluster's); docker providers only
//	workload:                             # required
//	  mix: {read: 50, write: 45, delete: 5}    # required; op -> weight; ops: read, write, delete; weights 0..1000000, sum > 0
//	  keys: 10000                         # required, 1..1000000000
//	  distribution: zipfian               # uniform | zipfian (default uniform)
//	  value_size: 256                     # bytes, 16..1048576 (default 256)
//	  rate: 500                           # required, target ops/s (> 0, <= 1e6)
//	  concurrency: 64                     # workers at the start (default 64, 1..10000)
//	  max-concurrency: 1024               # the pool grows to at most this many when all are busy (default 1024, >= concurrency)
//	  timeout: 2s                         # per op (default 2s)
//	  seed: 42                            # default 1
//	  preload: true                       # write every key once before the timeline (default true)
//	  max_lag: 10s                        # an op not started this long after its intended start is missed (default: the timeout)
//	  history: {keys: 64, max-ops: 500000, budget: 10s}   # optional: record every operation on keys keys (spread evenly
//	                                      # over the key space; default 64, at most workload.keys, 0 records none) and check
//	                                      # the history for linearizability; max-ops bounds the operations held (default
//	                                      # 500000, 1..100000000: beyond it the history is cut at a time), budget each
//	                                      # key's check (default 10s; a key over it is unknown). Needs a ledger (preload
//	                                      # or writes); written as history.jsonl next to the report (evalrun check DIR)
//	steps:                                # required, non-empty (at most 10000)
//	  - phase: warmup                     # a step can be only a phase marker...
//	  - sleep: 5s                         # ...or one action
//	  - phase: baseline                   # ...or a phase marker plus one action on the same step
//	    sleep: 20s
//	  - phase: fault
//	    kill: leader                      # node steps take a 1-based index or a role: leader, follower, down, last, degraded
//	  - sleep: 20s
//	  - start: down                       # "down" = the most recently killed/stopped/paused node not back yet
//	  - wait-settled: 60s                 # value = timeout (null = default 10m)
//	  - at: 70s                           # optional on any step: do not start before 70 s from the timeline start
//	    verify: {}                        # actions without argument accept null, {}, or true
//
// Actions (one per step; a step without one must be a pure phase marker):
//
//	sleep: D                  keep the load running for D (required, > 0)
//	kill: NODE                stop a node abruptly
//	stop: NODE                stop a node gracefully
//	start: NODE               start a killed/stopped node on its data
//	pause: NODE               freeze a node
//	resume: NODE              thaw a paused node
//	add-node: {timeout: D}    add a node (null, {} or true for the default timeout)
//	remove-node: NODE         take a node out of the cluster (or {node: NODE, timeout: D}; default 2m)
//	wait-settled: D           wait until the cluster is at rest, at most D (null: 10m)
//	backup: {method: M, timeout: D}   take a backup under load; both keys optional (null for the
//	                          driver's default method and timeout); method is one the driver offers
//	                          (mariadb: mariabackup, dump, cold, snapshot)
//	restore: {timeout: D}     restore the last backup into a fresh cluster (null for the default)
//	verify:                   check every acknowledged write (null, {} or true)
//	partition: [[1],[2,3]]    cut groups of nodes (1-based indexes, at least two groups) off from each other
//	isolate: NODE             cut one node off from all the others (a partition; isolate: leader)
//	heal:                     undo partitions (null, {} or true)
//	rate: R                   the target rate becomes R ops/s at once (open loop, as before)
//	ramp: {to: R, over: D}    the target rate moves linearly to R over D; the step lasts D
//	promote: NODE             fail over: replica NODE becomes the primary after the primary died
//	switchover: NODE          planned: the primary hands its role to replica NODE
//	degrade: {node: NODE, cpu: 0.05, bandwidth: 2mbit, loss: 3%, delay: 50ms}
//	                          make a node slow and keep it up (a gray failure); node and at least one of:
//	                          cpu (cores, >= 0.01: its CPU quota), bandwidth (what it sends; bit, kbit, mbit,
//	                          gbit or bare bits/s, 8kbit..100gbit), loss (of the packets it receives, 3% or 3,
//	                          0 < loss < 100), delay (on what it sends, at most 10s; needs netem, checked at run
//	                          start). A second degrade of a node replaces the first
//	repair: NODE              give a degraded node its own resources back ("degraded": the most recently
//	                          degraded node not repaired)
//
// NODE is a 1-based index, one of the roles down (the most recently
// killed, stopped or paused node not back yet; needs an earlier kill, stop
// or pause), degraded (the most recently degraded node not repaired;
// needs an earlier degrade)
// and last (the most recently added node), or a role the driver declares
// (leader, follower, master, replica, claimant: `evalrun drivers` lists
// them). Validate checks indexes and driver roles against what the driver
// will start: an index is valid when it is at most the nodes the cluster
// starts with (Redis starts masters and their replicas) plus the nodes
// added so far. promote and switchover take a replica: "replica" lets the
// cluster choose the most advanced one; the primary at that point (the
// driver's initial primary, or the node an earlier step promoted) and the
// role primary are refused.
// A step may also carry `timeout: D` instead of the {timeout: D} argument
// for wait-settled, backup, restore, add-node and remove-node, and `at: D` to not start
// before offset D of the timeline. Durations are Go durations ("500ms",
// "5s", "2m"), > 0 and at most 168h.
//
// The planned length of a scenario (Plan.Duration) is the sum of its sleeps,
// where a step whose `at` lies beyond the running offset moves the offset to
// `at`; waits, backups and the like count 0.

package scenarios

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/errext"
	"github.com/evalrun/evalrun/internal/history"
	"github.com/evalrun/evalrun/internal/linearize"
)

// Error is a parse or validation error: one line, naming the file and the
// line of the offending key or value.
type Error struct {
	File string // the scenario file ("scenarios/NAME.yaml" for a built-in)
	Line int    // 1-based; 0 when no line applies
	Msg  string
}

// ExitCode implements errext.HasExitCode: the scenario is the user's to
// fix.
func (e *Error) ExitCode() errext.ExitCode { return errext.ExitBadInput }

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.File != "":
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	case e.File != "":
		return e.File + ": " + e.Msg
	}
	return e.Msg
}

// Limits and defaults of the format.
const (
	MaxNodes = 15 // most nodes a cluster may have, initially or after add-node

	maxTextSize    = 1 << 20
	maxSteps       = 10000
	maxDuration    = 168 * time.Hour
	maxNameLen     = 64
	maxPhaseLen    = 64
	maxKeys        = 1_000_000_000
	maxWeight      = 1_000_000
	maxRate        = 1e6
	minValueSize   = 16
	maxValueSize   = 1 << 20
	maxConcurrency = 10000

	defaultValueSize   = 256
	defaultConcurrency = 64
	// defaultMaxConcurrency keeps up with 500 ops/s against a database
	// that takes 300 ms per operation, with room to spare.
	defaultMaxConcurrency = 1024
	defaultSeed           = 1
)

var nameRE = regexp.MustCompile(`^[a-z0-9-]+$`)

// Keys of each mapping, in the order they are suggested.
var (
	topKeys      = []string{"name", "description", "cluster", "workload", "steps"}
	clusterKeys  = []string{"nodes", "options", "resources"}
	workloadKeys = []string{"mix", "keys", "distribution", "value_size", "rate", "concurrency", "max-concurrency", "timeout", "seed", "preload", "max_lag", "history"}
	historyKeys  = []string{"keys", "max-ops", "budget"}
	mixKeys      = []string{OpRead, OpWrite, OpDelete, OpReadFresh}
	actionKeys   = ActionNames()
	stepKeys     = append([]string{"phase", "at", "timeout"}, actionKeys...)
	timeoutKeys  = []string{"timeout"}
	backupKeys   = []string{"method", "timeout"}
	nodeKeys     = []string{"node", "timeout"}
	rampKeys     = []string{"to", "over"}
	// runnerRoles are resolved by the runner for every driver; a driver
	// declares its own roles (leader, replica) in drivers.Topology.
	runnerRoles = []string{"down", "last", "degraded"}
	roleRE      = regexp.MustCompile(`^[a-z][a-z0-9.-]{0,31}$`) // a group's role: shard2.primary
)

// errFile is the file name errors use for a plan source.
func errFile(source string) string {
	if name, ok := strings.CutPrefix(source, "builtin:"); ok {
		return "scenarios/" + name + ".yaml"
	}
	return source
}

// Parse parses and validates scenario text. source is the file path (or
// "builtin:NAME"); it names the file in errors and becomes Plan.Source.
// Every error is an *Error.
func Parse(source string, text []byte) (*Plan, error) {
	ps := &parser{file: errFile(source)}
	if len(text) > maxTextSize {
		return nil, &Error{File: ps.file, Msg: fmt.Sprintf("scenario is too large (%d bytes, at most %d)", len(text), maxTextSize)}
	}
	if e := ps.checkText(text); e != nil {
		return nil, e
	}
	root, e := ps.decode(text)
	if e != nil {
		return nil, e
	}
	p, e := ps.plan(root)
	if e != nil {
		return nil, e
	}
	sum := sha256.Sum256(text)
	p.SHA256 = hex.EncodeToString(sum[:])
	p.Source = source
	return p, nil
}

// plan builds the Plan from the top-level mapping.
func (ps *parser) plan(root *yaml.Node) (*Plan, *Error) {
	fs, e := ps.fields(root, "at top level", topKeys)
	if e != nil {
		return nil, e
	}
	p := &Plan{}
	var got = map[string]bool{}
	var stepsF field
	for _, f := range fs {
		got[f.name] = true
		switch f.name {
		case "name":
			s, e := ps.str(f.val, "name")
			if e != nil {
				return nil, e
			}
			if !nameRE.MatchString(s) || len(s) > maxNameLen {
				return nil, ps.errf(f.val, "name: must be 1..%d characters of a-z, 0-9 and -, got %s", maxNameLen, describe(f.val))
			}
			p.Name = s
		case "description":
			s, e := ps.str(f.val, "description")
			if e != nil {
				return nil, e
			}
			p.Description = strings.TrimSpace(s)
		case "cluster":
			if e := ps.cluster(f.val, &p.Cluster); e != nil {
				return nil, e
			}
		case "workload":
			if e := ps.workload(f.val, &p.Workload); e != nil {
				return nil, e
			}
		case "steps":
			stepsF = f
		}
	}
	for _, k := range []string{"name", "cluster", "workload", "steps"} {
		if !got[k] {
			return nil, ps.errf(root, "missing required key %q", k)
		}
	}
	// Steps last: node indexes are checked against the cluster size.
	steps, dur, e := ps.steps(stepsF.val, p.Cluster.Nodes)
	if e != nil {
		return nil, e
	}
	p.Steps, p.Duration = steps, dur
	return p, nil
}

func (ps *parser) cluster(n *yaml.Node, c *Cluster) *Error {
	fs, e := ps.fields(n, "in cluster", clusterKeys)
	if e != nil {
		return e
	}
	c.Options, c.OptionLines, c.Line = map[string]string{}, map[string]int{}, n.Line
	hasNodes := false
	for _, f := range fs {
		switch f.name {
		case "nodes":
			v, e := ps.integer(f.val, "cluster.nodes", 1, MaxNodes)
			if e != nil {
				return e
			}
			c.Nodes, hasNodes = int(v), true
		case "resources":
			if e := ps.resources(f.val, c); e != nil {
				return e
			}
		case "options":
			if isNull(f.val) {
				continue
			}
			ofs, e := ps.fields(f.val, "in cluster.options", nil)
			if e != nil {
				return e
			}
			for _, o := range ofs {
				if o.val.Kind != yaml.ScalarNode || isNull(o.val) {
					return ps.errf(o.val, "cluster.options.%s: must be a string, number or boolean, got %s", o.name, describe(o.val))
				}
				c.Options[o.name] = o.val.Value
				c.OptionLines[o.name] = o.key.Line
			}
		}
	}
	if !hasNodes {
		return ps.errf(n, "cluster: missing required key \"nodes\"")
	}
	return nil
}

func (ps *parser) workload(n *yaml.Node, w *Workload) *Error {
	fs, e := ps.fields(n, "in workload", workloadKeys)
	if e != nil {
		return e
	}
	*w = Workload{
		Distribution:   Uniform,
		ValueSize:      defaultValueSize,
		Concurrency:    defaultConcurrency,
		Timeout:        drivers.DefaultOpTimeout,
		MaxConcurrency: defaultMaxConcurrency,
		Seed:           defaultSeed,
		Preload:        true,
		History:        defaultHistory(),
	}
	got := map[string]bool{}
	var maxConcNode *yaml.Node // where max-concurrency was given, for its error
	for _, f := range fs {
		got[f.name] = true
		what := "workload." + f.name
		var e *Error
		switch f.name {
		case "mix":
			w.Mix, e = ps.mix(f.val)
		case "keys":
			var v int64
			v, e = ps.integer(f.val, what, 1, maxKeys)
			w.Keys = int(v)
		case "distribution":
			var s string
			if s, e = ps.str(f.val, what); e == nil {
				if s != Uniform && s != Zipfian {
					e = ps.errf(f.val, "%s: must be %s or %s, got %s", what, Uniform, Zipfian, describe(f.val))
				}
				w.Distribution = s
			}
		case "value_size":
			var v int64
			v, e = ps.integer(f.val, what, minValueSize, maxValueSize)
			w.ValueSize = int(v)
		case "rate":
			var v float64
			if v, e = ps.number(f.val, what); e == nil {
				switch {
				case !(v > 0):
					e = ps.errf(f.val, "%s: must be > 0, got %v", what, v)
				case v > maxRate:
					e = ps.errf(f.val, "%s: must be <= %v, got %v", what, maxRate, v)
				}
			}
			w.Rate = v
		case "concurrency":
			var v int64
			v, e = ps.integer(f.val, what, 1, maxConcurrency)
			w.Concurrency = int(v)
		case "max-concurrency":
			var v int64
			v, e = ps.integer(f.val, what, 1, maxConcurrency)
			w.MaxConcurrency, maxConcNode = int(v), f.val
		case "timeout":
			w.Timeout, e = ps.duration(f.val, what)
		case "seed":
			w.Seed, e = ps.integer(f.val, what, math.MinInt64, math.MaxInt64)
		case "preload":
			w.Preload, e = ps.boolean(f.val, what)
		case "max_lag":
			w.MaxLag, e = ps.duration(f.val, what)
		case "history":
			w.History, e = ps.history(f.val)
		}
		if e != nil {
			return e
		}
	}
	for _, k := range []string{"mix", "keys", "rate"} {
		if !got[k] {
			return ps.errf(n, "workload: missing required key %q", k)
		}
	}
	if !got["max-concurrency"] {
		w.MaxConcurrency = max(w.MaxConcurrency, w.Concurrency)
	} else if w.MaxConcurrency < w.Concurrency {
		return ps.errf(maxConcNode, "workload.max-concurrency: must be >= workload.concurrency (%d), got %d", w.Concurrency, w.MaxConcurrency)
	}
	if !got["max_lag"] {
		// an op that cannot even start within its timeout is one the client
		// would have timed out: missed, not sent late
		w.MaxLag = w.Timeout
	}
	// a sample larger than the key space is all of it
	w.History.Keys = min(w.History.Keys, w.Keys)
	return nil
}

// maxHistoryOps bounds workload.history.max-ops (an Op takes about 100
// bytes held: 10 GB).
const maxHistoryOps = 100_000_000

func defaultHistory() History {
	return History{Keys: history.DefaultKeys, MaxOps: history.DefaultMaxOps, Budget: linearize.DefaultBudget}
}

// history reads workload.history; null is the defaults.
func (ps *parser) history(n *yaml.Node) (History, *Error) {
	h := defaultHistory()
	if isNull(n) {
		return h, nil
	}
	fs, e := ps.fields(n, "in workload.history", historyKeys)
	if e != nil {
		return h, e
	}
	for _, f := range fs {
		what := "workload.history." + f.name
		var v int64
		switch f.name {
		case "keys":
			v, e = ps.integer(f.val, what, 0, maxKeys)
			h.Keys = int(v)
		case "max-ops":
			v, e = ps.integer(f.val, what, 1, maxHistoryOps)
			h.MaxOps = int(v)
		case "budget":
			h.Budget, e = ps.duration(f.val, what)
		}
		if e != nil {
			return h, e
		}
	}
	return h, nil
}

func (ps *parser) mix(n *yaml.Node) (map[string]int, *Error) {
	fs, e := ps.fields(n, "in workload.mix", mixKeys)
	if e != nil {
		return nil, e
	}
	mix := map[string]int{}
	sum := 0
	for _, f := range fs {
		v, e := ps.integer(f.val, "workload.mix."+f.name, 0, maxWeight)
		if e != nil {
			return nil, e
		}
		if v > 0 {
			mix[f.name] = int(v)
			sum += int(v)
		}
	}
	if sum == 0 {
		return nil, ps.errf(n, "workload.mix: weights sum to 0; give at least one of read, write, delete, read-fresh a weight > 0")
	}
	return mix, nil
}

// timeline tracks what the steps did so far, for node checks.
type timeline struct {
	members  int  // nodes in the cluster now (as cluster.nodes counts them)
	downable bool // an earlier step killed or stopped a node
	// degradable: an earlier step degraded a node ("degraded" names one)
	degradable bool
}

func (ps *parser) steps(n *yaml.Node, nodes int) ([]Step, time.Duration, *Error) {
	if isNull(n) {
		return nil, 0, ps.errf(n, "steps: must be a non-empty list of steps")
	}
	if n.Kind != yaml.SequenceNode {
		return nil, 0, ps.errf(n, "steps: must be a list of steps, got %s", describe(n))
	}
	if len(n.Content) == 0 {
		return nil, 0, ps.errf(n, "steps: must not be empty")
	}
	if len(n.Content) > maxSteps {
		return nil, 0, ps.errf(n, "steps: at most %d steps, got %d", maxSteps, len(n.Content))
	}
	tl := &timeline{members: nodes}
	steps := make([]Step, 0, len(n.Content))
	for _, item := range n.Content {
		it := deref(item)
		if it == nil {
			return nil, 0, ps.errf(item, "step: alias nested too deeply")
		}
		s, e := ps.step(it, tl)
		if e != nil {
			return nil, 0, e
		}
		steps = append(steps, s)
	}
	return steps, plannedDuration(steps), nil
}

// step parses one step and advances the timeline.
func (ps *parser) step(n *yaml.Node, tl *timeline) (Step, *Error) {
	s := Step{Line: n.Line}
	if n.Kind != yaml.MappingNode {
		return s, ps.errf(n, "a step must be a mapping such as {sleep: 5s} or {kill: leader}, got %s", describe(n))
	}
	fs, e := ps.fields(n, "in step", stepKeys)
	if e != nil {
		return s, e
	}
	var act, timeoutF *field
	for i := range fs {
		f := &fs[i]
		switch f.name {
		case "phase":
			p, e := ps.str(f.val, "phase")
			if e != nil {
				return s, e
			}
			if p == "" || len(p) > maxPhaseLen || strings.IndexFunc(p, isControl) >= 0 {
				return s, ps.errf(f.val, "phase: must be a name of 1..%d printable characters, got %s", maxPhaseLen, describe(f.val))
			}
			s.Phase = p
		case "at":
			if s.At, e = ps.duration(f.val, "at"); e != nil {
				return s, e
			}
		case "timeout":
			timeoutF = f
		default:
			if act != nil {
				return s, ps.errf(f.key, "step has two actions, %q (line %d) and %q; put each on its own step", act.name, act.key.Line, f.name)
			}
			act = f
		}
	}
	if act == nil {
		if s.Phase == "" {
			return s, ps.errf(n, "step has no action (want a phase or one of %s)", strings.Join(actionKeys, ", "))
		}
		s.Action = ActPhase
	} else {
		s.Action = act.name
		// A step's line is its action's line: that is the line errors about
		// the action (such as a missing capability) point to.
		s.Line = act.key.Line
		if e := ps.action(&s, act, tl); e != nil {
			return s, e
		}
	}
	if timeoutF != nil {
		if a, _ := ActionOf(s.Action); !a.Timeout {
			var with []string
			for _, a := range actionTable {
				if a.Timeout {
					with = append(with, a.Name)
				}
			}
			return s, ps.errf(timeoutF.key, "timeout: only allowed on %s steps, not on %q", strings.Join(with, ", "), s.Action)
		}
		if s.Timeout != 0 {
			return s, ps.errf(timeoutF.key, "timeout: given twice (the %s step already has one)", s.Action)
		}
		if s.Timeout, e = ps.duration(timeoutF.val, "timeout"); e != nil {
			return s, e
		}
	}
	return s, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// action parses the action's value into s (by the shape the action
// table gives it) and advances tl.
func (ps *parser) action(s *Step, f *field, tl *timeline) *Error {
	a, _ := ActionOf(s.Action)
	var e *Error
	v := f.val
	switch a.arg {
	case argDuration:
		s.For, e = ps.duration(v, s.Action)
	case argNode:
		s.Node, e = ps.nodeRef(v, s.Action, tl)
	case argNodeTimeout:
		s.Node, s.Timeout, e = ps.nodeTimeoutArg(v, s.Action, tl)
	case argTimeout:
		s.Timeout, e = ps.timeoutArg(v, s.Action, false)
	case argTimeoutOrDuration:
		s.Timeout, e = ps.timeoutArg(v, s.Action, true)
	case argNone:
		e = ps.noArg(v, s.Action)
	case argGroups:
		s.Groups, e = ps.groups(v)
	case argRate:
		s.Rate, e = ps.rate(v, s.Action)
	case argRamp:
		s.Rate, s.For, e = ps.ramp(v)
	case argBackup:
		s.Method, s.Timeout, e = ps.backupArg(v)
	case argDegrade:
		s.Node, s.Degrade, e = ps.degradeArg(v, tl)
	}
	if e != nil {
		return e
	}
	if a.Downs {
		tl.downable = true
	}
	switch {
	case a.Members < 0 && tl.members <= 1:
		return ps.errf(v, "%s: would leave the cluster with no nodes", s.Action)
	case a.Members > 0 && tl.members >= MaxNodes:
		return ps.errf(f.key, "%s: the cluster would have %d nodes (at most %d)", s.Action, tl.members+1, MaxNodes)
	}
	tl.members += a.Members
	return nil
}

// rate reads a target rate: a number > 0 and at most maxRate.
func (ps *parser) rate(v *yaml.Node, what string) (float64, *Error) {
	r, e := ps.number(v, what)
	switch {
	case e != nil:
		return 0, e
	case !(r > 0):
		return 0, ps.errf(v, "%s: must be > 0, got %v", what, r)
	case r > maxRate:
		return 0, ps.errf(v, "%s: must be <= %v, got %v", what, maxRate, r)
	}
	return r, nil
}

// ramp reads {to: RATE, over: D}: both required.
func (ps *parser) ramp(v *yaml.Node) (float64, time.Duration, *Error) {
	if v.Kind != yaml.MappingNode {
		return 0, 0, ps.errf(v, "ramp: want {to: RATE, over: D}, got %s", describe(v))
	}
	fs, e := ps.fields(v, "in ramp", rampKeys)
	if e != nil {
		return 0, 0, e
	}
	var to float64
	var over time.Duration
	got := map[string]bool{}
	for _, f := range fs {
		got[f.name] = true
		switch f.name {
		case "to":
			to, e = ps.rate(f.val, "ramp.to")
		case "over":
			over, e = ps.duration(f.val, "ramp.over")
		}
		if e != nil {
			return 0, 0, e
		}
	}
	for _, k := range rampKeys {
		if !got[k] {
			return 0, 0, ps.errf(v, "ramp: missing required key %q (want {to: RATE, over: D})", k)
		}
	}
	return to, over, nil
}

// noArg accepts null, {} or true.
func (ps *parser) noArg(v *yaml.Node, what string) *Error {
	switch {
	case isNull(v),
		v.Kind == yaml.MappingNode && len(v.Content) == 0,
		v.Kind == yaml.ScalarNode && v.ShortTag() == "!!bool" && v.Value == "true":
		return nil
	}
	return ps.errf(v, "%s: takes no argument (write \"%s: {}\"), got %s", what, what, describe(v))
}

// timeoutArg accepts null, {}, true or {timeout: D}, and a bare duration
// when bare is set. 0 means the default.
func (ps *parser) timeoutArg(v *yaml.Node, what string, bare bool) (time.Duration, *Error) {
	if ps.noArg(v, what) == nil {
		return 0, nil
	}
	if v.Kind == yaml.MappingNode {
		fs, e := ps.fields(v, "in "+what, timeoutKeys)
		if e != nil {
			return 0, e
		}
		return ps.duration(fs[0].val, what+".timeout")
	}
	if bare {
		return ps.duration(v, what)
	}
	return 0, ps.errf(v, "%s: want nothing or {timeout: D}, got %s", what, describe(v))
}

// backupArg accepts null, {}, true or a mapping of method (a name such
// as mariabackup) and timeout, both optional. Whether the driver offers
// the method is Validate's to check.
func (ps *parser) backupArg(v *yaml.Node) (string, time.Duration, *Error) {
	if ps.noArg(v, ActBackup) == nil {
		return "", 0, nil
	}
	if v.Kind != yaml.MappingNode {
		return "", 0, ps.errf(v, "backup: want nothing or {method: M, timeout: D}, got %s", describe(v))
	}
	fs, e := ps.fields(v, "in backup", backupKeys)
	if e != nil {
		return "", 0, e
	}
	var method string
	var timeout time.Duration
	for _, f := range fs {
		switch f.name {
		case "method":
			if method, e = ps.str(f.val, "backup.method"); e == nil && !roleRE.MatchString(method) {
				e = ps.errf(f.val, "backup.method: want a method name such as mariabackup, got %s", describe(f.val))
			}
		case "timeout":
			timeout, e = ps.duration(f.val, "backup.timeout")
		}
		if e != nil {
			return "", 0, e
		}
	}
	return method, timeout, nil
}

// nodeRef reads a 1-based index or a role. Driver roles and the upper
// bound of indexes are checked by Validate, which knows the driver.
func (ps *parser) nodeRef(v *yaml.Node, what string, tl *timeline) (*NodeRef, *Error) {
	const want = "a 1-based index, down, last, degraded or a role of the driver (leader, replica, ...)"
	if v.Kind != yaml.ScalarNode || isNull(v) {
		return nil, ps.errf(v, "%s: needs a node: %s, got %s", what, want, describe(v))
	}
	if v.Value == "down" && !tl.downable {
		return nil, ps.errf(v, "%s: \"down\" is the most recently killed, stopped or paused node, but no earlier step kills, stops or pauses one", what)
	}
	if v.Value == "degraded" && !tl.degradable {
		return nil, ps.errf(v, "%s: \"degraded\" is the most recently degraded node not repaired, but no earlier step degrades one", what)
	}
	if contains(runnerRoles, v.Value) || roleRE.MatchString(v.Value) {
		return &NodeRef{Role: v.Value}, nil
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(v.Value, "_", ""), 10, 64)
	if err != nil {
		return nil, ps.errf(v, "%s: unknown node %s: want %s", what, describe(v), want)
	}
	if i < 1 {
		return nil, ps.errf(v, "%s: node indexes start at 1, got %d", what, i)
	}
	return &NodeRef{Index: int(i)}, nil
}

// nodeTimeoutArg reads NODE or {node: NODE, timeout: D}; the timeout is
// optional (0: the default).
func (ps *parser) nodeTimeoutArg(v *yaml.Node, what string, tl *timeline) (*NodeRef, time.Duration, *Error) {
	if v.Kind != yaml.MappingNode {
		ref, e := ps.nodeRef(v, what, tl)
		return ref, 0, e
	}
	fs, e := ps.fields(v, "in "+what, nodeKeys)
	if e != nil {
		return nil, 0, e
	}
	var ref *NodeRef
	var timeout time.Duration
	for _, f := range fs {
		switch f.name {
		case "node":
			ref, e = ps.nodeRef(f.val, what+".node", tl)
		case "timeout":
			timeout, e = ps.duration(f.val, what+".timeout")
		}
		if e != nil {
			return nil, 0, e
		}
	}
	if ref == nil {
		return nil, 0, ps.errf(v, "%s: missing required key \"node\" (want NODE or {node: NODE, timeout: D})", what)
	}
	return ref, timeout, nil
}

// groups reads partition groups: at least two non-empty lists of distinct
// valid node indexes.
func (ps *parser) groups(v *yaml.Node) ([][]int, *Error) {
	const want = "a list of at least two groups of node indexes, e.g. [[1], [2, 3]]"
	if v.Kind != yaml.SequenceNode {
		return nil, ps.errf(v, "partition: want %s, got %s", want, describe(v))
	}
	if len(v.Content) < 2 {
		return nil, ps.errf(v, "partition: want %s, got %d group(s)", want, len(v.Content))
	}
	if len(v.Content) > MaxNodes {
		return nil, ps.errf(v, "partition: at most %d groups, got %d", MaxNodes, len(v.Content))
	}
	seen := map[int64]int{}
	groups := make([][]int, 0, len(v.Content))
	for _, gi := range v.Content {
		g := deref(gi)
		if g == nil || g.Kind != yaml.SequenceNode || len(g.Content) == 0 {
			return nil, ps.errf(gi, "partition: each group must be a non-empty list of node indexes, got %s", describe(g))
		}
		group := make([]int, 0, len(g.Content))
		for _, ni := range g.Content {
			n := deref(ni)
			if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
				return nil, ps.errf(ni, "partition: groups hold 1-based node indexes, got %s", describe(n))
			}
			i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
			if err != nil {
				return nil, ps.errf(n, "partition: node index %s out of range", describe(n))
			}
			if i < 1 {
				return nil, ps.errf(n, "partition: node indexes start at 1, got %d", i)
			}
			if line, dup := seen[i]; dup {
				return nil, ps.errf(n, "partition: node %d is in two groups (also at line %d)", i, line)
			}
			seen[i] = n.Line
			group = append(group, int(i))
		}
		groups = append(groups, group)
	}
	return groups, nil
}
