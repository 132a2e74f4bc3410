package scenarios

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/history"
	"github.com/evalrun/evalrun/internal/linearize"
)

// minimal is the smallest valid scenario: only the required keys.
const minimal = `name: tiny
cluster:
  nodes: 1
workload:
  mix: {write: 1}
  keys: 10
  rate: 5
steps:
  - sleep: 1s
`

// header is a valid head for step tests: steps start on line 9.
const header = `name: t
cluster:
  nodes: 3
workload:
  mix: {read: 1}
  keys: 10
  rate: 5
steps:
`

func TestParseMinimal(t *testing.T) {
	p, err := Parse("tiny.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := &Plan{
		Name:     "tiny",
		Source:   "tiny.yaml",
		SHA256:   p.SHA256,
		Duration: time.Second,
		Cluster:  Cluster{Nodes: 1, Options: map[string]string{}, Line: 3, OptionLines: map[string]int{}},
		Workload: Workload{
			Mix:            map[string]int{OpWrite: 1},
			Keys:           10,
			Distribution:   Uniform,
			ValueSize:      256,
			Rate:           5,
			Concurrency:    64,
			MaxConcurrency: 1024,
			Timeout:        2 * time.Second,
			Seed:           1,
			Preload:        true,
			MaxLag:         2 * time.Second,
			// 64 sampled keys by default, clamped to the 10 there are
			History: History{Keys: 10, MaxOps: history.DefaultMaxOps, Budget: linearize.DefaultBudget},
		},
		Steps: []Step{{Line: 9, Action: ActSleep, For: time.Second}},
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got  %+v\nwant %+v", p, want)
	}
	if len(p.SHA256) != 64 || strings.Trim(p.SHA256, "0123456789abcdef") != "" {
		t.Errorf("SHA256 = %q, want 64 hex digits", p.SHA256)
	}
}

const full = `name: full-1
description: "  everything set  "
cluster:
  nodes: 3
  options: {election-timeout-ms: 1000, pre-vote: true, name: x}
workload:
  mix: {read: 50, write: 45, delete: 0}
  keys: 10_000
  distribution: zipfian
  value_size: 512
  rate: 1.5e3
  concurrency: 8
  timeout: 500ms
  seed: -7
  preload: false
  max_lag: 3s
  history: {keys: 32, max-ops: 1000, budget: 2s}
steps:
  - phase: warmup
  - sleep: 5s
  - phase: fault
    kill: leader
  - stop: 3
  - start: down
  - pause: follower
  - resume: last
  - add-node: {timeout: 2m}
  - add-node: true
  - kill: 5
  - remove-node: 1
  - wait-settled: 60s
  - wait-settled:
  - wait-settled: {}
  - phase: settle
    wait-settled:
    timeout: 30s
  - backup:
  - backup: {timeout: 1m}
  - restore: {}
    timeout: 5m
  - partition: [[1], [2, 3], [4]]
  - heal: true
  - at: 70s
    verify: {}
`

func TestParseFull(t *testing.T) {
	p, err := Parse("full.yaml", []byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if p.Description != "everything set" {
		t.Errorf("Description = %q", p.Description)
	}
	wantOpts := map[string]string{"election-timeout-ms": "1000", "pre-vote": "true", "name": "x"}
	if !reflect.DeepEqual(p.Cluster.Options, wantOpts) {
		t.Errorf("Options = %v, want %v", p.Cluster.Options, wantOpts)
	}
	w := p.Workload
	wantW := Workload{Mix: map[string]int{OpRead: 50, OpWrite: 45}, Keys: 10000, Distribution: Zipfian, ValueSize: 512,
		Rate: 1500, Concurrency: 8, MaxConcurrency: 1024, Timeout: 500 * time.Millisecond, Seed: -7, Preload: false, MaxLag: 3 * time.Second,
		History: History{Keys: 32, MaxOps: 1000, Budget: 2 * time.Second}}
	if !reflect.DeepEqual(w, wantW) {
		t.Errorf("Workload = %+v, want %+v", w, wantW)
	}
	type brief struct {
		Line    int
		Action  string
		Phase   string
		Timeout time.Duration
		Node    NodeRef
		Groups  [][]int
	}
	var got []brief
	for _, s := range p.Steps {
		b := brief{s.Line, s.Action, s.Phase, s.Timeout, NodeRef{}, s.Groups}
		if s.Node != nil {
			b.Node = *s.Node
		}
		got = append(got, b)
	}
	want := []brief{
		{19, ActPhase, "warmup", 0, NodeRef{}, nil},
		{20, ActSleep, "", 0, NodeRef{}, nil},
		{22, ActKill, "fault", 0, NodeRef{Role: "leader"}, nil},
		{23, ActStop, "", 0, NodeRef{Index: 3}, nil},
		{24, ActStart, "", 0, NodeRef{Role: "down"}, nil},
		{25, ActPause, "", 0, NodeRef{Role: "follower"}, nil},
		{26, ActResume, "", 0, NodeRef{Role: "last"}, nil},
		{27, ActAddNode, "", 2 * time.Minute, NodeRef{}, nil},
		{28, ActAddNode, "", 0, NodeRef{}, nil},
		{29, ActKill, "", 0, NodeRef{Index: 5}, nil},
		{30, ActRemoveNode, "", 0, NodeRef{Index: 1}, nil},
		{31, ActSettled, "", time.Minute, NodeRef{}, nil},
		{32, ActSettled, "", 0, NodeRef{}, nil},
		{33, ActSettled, "", 0, NodeRef{}, nil},
		{35, ActSettled, "settle", 30 * time.Second, NodeRef{}, nil},
		{37, ActBackup, "", 0, NodeRef{}, nil},
		{38, ActBackup, "", time.Minute, NodeRef{}, nil},
		{39, ActRestore, "", 5 * time.Minute, NodeRef{}, nil},
		{41, ActPartition, "", 0, NodeRef{}, [][]int{{1}, {2, 3}, {4}}},
		{42, ActHeal, "", 0, NodeRef{}, nil},
		{44, ActVerify, "", 0, NodeRef{}, nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("steps:\n got  %+v\n want %+v", got, want)
	}
	if last := p.Steps[len(p.Steps)-1]; last.At != 70*time.Second {
		t.Errorf("last step At = %v, want 70s", last.At)
	}
	if p.Duration != 70*time.Second {
		t.Errorf("Duration = %v, want 70s", p.Duration)
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		name  string
		steps string
		want  time.Duration
	}{
		{"sleeps add up", "  - sleep: 5s\n  - sleep: 500ms\n", 5500 * time.Millisecond},
		{"waits count 0", "  - sleep: 5s\n  - wait-settled: 1m\n  - backup: {timeout: 1m}\n", 5 * time.Second},
		{"at moves the offset", "  - sleep: 5s\n  - at: 20s\n    verify:\n  - sleep: 10s\n", 30 * time.Second},
		{"at in the past is ignored", "  - sleep: 30s\n  - at: 20s\n    sleep: 10s\n", 40 * time.Second},
		{"at on a sleep", "  - at: 10s\n    sleep: 5s\n", 15 * time.Second},
		{"at on a phase marker", "  - sleep: 1s\n  - at: 1m\n    phase: late\n", time.Minute},
		{"no sleeps", "  - verify:\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("d.yaml", []byte(header+tt.steps))
			if err != nil {
				t.Fatal(err)
			}
			if p.Duration != tt.want {
				t.Errorf("Duration = %v, want %v", p.Duration, tt.want)
			}
		})
	}
}

func TestBuiltins(t *testing.T) {
	infos := Builtins()
	var names []string
	for _, in := range infos {
		names = append(names, in.Name)
	}
	want := []string{"backup-methods", "backup-restore", "baseline", "failover", "node-loss", "partition", "rebalance", "replica-lag-spike", "rolling-restart", "slow-node"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("Builtins = %v, want %v", names, want)
	}
	for _, in := range infos {
		t.Run(in.Name, func(t *testing.T) {
			if in.Description == "" || strings.HasPrefix(in.Description, "(invalid") {
				t.Errorf("Description = %q", in.Description)
			}
			p, err := Load(in.Name)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != in.Name {
				t.Errorf("name: %q in scenarios/%s.yaml", p.Name, in.Name)
			}
			if p.Source != "builtin:"+in.Name {
				t.Errorf("Source = %q", p.Source)
			}
			if p.Duration < 60*time.Second || p.Duration > 100*time.Second {
				t.Errorf("Duration = %v, want 60s..100s", p.Duration)
			}
			if p.Cluster.Nodes != 3 {
				t.Errorf("Nodes = %d, want 3", p.Cluster.Nodes)
			}
			w := p.Workload
			wantW := Workload{Mix: map[string]int{OpRead: 50, OpWrite: 45, OpDelete: 5}, Keys: 5000, Distribution: Zipfian,
				ValueSize: 256, Rate: 500, Concurrency: 32, MaxConcurrency: 1024, Timeout: 2 * time.Second, Seed: 1, Preload: true, MaxLag: 2 * time.Second,
				History: History{Keys: history.DefaultKeys, MaxOps: history.DefaultMaxOps, Budget: linearize.DefaultBudget}}
			// the fault scenarios share one workload, so their reports
			// compare; the lag spike needs a write-heavy one of its own, the
			// slow node room for the operations its queue holds
			if in.Name == "slow-node" {
				wantW.Concurrency, wantW.MaxConcurrency = 4000, 4000
			}
			if in.Name != "replica-lag-spike" && !reflect.DeepEqual(w, wantW) {
				t.Errorf("Workload = %+v, want %+v", w, wantW)
			}
			if last := p.Steps[len(p.Steps)-1]; last.Action != ActVerify && in.Name != "backup-restore" {
				t.Errorf("last step is %q, want verify", last.Action)
			}
			text, err := builtinFS.ReadFile(in.Name + ".yaml")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(text), "# ") {
				t.Errorf("scenarios/%s.yaml does not start with a comment", in.Name)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	_, err := Load("node-los")
	if err == nil || !strings.Contains(err.Error(), `did you mean "node-loss"`) || !strings.Contains(err.Error(), "./node-los.yaml") ||
		!strings.Contains(err.Error(), "node-loss, partition") {
		t.Errorf("Load(node-los) = %v", err)
	}
	t.Chdir(t.TempDir()) // so that ./node-loss.yaml does not exist
	_, err = Load("node-loss.yaml")
	var se *Error
	if !errors.As(err, &se) || se.File != "node-loss.yaml" || !strings.Contains(se.Msg, `the built-in is called "node-loss"`) {
		t.Errorf("Load(node-loss.yaml) = %v", err)
	}
	dir := t.TempDir()
	path := dir + "/mine.yaml"
	if err := os.WriteFile(path, []byte(minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil || p.Source != path || p.Name != "tiny" {
		t.Errorf("Load(%s) = %+v, %v", path, p, err)
	}
	bad := dir + "/bad.yml"
	if err := os.WriteFile(bad, []byte("name: x\nkil: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	if err == nil || !strings.HasPrefix(err.Error(), bad+":2: ") {
		t.Errorf("Load(%s) = %v", bad, err)
	}
}

// Bad inputs: each error must start with file:line and contain msg.
var badInputs = []struct {
	name   string
	text   string
	prefix string // "my.yaml:N: " or "my.yaml: "
	msg    string
}{
	{"empty file", "", "my.yaml: ", "empty scenario"},
	{"history not a mapping", "name: x\nworkload:\n  history: 5\n", "my.yaml:3: ", "workload.history: must be a mapping, got"},
	{"unknown history key", "name: x\nworkload:\n  history: {keys: 1, max_ops: 5}\n", "my.yaml:3: ", `unknown key "max_ops" in workload.history (did you mean "max-ops"?)`},
	{"negative history keys", "name: x\nworkload:\n  history:\n    keys: -1\n", "my.yaml:4: ", "workload.history.keys: must be in 0..1000000000, got -1"},
	{"zero history max-ops", "name: x\nworkload:\n  history:\n    max-ops: 0\n", "my.yaml:4: ", "workload.history.max-ops: must be >= 1, got 0"},
	{"history budget without unit", "name: x\nworkload:\n  history:\n    keys: 3\n    budget: 10\n", "my.yaml:5: ", "workload.history.budget: invalid duration"},
	{"history keys a word", "name: x\nworkload:\n  history: {keys: all}\n", "my.yaml:3: ", `workload.history.keys: must be an integer, got "all"`},
	{"only a comment", "# nothing\n", "my.yaml: ", "empty scenario"},
	{"not a mapping", "- a\n", "my.yaml:1: ", "a scenario is a mapping"},
	{"unknown top-level key", "name: x\ndescripton: y\n", "my.yaml:2: ", `unknown key "descripton" at top level (did you mean "description"?)`}, //nolint:misspell // the misspelling is the test
	{"duplicate key", "name: x\nname: y\n", "my.yaml:2: ", `duplicate key "name" at top level (first at line 1)`},
	{"bad name", "name: Node_Loss\n", "my.yaml:1: ", "name: must be 1..64 characters of a-z, 0-9 and -"},
	{"missing steps", strings.TrimSuffix(header, "steps:\n"), "my.yaml:1: ", `missing required key "steps"`},
	{"empty steps", header[:len(header)-1] + " []\n", "my.yaml:8: ", "steps: must not be empty"},
	{"steps not a list", header[:len(header)-1] + " {sleep: 5s}\n", "my.yaml:8: ", "steps: must be a list of steps, got a mapping"},
	{"missing nodes", "name: x\ncluster: {}\n", "my.yaml:2: ", `cluster: missing required key "nodes"`},
	{"too many nodes", "name: x\ncluster:\n  nodes: 16\n", "my.yaml:3: ", "cluster.nodes: must be in 1..15, got 16"},
	{"zero nodes", "name: x\ncluster:\n  nodes: 0\n", "my.yaml:3: ", "cluster.nodes: must be >= 1, got 0"},
	{"option not a scalar", "name: x\ncluster:\n  nodes: 1\n  options:\n    a: [1]\n", "my.yaml:5: ", "cluster.options.a: must be a string, number or boolean"},
	{"unknown workload key", "name: x\nworkload:\n  mix: {read: 1}\n  value-size: 5\n", "my.yaml:4: ", `unknown key "value-size" in workload (did you mean "value_size"?)`},
	{"unknown op", "name: x\nworkload:\n  mix: {reed: 1}\n", "my.yaml:3: ", `unknown key "reed" in workload.mix (did you mean "read"?)`},
	{"mix sums to 0", "name: x\nworkload:\n  mix: {read: 0}\n", "my.yaml:3: ", "workload.mix: weights sum to 0"},
	{"negative weight", "name: x\nworkload:\n  mix: {read: -1}\n", "my.yaml:3: ", "workload.mix.read: must be in 0..1000000, got -1"},
	{"negative rate", "name: x\nworkload:\n  mix: {read: 1}\n  keys: 1\n  rate: -5\n", "my.yaml:5: ", "workload.rate: must be > 0, got -5"},
	{"rate too high", "name: x\nworkload:\n  rate: 2e6\n", "my.yaml:3: ", "workload.rate: must be <= 1e+06"},
	{"rate nan", "name: x\nworkload:\n  rate: .nan\n", "my.yaml:3: ", "workload.rate: must be a finite number"},
	{"wrong type", "name: x\nworkload:\n  keys: many\n", "my.yaml:3: ", `workload.keys: must be an integer, got "many"`},
	{"max-concurrency zero", "name: x\nworkload:\n  max-concurrency: 0\n", "my.yaml:3: ", "workload.max-concurrency: must be >= 1"},
	{"max-concurrency below concurrency", "name: x\nworkload:\n  mix: {write: 1}\n  keys: 10\n  rate: 5\n  concurrency: 8\n  max-concurrency: 4\n",
		"my.yaml:7: ", "workload.max-concurrency: must be >= workload.concurrency (8), got 4"},
	{"float where int expected", "name: x\nworkload:\n  concurrency: 1.5\n", "my.yaml:3: ", `workload.concurrency: must be an integer, got "1.5"`},
	{"mapping where mapping expected", "name: x\nworkload:\n  mix:\n", "my.yaml:3: ", "workload.mix: must be a mapping, got null"},
	{"explicit int tag on a word", "name: x\nworkload:\n  keys: !!int many\n", "my.yaml:3: ", `workload.keys: must be an integer, got "many"`},
	{"integer overflow", "name: x\nworkload:\n  seed: 9223372036854775808\n", "my.yaml:3: ", `workload.seed: integer "9223372036854775808" out of range`},
	{"list where string expected", "name: [a]\n", "my.yaml:1: ", "name: must be a string, got a list"},
	{"bad distribution", "name: x\nworkload:\n  distribution: normal\n", "my.yaml:3: ", `workload.distribution: must be uniform or zipfian, got "normal"`},
	{"value size too small", "name: x\nworkload:\n  value_size: 8\n", "my.yaml:3: ", "workload.value_size: must be in 16..1048576, got 8"},
	{"bad bool", "name: x\nworkload:\n  preload: 1\n", "my.yaml:3: ", `workload.preload: must be true or false, got "1"`},
	{"missing rate", "name: x\ncluster: {nodes: 1}\nworkload:\n  mix: {read: 1}\n  keys: 1\nsteps: [{sleep: 1s}]\n", "my.yaml:4: ", `workload: missing required key "rate"`},
	{"bad workload duration", "name: x\nworkload:\n  timeout: 5x\n", "my.yaml:3: ", `workload.timeout: invalid duration "5x": unknown unit`},
	{"unknown step key", header + "  - kil: 1\n", "my.yaml:9: ", `unknown key "kil" in step (did you mean "kill"?)`},
	{"two actions in one step", header + "  - phase: a\n    kill: 1\n    sleep: 5s\n", "my.yaml:11: ", `step has two actions, "kill" (line 10) and "sleep"`},
	{"no action", header + "  - at: 5s\n", "my.yaml:9: ", "step has no action"},
	{"step not a mapping", header + "  - sleep\n", "my.yaml:9: ", `a step must be a mapping`},
	{"bad duration", header + "  - sleep: 5x\n", "my.yaml:9: ", `sleep: invalid duration "5x": unknown unit`},
	{"duration without unit", header + "  - sleep: 5\n", "my.yaml:9: ", `sleep: invalid duration "5": missing unit`},
	{"zero duration", header + "  - sleep: 0s\n", "my.yaml:9: ", `sleep: must be > 0, got "0s"`},
	{"negative duration", header + "  - sleep: -1s\n", "my.yaml:9: ", `sleep: must be > 0, got "-1s"`},
	{"sleep without duration", header + "  - sleep:\n", "my.yaml:9: ", `sleep: must be a duration`},
	{"bad at", header + "  - at: soon\n    verify:\n", "my.yaml:9: ", `at: invalid duration "soon"`},
	{"node 0", header + "  - stop: 0\n", "my.yaml:9: ", "stop: node indexes start at 1, got 0"},
	{"node missing", header + "  - pause:\n", "my.yaml:9: ", "pause: needs a node"},
	{"down before any kill", header + "  - start: down\n", "my.yaml:9: ", `start: "down" is the most recently killed, stopped or paused node, but no earlier step kills, stops or pauses one`},
	{"remove the last node", "name: x\ncluster: {nodes: 1}\nworkload: {mix: {read: 1}, keys: 1, rate: 1}\nsteps:\n  - remove-node: 1\n", "my.yaml:5: ", "remove-node: would leave the cluster with no nodes"},
	{"too many nodes added", "name: x\ncluster: {nodes: 15}\nworkload: {mix: {read: 1}, keys: 1, rate: 1}\nsteps:\n  - add-node:\n", "my.yaml:5: ", "add-node: the cluster would have 16 nodes (at most 15)"},
	{"partition with a repeated node", header + "  - partition:\n    - [1, 2]\n    - [2]\n", "my.yaml:11: ", "partition: node 2 is in two groups (also at line 10)"},
	{"partition with one group", header + "  - partition: [[1, 2, 3]]\n", "my.yaml:9: ", "partition: want a list of at least two groups"},
	{"partition with an empty group", header + "  - partition: [[1], []]\n", "my.yaml:9: ", "partition: each group must be a non-empty list"},
	{"partition with a role", header + "  - partition: [[leader], [2]]\n", "my.yaml:9: ", `partition: groups hold 1-based node indexes, got "leader"`},
	{"verify with an argument", header + "  - verify: false\n", "my.yaml:9: ", `verify: takes no argument`},
	{"unknown key in timeout argument", header + "  - backup: {timout: 1m}\n", "my.yaml:9: ", `unknown key "timout" in backup (did you mean "timeout"?)`},
	{"timeout on a sleep", header + "  - sleep: 1s\n    timeout: 2s\n", "my.yaml:10: ", `timeout: only allowed on add-node, remove-node, wait-settled, backup, restore steps, not on "sleep"`},
	{"timeout given twice", header + "  - wait-settled: 1m\n    timeout: 2m\n", "my.yaml:10: ", "timeout: given twice"},
	{"backup with a bare duration", header + "  - backup: 5m\n", "my.yaml:9: ", `backup: want nothing or {method: M, timeout: D}, got "5m"`},
	{"phase not a string", header + "  - phase: {a: 1}\n", "my.yaml:9: ", "phase: must be a string, got a mapping"},
	{"YAML syntax error", "name: x\nsteps:\n  - a\n - b\n", "my.yaml:4: ", "invalid YAML: did not find expected key"},
	{"YAML scanner error", "name: x\n  cluster: 3\n", "my.yaml:2: ", "invalid YAML: mapping values are not allowed in this context"},
	{"YAML error on line 1", "\tname: x\n", "my.yaml:1: ", "invalid YAML: found character that cannot start any token"},
	{"YAML unclosed flow", "name: x\nsteps: [a, b\ncluster: 3\n", "my.yaml:2: ", "invalid YAML: did not find expected ',' or ']'"},
	{"unknown anchor", "name: x\ncluster: *c\n", "my.yaml:2: ", "invalid YAML: unknown anchor 'c' referenced"},
	{"merge key", "name: x\ncluster:\n  <<: {nodes: 3}\n", "my.yaml:3: ", "merge keys (<<) are not supported in cluster"},
	{"two documents", minimal + "---\nname: y\n", "my.yaml:10: ", "a second YAML document"},
	{"control character", "name: x\n\x01\n", "my.yaml:2: ", "control character U+0001 not allowed"},
	{"invalid UTF-8", "name: x\ndescription: \xff\n", "my.yaml:2: ", "invalid UTF-8"},
	{"self-referencing alias", "name: x\nsteps: &s [*s]\n", "my.yaml:1: ", `missing required key "cluster"`},
	{"self-referencing partition", header + "  - partition: &p [*p, *p]\n", "my.yaml:9: ", "partition: groups hold 1-based node indexes, got a list"},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range badInputs {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("my.yaml", []byte(tt.text))
			if err == nil {
				t.Fatalf("no error; plan %+v", p)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			s := err.Error()
			if !strings.HasPrefix(s, tt.prefix) || !strings.Contains(s, tt.msg) {
				t.Errorf("error %q\nwant prefix %q and %q", s, tt.prefix, tt.msg)
			}
			if strings.ContainsAny(s, "\n\r") {
				t.Errorf("error %q is more than one line", s)
			}
		})
	}
}

func TestBuiltinErrorsNameTheFile(t *testing.T) {
	_, err := Parse("builtin:oops", []byte("name: x\nkil: 1\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "scenarios/oops.yaml:2: ") {
		t.Errorf("got %v", err)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{"a.yaml", 3, "bad"}, "a.yaml:3: bad"},
		{Error{"a.yaml", 0, "bad"}, "a.yaml: bad"},
		{Error{"", 3, "bad"}, "line 3: bad"},
		{Error{"", 0, "bad"}, "bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	text := header + `  - phase: a
    sleep: 1s
  - phase: b
    pause: 2
  - resume: 2
  - verify:
`
	p, err := Parse("builtin:partition", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	target := func(driver, provider string, caps ...drivers.Capability) Target {
		return Target{Driver: driver, Provider: provider, Topology: drivers.Topology{Nodes: 3, Capabilities: caps}}
	}
	if err := Validate(p, target("etcd", "embedded", drivers.CapKill, drivers.CapPause, drivers.CapResume)); err != nil {
		t.Errorf("with all capabilities: %v", err)
	}
	err = Validate(p, target("etcd", "embedded", drivers.CapKill, drivers.CapResume))
	want := `scenarios/partition.yaml:12: step "pause": driver etcd (provider embedded) cannot pause; pick another driver or remove the step`
	var se *Error
	if err == nil || err.Error() != want || !errors.As(err, &se) || se.Line != 12 {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	err = Validate(p, target("etcd", "", drivers.CapPause))
	want = `scenarios/partition.yaml:13: step "resume": driver etcd cannot resume paused nodes; pick another driver or remove the step`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	// Every action that needs a capability is checked; the others need none.
	for _, a := range actionKeys {
		s := Step{Line: 1, Action: a}
		err := Validate(&Plan{Source: "x.yaml", Steps: []Step{s}}, target("d", "p"))
		needs := a != ActSleep && a != ActVerify && a != ActRate && a != ActRamp // the load generator does these
		if (err != nil) != needs {
			t.Errorf("action %s with no capabilities: %v", a, err)
		}
		if act, _ := ActionOf(a); needs {
			if err := Validate(&Plan{Steps: []Step{s}}, target("d", "p", act.Needs)); err != nil {
				t.Errorf("action %s with capability %s: %v", a, act.Needs, err)
			}
		}
	}
	for _, in := range Builtins() {
		p, err := Load(in.Name)
		if err != nil {
			t.Fatal(err)
		}
		var caps []drivers.Capability
		for _, a := range actionTable {
			if a.Needs != "" {
				caps = append(caps, a.Needs)
			}
		}
		tg := target("etcd", "embedded", caps...)
		tg.Topology.Roles = []string{"leader", "follower", drivers.RolePrimary, drivers.RoleReplica}
		tg.Topology.BackupMethods = []string{"mariabackup", "dump", "cold", "snapshot"} // backup-methods names them
		if err := Validate(p, tg); err != nil {
			t.Errorf("%s: %v", in.Name, err)
		}
	}
}

// One list of capability names: every capability a cluster can have
// (CapabilitiesOf) is the name of the action that needs it, and every
// action that needs a capability needs one a cluster can have.
func TestCapabilitiesAreActions(t *testing.T) {
	all := drivers.CapabilitiesOf(allCaps{})
	if len(all) == 0 {
		t.Fatal("CapabilitiesOf(allCaps) is empty")
	}
	for _, c := range all {
		if a, ok := ActionOf(string(c)); !ok || a.Needs != c {
			t.Errorf("capability %q is not the name of an action that needs it (%+v)", c, a)
		}
	}
	for _, a := range actionTable {
		if a.Needs != "" && !drivers.Supports(all, a.Needs) {
			t.Errorf("action %q needs %q, which no cluster can report", a.Name, a.Needs)
		}
		if (a.Needs == "") != (a.Cannot == "") {
			t.Errorf("action %q: Needs %q without Cannot %q, or the other way round", a.Name, a.Needs, a.Cannot)
		}
	}
}

// Indexes and roles are checked against what the driver starts.
func TestValidateNodes(t *testing.T) {
	etcd := Target{Driver: "etcd", Topology: drivers.Topology{Nodes: 3, Roles: []string{"leader", "follower"}}}
	redis := Target{Driver: "redis", Topology: drivers.Topology{Nodes: 6, Roles: []string{"leader", "master", "replica"}}}
	mariadb := Target{Driver: "mariadb", Topology: drivers.Topology{Nodes: 3, Roles: []string{"primary", "replica"}, Primary: 1}}
	for _, tt := range []struct {
		name   string
		steps  string
		target Target
		want   string // "" for valid
	}{
		{"node out of range", "  - kill: 4\n", etcd, "my.yaml:9: kill: node 4 out of range (the cluster has 3 nodes at this point)"},
		{"every node of 3 masters with a replica each", "  - kill: 4\n  - pause: 6\n", redis, ""},
		{"beyond them", "  - kill: 7\n", redis, "my.yaml:9: kill: node 7 out of range (the cluster has 6 nodes at this point)"},
		{"node after add is fine, beyond is not", "  - add-node:\n  - kill: 4\n  - kill: 5\n", etcd, "my.yaml:11: kill: node 5 out of range (the cluster has 4 nodes at this point)"},
		{"partition with a bad node", "  - partition: [[1], [2, 7]]\n", etcd, "my.yaml:9: partition: node 7 out of range (the cluster has 3 nodes at this point)"},
		{"a role the driver declares", "  - pause: replica\n  - resume: replica\n", redis, ""},
		{"a role it does not", "  - pause: replica\n", etcd, `my.yaml:9: pause: driver etcd has no node role "replica" (roles: leader, follower, down, last, degraded)`},
		{"a misspelt role", "  - kill: ledaer\n", etcd, `my.yaml:9: kill: driver etcd has no node role "ledaer" (roles: leader, follower, down, last, degraded); did you mean "leader"?`},
		{"the runner's roles need no driver", "  - add-node:\n  - kill: last\n  - start: down\n", etcd, ""},
		{"promote a replica by index or role", "  - kill: primary\n  - promote: 2\n  - switchover: 3\n  - switchover: 1\n  - promote: replica\n", mariadb, ""},
		{"promote the initial primary", "  - kill: 2\n  - promote: 1\n", mariadb,
			"my.yaml:10: promote: node 1 is the primary at this point, not a replica; name a replica (an index, or replica for the most advanced one)"},
		{"switch over to the node just promoted", "  - promote: 3\n  - switchover: 3\n", mariadb,
			"my.yaml:10: switchover: node 3 is the primary at this point, not a replica; name a replica (an index, or replica for the most advanced one)"},
		{"promote the primary role", "  - switchover: primary\n", mariadb,
			"my.yaml:9: switchover: the primary is not a replica; name a replica (an index, or replica for the most advanced one)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("my.yaml", []byte(header+tt.steps))
			if err != nil {
				t.Fatal(err)
			}
			tg := tt.target
			tg.Topology.Capabilities = drivers.CapabilitiesOf(allCaps{})
			err = Validate(p, tg)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

// allCaps is a cluster that can do everything, for CapabilitiesOf.
type allCaps struct {
	drivers.Cluster
	drivers.NodeController
	drivers.Pauser
	drivers.Partitioner
	drivers.Membership
	drivers.Settler
	drivers.BackupRestorer
	drivers.Promoter
	drivers.Degrader
}

func TestScaled(t *testing.T) {
	text := header + `  - sleep: 10s
  - wait-settled: 1m
  - at: 30s
    backup: {timeout: 1m}
  - sleep: 30s
  - sleep: 1ms
`
	p, err := Parse("s.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if p.Duration != 60*time.Second+time.Millisecond {
		t.Fatalf("Duration = %v", p.Duration)
	}
	orig := p.Clone()
	s := p.Scaled(p.Duration / 10)
	if !reflect.DeepEqual(p, orig) {
		t.Errorf("Scaled changed the original")
	}
	gotFor := []time.Duration{s.Steps[0].For, s.Steps[3].For, s.Steps[4].For}
	wantFor := []time.Duration{time.Second, 3 * time.Second, time.Millisecond}
	if !reflect.DeepEqual(gotFor, wantFor) {
		t.Errorf("sleeps = %v, want %v", gotFor, wantFor)
	}
	if s.Steps[2].At != 3*time.Second {
		t.Errorf("at = %v, want 3s", s.Steps[2].At)
	}
	if s.Steps[1].Timeout != time.Minute || s.Steps[2].Timeout != time.Minute {
		t.Errorf("timeouts scaled: %v, %v", s.Steps[1].Timeout, s.Steps[2].Timeout)
	}
	if d := s.Duration - p.Duration/10; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("scaled Duration = %v, want about %v", s.Duration, p.Duration/10)
	}
	// Scaling up.
	up := p.Scaled(2 * p.Duration)
	if up.Duration != 2*p.Duration || up.Steps[0].For != 20*time.Second {
		t.Errorf("doubled: Duration %v, first sleep %v", up.Duration, up.Steps[0].For)
	}
	// A plan without sleeps is returned unchanged.
	q, err := Parse("q.yaml", []byte(header+"  - verify:\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Scaled(time.Minute); !reflect.DeepEqual(got, q) || got == q {
		t.Errorf("Scaled of a 0-length plan: %+v", got)
	}
}

func TestClone(t *testing.T) {
	p, err := Parse("c.yaml", []byte(header+"  - kill: 1\n  - partition: [[1], [2, 3]]\n"))
	if err != nil {
		t.Fatal(err)
	}
	p.Cluster.Options["x"] = "y"
	c := p.Clone()
	if !reflect.DeepEqual(c, p) {
		t.Fatalf("clone differs")
	}
	c.Cluster.Options["x"] = "z"
	c.Workload.Mix[OpRead] = 9
	c.Steps[0].Node.Index = 2
	c.Steps[1].Groups[1][0] = 3
	c.Steps[0].Action = ActStop
	if p.Cluster.Options["x"] != "y" || p.Workload.Mix[OpRead] != 1 || p.Steps[0].Node.Index != 1 ||
		p.Steps[1].Groups[1][0] != 2 || p.Steps[0].Action != ActKill {
		t.Errorf("clone shares memory with the original: %+v", p)
	}
	var nilPlan *Plan
	if nilPlan.Clone() != nil {
		t.Errorf("nil.Clone() != nil")
	}
}

func FuzzParse(f *testing.F) {
	for _, in := range builtinNames() {
		text, err := builtinFS.ReadFile(in + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(text)
	}
	f.Add([]byte(minimal))
	f.Add([]byte(full))
	for _, tt := range badInputs {
		f.Add([]byte(tt.text))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		p, err := Parse("f.yaml", text)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			if se.Line < 0 || se.File != "f.yaml" {
				t.Fatalf("bad error position: %+v", se)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error is more than one line: %q", err.Error())
			}
			if p != nil {
				t.Fatalf("a plan and an error")
			}
			return
		}
		if p.Name == "" || len(p.Steps) == 0 || p.Cluster.Nodes < 1 || p.Duration < 0 || p.Workload.Rate <= 0 {
			t.Fatalf("invalid plan accepted: %+v", p)
		}
		for _, s := range p.Steps {
			if s.Line < 1 || s.Action == "" {
				t.Fatalf("bad step %+v", s)
			}
		}
		if c := p.Clone(); !reflect.DeepEqual(c, p) {
			t.Fatalf("Clone differs")
		}
		if s := p.Scaled(time.Second); p.Duration > 0 && s.Duration <= 0 {
			t.Fatalf("Scaled lost the timeline: %v", s.Duration)
		}
		if err := Validate(p, Target{Driver: "d", Provider: "p", Topology: drivers.Topology{Nodes: MaxNodes}}); err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Line < 1 {
				t.Fatalf("Validate error %v", err)
			}
		}
	})
}

func TestRateSteps(t *testing.T) {
	p, err := Parse("my.yaml", []byte(header+"  - sleep: 10s\n  - rate: 5000\n  - ramp: {to: 200, over: 30s}\n  - sleep: 5s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Steps[1]; s.Action != ActRate || s.Rate != 5000 {
		t.Errorf("rate step %+v", s)
	}
	if s := p.Steps[2]; s.Action != ActRamp || s.Rate != 200 || s.For != 30*time.Second {
		t.Errorf("ramp step %+v", s)
	}
	if p.Duration != 45*time.Second {
		t.Errorf("planned %v: a ramp lasts its span", p.Duration)
	}
	if sc := p.Scaled(90 * time.Second); sc.Steps[2].For != time.Minute || sc.Steps[2].Rate != 200 {
		t.Errorf("scaled ramp %+v", sc.Steps[2])
	}
	for _, tc := range []struct{ steps, want string }{
		{"  - rate: 0\n", "my.yaml:9: rate: must be > 0, got 0"},
		{"  - rate: fast\n", "my.yaml:9: rate:"},
		{"  - ramp: 500\n", `my.yaml:9: ramp: want {to: RATE, over: D}, got "500"`},
		{"  - ramp: {to: 500}\n", `my.yaml:9: ramp: missing required key "over"`},
		{"  - ramp: {to: 500, over: 10s, by: 2}\n", `my.yaml:9: unknown key "by" in ramp`},
	} {
		_, err := Parse("my.yaml", []byte(header+tc.steps))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.steps, err, tc.want)
		}
	}
}

// remove-node of the primary is refused at its line while it is known to
// be the primary: until a step promotes another node.
func TestValidateRemovePrimary(t *testing.T) {
	tg := Target{Driver: "mariadb", Provider: "docker", Topology: drivers.Topology{Nodes: 3, Primary: 1,
		Capabilities: []drivers.Capability{drivers.CapRemove, drivers.CapAddNode, drivers.CapKill, drivers.CapPromote},
		Roles:        []string{"primary", "replica"}}}
	refused := "remove-node: driver mariadb (provider docker) does not remove the primary; remove a replica (or promote one first)"
	for _, tc := range []struct{ steps, want string }{
		{"  - remove-node: 2\n", ""},
		{"  - remove-node: replica\n", ""},
		{"  - add-node:\n  - remove-node: 1\n", "my.yaml:10: " + refused},
		{"  - remove-node: primary\n", "my.yaml:9: " + refused},
		{"  - kill: 1\n  - promote: 2\n  - remove-node: 1\n", ""},
		{"  - kill: 1\n  - promote: 2\n  - remove-node: 2\n", "my.yaml:11: " + refused},
		{"  - kill: 1\n  - promote: replica\n  - remove-node: 1\n", ""}, // the primary is chosen at run time
	} {
		p, err := Parse("my.yaml", []byte(header+tc.steps))
		if err != nil {
			t.Fatal(err)
		}
		err = Validate(p, tg)
		if (tc.want == "" && err != nil) || (tc.want != "" && (err == nil || err.Error() != tc.want)) {
			t.Errorf("%q: %v, want %q", tc.steps, err, tc.want)
		}
	}
}

// remove-node takes a timeout as {node: N, timeout: D} or as the step's
// timeout key (issue 19: the parser never set one and the runner used its
// constant).
func TestRemoveNodeTimeout(t *testing.T) {
	p, err := Parse("my.yaml", []byte(header+"  - remove-node: 3\n  - remove-node: {node: 2, timeout: 5m}\n  - add-node:\n  - remove-node: last\n    timeout: 90s\n  - add-node:\n  - remove-node: {node: last}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		step    int
		node    NodeRef
		timeout time.Duration
	}{{0, NodeRef{Index: 3}, 0}, {1, NodeRef{Index: 2}, 5 * time.Minute}, {3, NodeRef{Role: "last"}, 90 * time.Second}, {5, NodeRef{Role: "last"}, 0}} {
		s := p.Steps[want.step]
		if s.Action != ActRemoveNode || s.Node == nil || *s.Node != want.node || s.Timeout != want.timeout {
			t.Errorf("case %d: step %d = %+v (node %v), want node %+v timeout %v", i, want.step, s, s.Node, want.node, want.timeout)
		}
	}
	for _, tc := range []struct{ steps, want string }{
		{"  - remove-node: {timeout: 1m}\n", `my.yaml:9: remove-node: missing required key "node"`},
		{"  - remove-node: {node: 2, timeout: soon}\n", `my.yaml:9: remove-node.timeout: invalid duration "soon"`},
		{"  - remove-node: {node: 0}\n", `my.yaml:9: remove-node.node: node indexes start at 1, got 0`},
		{"  - remove-node: {nodes: 2}\n", `my.yaml:9: unknown key "nodes" in remove-node`},
		{"  - remove-node: {node: 2, timeout: 1m}\n    timeout: 2m\n", `my.yaml:10: timeout: given twice`},
	} {
		_, err := Parse("my.yaml", []byte(header+tc.steps))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.steps, err, tc.want)
		}
	}
}

// backup: {method: M, timeout: D}: parsed into the step; a method the
// driver does not offer is refused by Validate at the step's line, with
// the methods it does.
func TestBackupMethod(t *testing.T) {
	p, err := Parse("my.yaml", []byte(header+"  - backup: {method: dump, timeout: 3m}\n  - backup:\n  - backup: {method: cold}\n    timeout: 1m\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []Step{{Method: "dump", Timeout: 3 * time.Minute}, {}, {Method: "cold", Timeout: time.Minute}} {
		if s := p.Steps[i]; s.Action != ActBackup || s.Method != want.Method || s.Timeout != want.Timeout {
			t.Errorf("step %d: %+v, want method %q timeout %v", i, s, want.Method, want.Timeout)
		}
	}
	for _, tc := range []struct{ steps, want string }{
		{"  - backup: dump\n", `my.yaml:9: backup: want nothing or {method: M, timeout: D}, got "dump"`},
		{"  - backup: {method: 3}\n", `my.yaml:9: backup.method: want a method name such as mariabackup, got "3"`},
		{"  - backup: {method: Dump!}\n", `my.yaml:9: backup.method: want a method name such as mariabackup, got "Dump!"`},
		{"  - backup: {methd: dump}\n", `my.yaml:9: unknown key "methd" in backup`},
		{"  - backup: {timeout: 1m}\n    timeout: 2m\n", `my.yaml:10: timeout: given twice`},
	} {
		_, err := Parse("my.yaml", []byte(header+tc.steps))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.steps, err, tc.want)
		}
	}
	caps := []drivers.Capability{drivers.CapBackup}
	methods := []string{"mariabackup", "dump", "cold"}
	for _, tc := range []struct {
		name    string
		methods []string
		step    string
		want    string // "" for valid
	}{
		{"offered", methods, "  - backup: {method: cold}\n", ""},
		{"default", methods, "  - backup:\n", ""},
		{"default, one way only", nil, "  - backup:\n", ""},
		{"not offered", methods, "  - sleep: 1s\n  - backup: {method: snapshot}\n",
			`my.yaml:10: backup: driver mariadb (provider docker) has no backup method "snapshot" (methods: mariabackup, dump, cold)`},
		{"misspelt", methods, "  - backup: {method: mariabakup}\n",
			`my.yaml:9: backup: driver mariadb (provider docker) has no backup method "mariabakup" (methods: mariabackup, dump, cold); did you mean "mariabackup"?`},
		{"one way only", nil, "  - backup: {method: dump}\n",
			`my.yaml:9: backup: driver mariadb (provider docker) takes backups one way only; remove method "dump"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("my.yaml", []byte(header+tc.step))
			if err != nil {
				t.Fatal(err)
			}
			err = Validate(p, Target{Driver: "mariadb", Provider: "docker",
				Topology: drivers.Topology{Nodes: 3, Capabilities: caps, BackupMethods: tc.methods}})
			var se *Error
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want || !errors.As(err, &se)):
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

// workload.history: absent or null gives the defaults, keys: 0 turns it
// off, a sample larger than the key space is clamped to it (whichever
// comes first in the mapping), the other fields keep their defaults.
func TestWorkloadHistory(t *testing.T) {
	def := History{Keys: history.DefaultKeys, MaxOps: history.DefaultMaxOps, Budget: linearize.DefaultBudget}
	tests := []struct {
		name, workload string
		want           History
	}{
		{"absent", "  keys: 1000\n", def},
		{"null", "  keys: 1000\n  history:\n", def},
		{"empty", "  keys: 1000\n  history: {}\n", def},
		{"off", "  keys: 1000\n  history: {keys: 0}\n", History{Keys: 0, MaxOps: history.DefaultMaxOps, Budget: linearize.DefaultBudget}},
		{"all set", "  keys: 1000\n  history: {keys: 128, max-ops: 20_000, budget: 1m}\n", History{Keys: 128, MaxOps: 20000, Budget: time.Minute}},
		{"clamped", "  keys: 20\n  history: {keys: 128}\n", History{Keys: 20, MaxOps: history.DefaultMaxOps, Budget: linearize.DefaultBudget}},
		{"clamped, history first", "  history: {keys: 128}\n  keys: 20\n", History{Keys: 20, MaxOps: history.DefaultMaxOps, Budget: linearize.DefaultBudget}},
		{"default clamped", "  keys: 7\n", History{Keys: 7, MaxOps: history.DefaultMaxOps, Budget: linearize.DefaultBudget}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := "name: h\ncluster:\n  nodes: 1\nworkload:\n  mix: {write: 1}\n  rate: 5\n" + tt.workload + "steps:\n  - sleep: 1s\n"
			p, err := Parse("h.yaml", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			if p.Workload.History != tt.want {
				t.Errorf("History = %+v, want %+v", p.Workload.History, tt.want)
			}
		})
	}
}
