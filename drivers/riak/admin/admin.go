// Package admin holds pure parsers for the text that Riak's admin commands
// print (`riak admin <cmd>` on Riak 3.x, `riak-admin <cmd>` on Riak 2.x),
// one file per command. They take the command's combined output (and,
// where it matters, its exit code) and return typed results. They never
// panic; on output they do not recognise they return a *ParseError that
// quotes the first line they could not place.
//
// Formats follow riak_core_console / riak_kv_console (Riak 2.2 to 3.2):
//   - Riak 3.x prints the RPC result ("ok" or "error") as a last line; Riak 2.x
//     does not. Both are accepted.
//   - Riak 2.x prints member-status node names with ~p ('riak@10.0.0.1', quoted
//     when needed); Riak 3.x prints them bare and may add " (location)".
//   - Separator lines may be made of '=' or '-' of any length (>= 3).
//   - Erlang lists that ~p wrapped over several lines are joined back.
package admin

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Sentinel errors. Every error a parser returns is a *ParseError that wraps
// exactly one of these, so callers can branch with errors.Is.
var (
	// ErrUnrecognized: the output does not have the expected shape.
	ErrUnrecognized = errors.New("unrecognised riak admin output")
	// ErrNodeNotRunning: the admin script could not reach its local node
	// ("Node is not running!", "Node 'riak@x' not responding to pings.").
	ErrNodeNotRunning = errors.New("riak node is not running")
	// ErrRPC: the script reached the node but the RPC failed ("RPC to ... failed", {badrpc,...}).
	ErrRPC = errors.New("riak admin RPC failed")
	// ErrCrashed: the admin command's Erlang VM crashed ("init terminating in do_boot").
	ErrCrashed = errors.New("riak admin command crashed")
	// ErrUsage: the script printed its usage text: the command is unknown to
	// this Riak version (compare riak-admin 2.x and riak admin 3.x).
	ErrUsage = errors.New("riak admin printed its usage; command not supported by this Riak version?")
	// ErrCommandFailed: Riak ran the command and reported that it failed
	// ("Transfers failed, see log for details", "Ringready failed, ...").
	ErrCommandFailed = errors.New("riak admin command reported a failure")
	// ErrNotConverged: `cluster plan` refused because the cluster state has
	// not converged yet (ring not ready, pending resize). Retry later.
	ErrNotConverged = errors.New("cluster state has not converged; retry later")
	// ErrBackupUnsupported: `riak admin backup` cannot work on this Riak.
	ErrBackupUnsupported = errors.New("riak admin backup is unsupported: Riak 3.2's `riak admin backup` " +
		"calls riak_kv_backup:backup/3, which no longer exists (the command crashes with undef); " +
		"take a cold copy of the node's data directory instead (stop the node, copy, start)")
)

// ParseError describes output a parser could not accept.
type ParseError struct {
	Command string // the admin command, e.g. "member-status"
	Line    int    // 1-based line of the output the error is about; 0 if none
	Text    string // that line, as printed (may be long; Error() truncates it)
	Msg     string // full human-readable message (without the "riak <cmd>: " prefix)
	Err     error  // one of the sentinel errors above
}

func (e *ParseError) Error() string { return "riak " + e.Command + ": " + e.Msg }
func (e *ParseError) Unwrap() error { return e.Err }

const maxQuote = 80

// quote returns s as a Go string literal, cut to maxQuote runes.
func quote(s string) string {
	if r := []rune(s); len(r) > maxQuote {
		s = string(r[:maxQuote]) + "…"
	}
	return strconv.Quote(s)
}

type line struct {
	no   int    // 1-based line number in the output
	raw  string // the line without trailing white space
	text string // raw without leading white space
}

type input struct {
	cmd    string
	lines  []line
	pos    int
	result string // "ok" or "error" if Riak 3.x printed the RPC result as a last line
}

// bracketDepth counts unbalanced '[' in s, ignoring brackets inside quoted
// atoms or strings.
func bracketDepth(s string) int {
	depth := 0
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '\'' || c == '"':
			q = c
		case c == '[':
			depth++
		case c == ']':
			depth--
		}
	}
	return depth
}

// newInput splits out into lines, joins Erlang lists that ~p wrapped, drops
// blank lines at both ends and the trailing RPC result, and recognises the
// failures every admin command can print instead of its report.
func newInput(cmd, out string) (*input, error) {
	out = strings.ReplaceAll(out, "\r\n", "\n")
	out = strings.ReplaceAll(out, "\r", "\n")
	raw := strings.Split(out, "\n")
	in := &input{cmd: cmd}
	for i := 0; i < len(raw); i++ {
		s := strings.TrimRight(raw[i], " \t")
		no := i + 1
		if depth := bracketDepth(s); depth > 0 {
			var b strings.Builder
			b.WriteString(s)
			for depth > 0 && i+1 < len(raw) {
				i++
				c := strings.TrimSpace(raw[i])
				depth += bracketDepth(c)
				b.WriteString(c)
			}
			s = b.String()
		}
		in.lines = append(in.lines, line{no: no, raw: s, text: strings.TrimLeft(s, " \t")})
	}
	in.trimBlank()
	if len(in.lines) == 0 {
		return nil, &ParseError{Command: cmd, Msg: "empty output", Err: ErrUnrecognized}
	}
	if last := in.lines[len(in.lines)-1]; last.text == "ok" || last.text == "error" {
		in.result = last.text
		in.lines = in.lines[:len(in.lines)-1]
		in.trimBlank()
		if len(in.lines) == 0 {
			return nil, &ParseError{Command: cmd, Line: last.no, Text: last.raw, Err: ErrUnrecognized,
				Msg: fmt.Sprintf("output is only the RPC result %q, without the command's report", last.text)}
		}
	}
	if err := in.failure(in.lines[0]); err != nil {
		return nil, err
	}
	return in, nil
}

func (in *input) trimBlank() {
	for len(in.lines) > 0 && in.lines[0].text == "" {
		in.lines = in.lines[1:]
	}
	for len(in.lines) > 0 && in.lines[len(in.lines)-1].text == "" {
		in.lines = in.lines[:len(in.lines)-1]
	}
}

var (
	reNotResponding = regexp.MustCompile(`^Node '?[^\s']+'? not responding to pings\.?$`)
	reNotReachable  = regexp.MustCompile(`^Node '?[^\s']+'? is not reachable!?$`)
)

// failure recognises what the scripts print instead of a report when the
// node is down, the RPC fails, or the command's VM crashes.
func (in *input) failure(l line) error {
	t := l.text
	switch {
	case t == "Node is not running!" || reNotResponding.MatchString(t):
		return in.errAt(l, ErrNodeNotRunning, "the node is not running")
	case strings.HasPrefix(t, "RPC to ") || strings.HasPrefix(t, "{badrpc,") || strings.HasPrefix(t, "badrpc"):
		return in.errAt(l, ErrRPC, "the RPC to the node failed")
	case strings.Contains(t, "init terminating in do_boot") || strings.HasPrefix(t, "escript: exception") ||
		strings.HasPrefix(t, "Crash dump is being written"):
		return in.errAt(l, ErrCrashed, "the admin command crashed")
	case strings.HasPrefix(t, "Usage: "):
		return in.errAt(l, ErrUsage, "the script printed its usage (unknown command for this Riak version?)")
	}
	return nil
}

func (in *input) errAt(l line, sentinel error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &ParseError{Command: in.cmd, Line: l.no, Text: l.raw, Err: sentinel,
		Msg: fmt.Sprintf("%s at line %d: %s", msg, l.no, quote(l.text))}
}

// unexpected reports line l as the first one the parser could not place.
func (in *input) unexpected(l line, want string) error {
	return in.errAt(l, ErrUnrecognized, "unrecognised output (expected %s)", want)
}

// eof reports that the output stopped before something required.
func (in *input) eof(want string) error {
	last := in.lines[len(in.lines)-1]
	return &ParseError{Command: in.cmd, Line: last.no, Text: last.raw, Err: ErrUnrecognized,
		Msg: fmt.Sprintf("output ended early (expected %s) after line %d: %s", want, last.no, quote(last.text))}
}

func (in *input) next() (line, bool) {
	if in.pos >= len(in.lines) {
		return line{}, false
	}
	l := in.lines[in.pos]
	in.pos++
	return l, true
}

func (in *input) peek() (line, bool) {
	if in.pos >= len(in.lines) {
		return line{}, false
	}
	return in.lines[in.pos], true
}

func (in *input) skipBlank() {
	for in.pos < len(in.lines) && in.lines[in.pos].text == "" {
		in.pos++
	}
}

// nextNonBlank skips blank lines and returns the next line.
func (in *input) nextNonBlank() (line, bool) {
	in.skipBlank()
	return in.next()
}

// expectEnd fails if anything but blank lines remains.
func (in *input) expectEnd() error {
	in.skipBlank()
	if l, ok := in.next(); ok {
		return in.unexpected(l, "the end of the output")
	}
	return nil
}

// isRule reports whether s is a separator line of '-' or '=' (>= 3 chars).
func isRule(s string) bool {
	if len(s) < 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '-' && s[i] != '=' {
			return false
		}
	}
	return true
}

// isHashRule reports whether s is a separator line of '#' (>= 3 chars).
func isHashRule(s string) bool {
	return len(s) >= 3 && strings.Trim(s, "#") == ""
}

var reNodeName = regexp.MustCompile(`^[^\s'"\[\],@]+@[^\s'"\[\],@]+$`)

// parseNode accepts a node name, bare (riak@host) or as ~p prints it
// ('riak@10.0.0.1').
func parseNode(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		s = s[1 : len(s)-1]
	}
	if !reNodeName.MatchString(s) {
		return "", false
	}
	return s, true
}

var reAtom = regexp.MustCompile(`^[a-z][A-Za-z0-9_@]*$`)

// parseList parses an Erlang list of atoms as ~p prints it; elem validates
// and converts each element.
func parseList(s string, elem func(string) (string, bool)) ([]string, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, false
	}
	inner := strings.TrimSpace(s[1 : len(s)-1])
	out := []string{}
	if inner == "" {
		return out, true
	}
	for _, part := range strings.Split(inner, ",") {
		v, ok := elem(part)
		if !ok {
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

func parseNodeList(s string) ([]string, bool) { return parseList(s, parseNode) }

func parseAtom(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		s = s[1 : len(s)-1]
		if s == "" || strings.ContainsAny(s, "'\n") {
			return "", false
		}
		return s, true
	}
	if !reAtom.MatchString(s) {
		return "", false
	}
	return s, true
}

// parsePercent parses "32.8" (the number before '%') and checks 0..100.
func parsePercent(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 100 {
		return 0, false
	}
	return f, true
}

// atoiSmall parses a non-negative decimal of at most 9 digits.
func atoiSmall(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
