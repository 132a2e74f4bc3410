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

// capability is what each action needs from a driver; actions not listed
// (sleep, verify, phase) need nothing.
var capability = map[string]drivers.Capability{
	ActKill:       drivers.CapKill,
	ActStop:       drivers.CapStop,
	ActStart:      drivers.CapStart,
	ActPause:      drivers.CapPause,
	ActResume:     drivers.CapResume,
	ActAddNode:    drivers.CapAddNode,
	ActRemoveNode: drivers.CapRemove,
	ActSettled:    drivers.CapSettled,
	ActBackup:     drivers.CapBackup,
	ActRestore:    drivers.CapRestore,
	ActPartition:  drivers.CapPartition,
	ActHeal:       drivers.CapHeal,
}

// cannot says what a driver lacking the action's capability cannot do.
var cannot = map[string]string{
	ActKill:       "kill nodes",
	ActStop:       "stop nodes",
	ActStart:      "start nodes",
	ActPause:      "pause",
	ActResume:     "resume paused nodes",
	ActAddNode:    "add nodes",
	ActRemoveNode: "remove nodes",
	ActSettled:    "tell when the cluster has settled",
	ActBackup:     "take backups",
	ActRestore:    "restore backups",
	ActPartition:  "partition the network",
	ActHeal:       "heal partitions",
}

// Validate checks p against what a driver can do with a provider: it
// returns an *Error naming the first step whose action needs a capability
// not in caps, or nil.
func Validate(p *Plan, driver string, provider string, caps []drivers.Capability) error {
	if p == nil {
		return &Error{Msg: "no scenario to validate"}
	}
	who := "driver " + driver
	if provider != "" {
		who += " (provider " + provider + ")"
	}
	for _, s := range p.Steps {
		c, ok := capability[s.Action]
		if !ok || drivers.Supports(caps, c) {
			continue
		}
		return &Error{File: errFile(p.Source), Line: s.Line,
			Msg: fmt.Sprintf("step %q: %s cannot %s; pick another driver or remove the step", s.Action, who, cannot[s.Action])}
	}
	return nil
}
