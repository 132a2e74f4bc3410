package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The strict YAML reader under the scenario grammar: decoding one
// document, with every error at its line; mappings whose keys are plain,
// known and unique (with a suggestion for a typo); and the scalar readers
// (string, integer, number, boolean, duration) that say what they got.

type parser struct {
	file string
}

// errf makes an *Error at n's line (0 when n is nil).
func (ps *parser) errf(n *yaml.Node, format string, args ...any) *Error {
	line := 0
	if n != nil && n.Line > 0 {
		line = n.Line
	}
	return &Error{File: ps.file, Line: line, Msg: oneLine(fmt.Sprintf(format, args...))}
}

func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(s)), " ")
}

// checkText rejects what the YAML reader would reject without a line
// number: text that is not UTF-8, and control characters.
func (ps *parser) checkText(text []byte) *Error {
	line := 1
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRune(text[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return &Error{File: ps.file, Line: line, Msg: fmt.Sprintf("invalid UTF-8 (byte 0x%02x); a scenario is UTF-8 text", text[i])}
		case r == '\n':
			line++
		case r == '\t', r == '\r', r == 0x85, r == 0xFEFF && i == 0:
		case r < 0x20, r >= 0x7F && r < 0xA0, r >= 0xD800 && r < 0xE000, r == 0xFFFE, r == 0xFFFF, r == 0xFEFF:
			return &Error{File: ps.file, Line: line, Msg: fmt.Sprintf("control character %U not allowed", r)}
		}
		i += size
	}
	return nil
}

var (
	yamlLineRE   = regexp.MustCompile(`line (\d+): `)
	yamlAnchorRE = regexp.MustCompile(`unknown anchor '([^']*)' referenced`)
)

// parserProblems are the messages of yaml.v3's parser errors.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"found undefined tag handle":             true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// yamlErr turns a yaml.v3 error into an *Error, with the line it names.
func (ps *parser) yamlErr(err error, text []byte) *Error {
	msg := oneLine(err.Error())
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatchIndex(msg); m != nil {
		if n, err := strconv.Atoi(msg[m[2]:m[3]]); err == nil && n > 0 {
			line = n
		}
		msg = msg[:m[0]] + msg[m[1]:]
		if parserProblems[msg] {
			// yaml.v3 counts lines from 0 in parser (not scanner) errors.
			line++
		}
	} else if m := yamlAnchorRE.FindStringSubmatch(msg); m != nil {
		if i := bytes.Index(text, []byte("*"+m[1])); i >= 0 {
			line = 1 + bytes.Count(text[:i], []byte("\n"))
		}
	} else {
		// yaml.v3 leaves the line out when the error is on the first
		// line (it counts from 0 and takes 0 as unknown).
		line = 1
	}
	return &Error{File: ps.file, Line: line, Msg: "invalid YAML: " + msg}
}

// decode returns the top-level node of the single document in text.
func (ps *parser) decode(text []byte) (root *yaml.Node, e *Error) {
	defer func() {
		// yaml.v3 turns its own failures into errors; anything else is a
		// bug there, still reported as a scenario error rather than a crash.
		if r := recover(); r != nil {
			root, e = nil, &Error{File: ps.file, Msg: oneLine(fmt.Sprintf("invalid YAML: %v", r))}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(text))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ps.empty()
		}
		return nil, ps.yamlErr(err, text)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, ps.yamlErr(err, text)
	default:
		return nil, ps.errf(&extra, "a second YAML document (after ---); a scenario file holds exactly one")
	}
	n := &doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil, ps.empty()
		}
		n = n.Content[0]
	}
	n = deref(n)
	if n == nil || isNull(n) {
		return nil, ps.empty()
	}
	if n.Kind != yaml.MappingNode {
		return nil, ps.errf(n, "a scenario is a mapping with name, cluster, workload and steps, got %s", describe(n))
	}
	return n, nil
}

func (ps *parser) empty() *Error {
	return &Error{File: ps.file, Msg: "empty scenario: want a mapping with name, cluster, workload and steps"}
}

// deref follows aliases. The result keeps the alias's position, so errors
// point where the alias is used.
func deref(n *yaml.Node) *yaml.Node {
	if n == nil || n.Kind != yaml.AliasNode {
		return n
	}
	t := n
	for i := 0; t != nil && t.Kind == yaml.AliasNode; i++ {
		if i == 8 {
			return nil
		}
		t = t.Alias
	}
	if t == nil {
		return nil
	}
	c := *t
	c.Line, c.Column = n.Line, n.Column
	return &c
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a value for "got ..." in messages.
func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return strconv.Quote(v)
	}
	return "an unexpected value"
}

// field is one key/value of a mapping.
type field struct {
	name     string
	key, val *yaml.Node
}

// fields returns the entries of mapping n (already dereferenced), checking
// that keys are plain strings, known (when allowed is not nil) and unique.
// where names the mapping in messages ("in step").
func (ps *parser) fields(n *yaml.Node, where string, allowed []string) ([]field, *Error) {
	if n.Kind != yaml.MappingNode {
		return nil, ps.errf(n, "%s: must be a mapping, got %s", strings.TrimPrefix(where, "in "), describe(n))
	}
	if len(n.Content)%2 != 0 {
		return nil, ps.errf(n, "malformed mapping %s", where)
	}
	out := make([]field, 0, len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k == nil || v == nil {
			return nil, ps.errf(n.Content[i], "alias nested too deeply %s", where)
		}
		if k.Kind != yaml.ScalarNode || isNull(k) {
			return nil, ps.errf(k, "keys %s must be plain strings, got %s", where, describe(k))
		}
		name := k.Value
		if name == "<<" {
			return nil, ps.errf(k, "merge keys (<<) are not supported %s", where)
		}
		if allowed != nil && !contains(allowed, name) {
			if s := suggest(name, allowed); s != "" {
				return nil, ps.errf(k, "unknown key %q %s (did you mean %q?)", name, where, s)
			}
			return nil, ps.errf(k, "unknown key %q %s (valid keys: %s)", name, where, strings.Join(allowed, ", "))
		}
		if first, dup := seen[name]; dup {
			return nil, ps.errf(k, "duplicate key %q %s (first at line %d)", name, where, first)
		}
		seen[name] = k.Line
		out = append(out, field{name: name, key: k, val: v})
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns the entry of list closest to s, when close enough to be
// a likely typo.
func suggest(s string, list []string) string {
	if len(s) > 64 {
		return ""
	}
	best, bestD := "", 3
	for _, c := range list {
		d := editDistance(strings.ToLower(s), c)
		if d < bestD && d < len(s) {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Scalar readers. what names the value in messages ("workload.keys").

func (ps *parser) str(n *yaml.Node, what string) (string, *Error) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return "", ps.errf(n, "%s: must be a string, got %s", what, describe(n))
	}
	return n.Value, nil
}

func (ps *parser) integer(n *yaml.Node, what string, lo, hi int64) (int64, *Error) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return 0, ps.errf(n, "%s: must be an integer, got %s", what, describe(n))
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, ps.errf(n, "%s: integer %s out of range %d..%d", what, describe(n), lo, hi)
	}
	if err != nil {
		return 0, ps.errf(n, "%s: must be an integer, got %s", what, describe(n))
	}
	if v < lo || v > hi {
		if lo == 1 && v < 1 {
			return 0, ps.errf(n, "%s: must be >= 1, got %d", what, v)
		}
		return 0, ps.errf(n, "%s: must be in %d..%d, got %d", what, lo, hi, v)
	}
	return v, nil
}

func (ps *parser) number(n *yaml.Node, what string) (float64, *Error) {
	if n.Kind != yaml.ScalarNode {
		return 0, ps.errf(n, "%s: must be a number, got %s", what, describe(n))
	}
	switch n.ShortTag() {
	case "!!int":
		v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil {
			return 0, ps.errf(n, "%s: number %s out of range", what, describe(n))
		}
		return float64(v), nil
	case "!!float":
		v, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, ps.errf(n, "%s: must be a finite number, got %s", what, describe(n))
		}
		return v, nil
	}
	return 0, ps.errf(n, "%s: must be a number, got %s", what, describe(n))
}

func (ps *parser) boolean(n *yaml.Node, what string) (bool, *Error) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, nil
		}
	}
	return false, ps.errf(n, "%s: must be true or false, got %s", what, describe(n))
}

// duration reads a Go duration, > 0 and at most maxDuration.
func (ps *parser) duration(n *yaml.Node, what string) (time.Duration, *Error) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return 0, ps.errf(n, "%s: must be a duration such as 500ms, 5s or 2m, got %s", what, describe(n))
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		reason := ""
		msg := err.Error()
		switch {
		case strings.Contains(msg, "missing unit"):
			reason = ": missing unit"
		case strings.Contains(msg, "unknown unit"):
			reason = ": unknown unit"
		}
		return 0, ps.errf(n, "%s: invalid duration %s%s (want e.g. 500ms, 5s, 2m)", what, describe(n), reason)
	}
	if d <= 0 {
		return 0, ps.errf(n, "%s: must be > 0, got %s", what, describe(n))
	}
	if d > maxDuration {
		return 0, ps.errf(n, "%s: at most %s, got %s", what, maxDuration, describe(n))
	}
	return d, nil
}
