package scenarios

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/evalrun/evalrun/drivers"
)

//go:embed *.yaml
var builtinFS embed.FS

// Info describes a built-in scenario.
type Info struct {
	Name        string
	Description string
}

// Builtins lists the built-in scenarios, sorted by name.
func Builtins() []Info {
	var out []Info
	for _, name := range builtinNames() {
		info := Info{Name: name}
		if p, err := loadBuiltin(name); err == nil {
			info.Description = p.Description
		} else {
			info.Description = "(invalid: " + err.Error() + ")"
		}
		out = append(out, info)
	}
	return out
}

func builtinNames() []string {
	entries, _ := fs.ReadDir(builtinFS, ".")
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

func loadBuiltin(name string) (*Plan, error) {
	text, err := builtinFS.ReadFile(name + ".yaml")
	if err != nil {
		return nil, err
	}
	return Parse("builtin:"+name, text)
}

// isPath reports whether Load treats s as a file path rather than a
// built-in name.
func isPath(s string) bool {
	return strings.ContainsAny(s, `/\`) || strings.HasSuffix(s, ".yaml") || strings.HasSuffix(s, ".yml")
}

// Load returns the built-in scenario called nameOrPath, or parses the
// file at nameOrPath when it looks like a path (contains a "/" or ends in
// .yaml or .yml). Parse errors are *Error.
func Load(nameOrPath string) (*Plan, error) {
	if nameOrPath == "" {
		return nil, fmt.Errorf("no scenario given; built-ins: %s", strings.Join(builtinNames(), ", "))
	}
	if isPath(nameOrPath) {
		return loadFile(nameOrPath)
	}
	names := builtinNames()
	for _, n := range names {
		if n == nameOrPath {
			return loadBuiltin(n)
		}
	}
	hint := ""
	if s := suggest(nameOrPath, names); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	}
	return nil, fmt.Errorf("unknown scenario %q%s; built-ins: %s; to load a file, give a path such as ./%s.yaml",
		nameOrPath, hint, strings.Join(names, ", "), nameOrPath)
}

func loadFile(p string) (*Plan, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, &Error{File: p, Msg: readErr(p, err)}
	}
	defer f.Close()
	text, err := io.ReadAll(io.LimitReader(f, maxTextSize+1))
	if err != nil {
		return nil, &Error{File: p, Msg: readErr(p, err)}
	}
	return Parse(p, text)
}

func readErr(p string, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	msg := "cannot read scenario: " + err.Error()
	if errors.Is(err, fs.ErrNotExist) {
		base := strings.TrimSuffix(strings.TrimSuffix(path.Base(strings.ReplaceAll(p, `\`, "/")), ".yaml"), ".yml")
		for _, n := range builtinNames() {
			if n == base {
				msg += fmt.Sprintf(" (the built-in is called %q, without .yaml)", n)
			}
		}
	}
	return msg
}

// Check asks the driver what the scenario's cluster will be (its options
// checked, its size, roles and capabilities) and validates the plan
// against it. Every error is an *Error with the scenario's file and line.
func Check(p *Plan, d drivers.Driver, provider string) (drivers.Topology, error) {
	if p == nil {
		return drivers.Topology{}, &Error{Msg: "no scenario to validate"}
	}
	top, err := d.Plan(provider, p.Cluster.Nodes, p.Cluster.Options)
	if err != nil {
		line := p.Cluster.Line
		var oe *drivers.OptionError
		if errors.As(err, &oe) {
			if l, ok := p.Cluster.OptionLines[oe.Name]; ok {
				line = l
			}
			return top, &Error{File: errFile(p.Source), Line: line, Msg: "cluster.options: " + err.Error()}
		}
		return top, &Error{File: errFile(p.Source), Line: line, Msg: "cluster: " + err.Error()}
	}
	return top, Validate(p, Target{Driver: d.Name(), Provider: provider, Topology: top})
}

// Target is what a plan is validated against: a driver on a provider and
// the cluster it would start.
type Target struct {
	Driver   string
	Provider string
	Topology drivers.Topology
}

// Validate checks p against what the target can do: every step's action
// needs a capability the cluster has, every index names a node the
// cluster has at that step, every role is one the driver declares. It
// returns an *Error naming the first step that fails, or nil.
func Validate(p *Plan, t Target) error {
	if p == nil {
		return &Error{Msg: "no scenario to validate"}
	}
	who := "driver " + t.Driver
	if t.Provider != "" {
		who += " (provider " + t.Provider + ")"
	}
	errAt := func(s Step, format string, args ...any) error {
		return &Error{File: errFile(p.Source), Line: s.Line, Msg: fmt.Sprintf(format, args...)}
	}
	if err := checkResources(p, t, who); err != nil {
		return err
	}
	highest := t.Topology.Nodes
	primary := t.Topology.Primary // 0 once a step promoted a replica chosen at run time
	for _, s := range p.Steps {
		a, ok := ActionOf(s.Action)
		if s.Action == ActRemoveNode && t.Topology.Primary != 0 && s.Node != nil &&
			(s.Node.Role == drivers.RolePrimary || s.Node.Role == "" && s.Node.Index == primary) {
			return errAt(s, "%s: %s does not remove the primary; remove a replica (or promote one first)", s.Action, who)
		}
		if ok && a.Needs != "" && !drivers.Supports(t.Topology.Capabilities, a.Needs) {
			return errAt(s, "step %q: %s cannot %s; pick another driver or remove the step", s.Action, who, a.Cannot)
		}
		if ref := s.Node; ref != nil {
			if ref.Role == "" && ref.Index > highest {
				return errAt(s, "%s: node %d out of range (the cluster has %d nodes at this point)", s.Action, ref.Index, highest)
			}
			if ref.Role != "" && !contains(runnerRoles, ref.Role) && !contains(t.Topology.Roles, ref.Role) {
				known := append(append([]string{}, t.Topology.Roles...), runnerRoles...)
				msg := fmt.Sprintf("%s: %s has no node role %q (roles: %s)", s.Action, who, ref.Role, strings.Join(known, ", "))
				if sg := suggest(ref.Role, known); sg != "" {
					msg += fmt.Sprintf("; did you mean %q?", sg)
				}
				return errAt(s, "%s", msg)
			}
		}
		if s.Method != "" && !contains(t.Topology.BackupMethods, s.Method) {
			if len(t.Topology.BackupMethods) == 0 {
				return errAt(s, "backup: %s takes backups one way only; remove method %q", who, s.Method)
			}
			msg := fmt.Sprintf("backup: %s has no backup method %q (methods: %s)", who, s.Method, strings.Join(t.Topology.BackupMethods, ", "))
			if sg := suggest(s.Method, t.Topology.BackupMethods); sg != "" {
				msg += fmt.Sprintf("; did you mean %q?", sg)
			}
			return errAt(s, "%s", msg)
		}
		if a.Promotes && s.Node != nil {
			switch ref := *s.Node; {
			case ref.Role == drivers.RolePrimary:
				return errAt(s, "%s: the primary is not a replica; name a replica (an index, or replica for the most advanced one)", s.Action)
			case ref.Role == "" && ref.Index == primary:
				return errAt(s, "%s: node %d is the primary at this point, not a replica; name a replica (an index, or replica for the most advanced one)", s.Action, ref.Index)
			}
			primary = s.Node.Index
		}
		for _, g := range s.Groups {
			for _, i := range g {
				if i > highest {
					return errAt(s, "partition: node %d out of range (the cluster has %d nodes at this point)", i, highest)
				}
			}
		}
		if a.Members > 0 {
			highest += a.Members
		}
	}
	return nil
}
