// This file holds pure parsers for the text that Riak's admin commands print
// (`riak admin <cmd>` on Riak 3.x, `riak-admin <cmd>` on Riak 2.x). They take
// the command's combined output (and, where it matters, its exit code) and
// return typed results. They never panic; on output they do not recognise
// they return a *ParseError that quotes the first line they could not place.
//
// Formats follow riak_core_console / riak_kv_console (Riak 2.2 to 3.2):
//   - Riak 3.x prints the RPC result ("ok" or "error") as a last line; Riak 2.x
//     does not. Both are accepted.
//   - Riak 2.x prints member-status node names with ~p ('riak@10.0.0.1', quoted
//     when needed); Riak 3.x prints them bare and may add " (location)".
//   - Separator lines may be made of '=' or '-' of any length (>= 3).
//   - Erlang lists that ~p wrapped over several lines are joined back.
package riak

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

// ---------------------------------------------------------------------------
// Input handling shared by all parsers.

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

// ---------------------------------------------------------------------------
// member-status

// NodeStatus is a member's status as member-status prints it.
type NodeStatus string

// Member statuses.
const (
	StatusValid   NodeStatus = "valid"
	StatusLeaving NodeStatus = "leaving"
	StatusExiting NodeStatus = "exiting"
	StatusJoining NodeStatus = "joining"
	StatusDown    NodeStatus = "down"
)

// Member is one row of the membership table.
type Member struct {
	Node     string     // e.g. riak1@127.0.0.1
	Status   NodeStatus // valid, leaving, exiting, joining, down
	RingPct  float64    // share of the ring it owns now, in percent (one decimal)
	Pending  *float64   // share it will own after pending changes; nil when Riak prints "--"
	Location string     // Riak 3.x location, printed as "node (location)"; usually ""
}

// MemberStatus is the output of `member-status` (and each transition of a plan).
type MemberStatus struct {
	Members []Member // in the order Riak prints them (sorted by status, then node)
}

// HasPending reports whether the ring has pending ownership changes (Riak
// prints a pending percentage instead of "--").
func (s MemberStatus) HasPending() bool {
	for _, m := range s.Members {
		if m.Pending != nil {
			return true
		}
	}
	return false
}

// Settled reports whether there are no pending ownership changes and no
// member is joining, leaving or exiting. Down members do not unsettle it.
func (s MemberStatus) Settled() bool {
	if s.HasPending() {
		return false
	}
	for _, m := range s.Members {
		switch m.Status {
		case StatusJoining, StatusLeaving, StatusExiting:
			return false
		}
	}
	return true
}

// Count returns how many members have status st.
func (s MemberStatus) Count(st NodeStatus) int {
	n := 0
	for _, m := range s.Members {
		if m.Status == st {
			n++
		}
	}
	return n
}

// Member returns the row for node.
func (s MemberStatus) Member(node string) (Member, bool) {
	for _, m := range s.Members {
		if m.Node == node {
			return m, true
		}
	}
	return Member{}, false
}

var (
	reMembershipHeader = regexp.MustCompile(`^[=-]{3,}\s*Membership\s*[=-]{3,}$`)
	reMemberColumns    = regexp.MustCompile(`^Status\s+Ring\s+Pending\s+Node$`)
	reMemberRow        = regexp.MustCompile(`^([a-z]+)\s+(\d{1,3}(?:\.\d+)?)%\s+(--|(\d{1,3}(?:\.\d+)?)%)\s+('[^']+'|\S+)(?:\s+\((.*)\))?$`)
	reMemberSummary    = regexp.MustCompile(`^Valid:\s*(\d+)\s*/\s*Leaving:\s*(\d+)\s*/\s*Exiting:\s*(\d+)\s*/\s*Joining:\s*(\d+)\s*/\s*Down:\s*(\d+)$`)
)

// parseMemberRow parses one row of the membership table.
func parseMemberRow(s string) (Member, bool) {
	m := reMemberRow.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Member{}, false
	}
	var r Member
	switch st := NodeStatus(m[1]); st {
	case StatusValid, StatusLeaving, StatusExiting, StatusJoining, StatusDown:
		r.Status = st
	default:
		return Member{}, false
	}
	var ok bool
	if r.RingPct, ok = parsePercent(m[2]); !ok {
		return Member{}, false
	}
	if m[3] != "--" {
		p, ok := parsePercent(m[4])
		if !ok {
			return Member{}, false
		}
		r.Pending = &p
	}
	if r.Node, ok = parseNode(m[5]); !ok {
		return Member{}, false
	}
	r.Location = m[6]
	return r, true
}

// parseMembership reads a membership table (header to summary line).
func parseMembership(in *input) (MemberStatus, error) {
	var ms MemberStatus
	l, ok := in.nextNonBlank()
	if !ok {
		return ms, in.eof(`the "==== Membership ====" header`)
	}
	if !reMembershipHeader.MatchString(l.text) {
		return ms, in.unexpected(l, `the "==== Membership ====" header`)
	}
	if l, ok = in.next(); !ok {
		return ms, in.eof(`the column titles "Status Ring Pending Node"`)
	}
	if !reMemberColumns.MatchString(l.text) {
		return ms, in.unexpected(l, `the column titles "Status Ring Pending Node"`)
	}
	if l, ok = in.next(); !ok {
		return ms, in.eof("a separator line")
	}
	if !isRule(l.text) {
		return ms, in.unexpected(l, "a separator line")
	}
	seen := map[string]bool{}
	for {
		if l, ok = in.next(); !ok {
			return ms, in.eof("a member row or the closing separator line")
		}
		if isRule(l.text) {
			break
		}
		m, ok := parseMemberRow(l.text)
		if !ok {
			return ms, in.unexpected(l, "a member row: status, ring %, pending % or --, node")
		}
		if seen[m.Node] {
			return ms, in.errAt(l, ErrUnrecognized, "node %s is listed twice", m.Node)
		}
		seen[m.Node] = true
		ms.Members = append(ms.Members, m)
	}
	if len(ms.Members) == 0 {
		return ms, in.errAt(l, ErrUnrecognized, "the membership table has no rows")
	}
	if l, ok = in.next(); !ok {
		return ms, in.eof(`the summary "Valid:N / Leaving:N / Exiting:N / Joining:N / Down:N"`)
	}
	sm := reMemberSummary.FindStringSubmatch(l.text)
	if sm == nil {
		return ms, in.unexpected(l, `the summary "Valid:N / Leaving:N / Exiting:N / Joining:N / Down:N"`)
	}
	for i, st := range []NodeStatus{StatusValid, StatusLeaving, StatusExiting, StatusJoining, StatusDown} {
		if n, ok := atoiSmall(sm[i+1]); !ok || n != ms.Count(st) {
			return ms, in.errAt(l, ErrUnrecognized, "the summary disagrees with the table, which has %d %s", ms.Count(st), st)
		}
	}
	return ms, nil
}

// ParseMemberStatus parses the output of `riak admin member-status`.
func ParseMemberStatus(out string) (MemberStatus, error) {
	in, err := newInput("member-status", out)
	if err != nil {
		return MemberStatus{}, err
	}
	ms, err := parseMembership(in)
	if err != nil {
		return MemberStatus{}, err
	}
	if err := in.expectEnd(); err != nil {
		return MemberStatus{}, err
	}
	return ms, nil
}

// ---------------------------------------------------------------------------
// ring-status

// IndexHandoff is one partition in the "Ownership Handoff" section.
type IndexHandoff struct {
	Index       string   // partition index (a 160-bit decimal integer)
	Waiting     []string // vnode modules still to hand off, e.g. riak_kv_vnode
	Complete    []string // vnode modules that finished
	AllComplete bool     // "All transfers complete. Waiting for claimant to change ownership."
}

// OwnershipHandoff groups the partitions moving from Owner to NextOwner.
type OwnershipHandoff struct {
	Owner, NextOwner string
	OwnerDown        bool // "!!! <owner> is DOWN !!!" (then no per-index status is printed)
	NextOwnerDown    bool
	Indexes          []IndexHandoff
}

// RingStatus is the output of `riak admin ring-status`.
type RingStatus struct {
	Claimant   string // claimant node; "" when Riak prints undefined
	ClaimantUp bool   // "Status: up"
	// RingReady is the claimant's view ("Ring Ready: true"). When the
	// claimant is down Riak prints "unknown" and RingReady is false.
	RingReady   bool
	Handoffs    []OwnershipHandoff // empty when Riak prints "No pending changes."
	Unreachable []string           // nodes Riak cannot reach (killed, partitioned); not those marked down
	Warning     string             // the WARNING paragraph printed with unreachable nodes, joined to one line
}

var (
	reRingSection   = regexp.MustCompile(`^[=-]{3,}\s*(Claimant|Ownership Handoff|Unreachable Nodes)\s*[=-]{3,}$`)
	reClaimant      = regexp.MustCompile(`^Claimant:\s+(\S+)$`)
	reClaimStatus   = regexp.MustCompile(`^Status:\s+(up|down)$`)
	reRingReady     = regexp.MustCompile(`^Ring Ready:\s+(true|false|unknown)$`)
	reOwner         = regexp.MustCompile(`^Owner:\s+(\S+)$`)
	reNextOwner     = regexp.MustCompile(`^Next Owner:\s+(\S+)$`)
	reIsDown        = regexp.MustCompile(`^!!! (\S+) is DOWN !!!$`)
	reIndex         = regexp.MustCompile(`^Index:\s+(\d+)$`)
	reWaitingOn     = regexp.MustCompile(`^Waiting on:\s+(\[.*\])$`)
	reCompleteMods  = regexp.MustCompile(`^Complete:\s+(\[.*\])$`)
	reUnreachable   = regexp.MustCompile(`^The following nodes are unreachable:\s+(\[.*\])$`)
	msgAllComplete  = "All transfers complete. Waiting for claimant to change ownership."
	msgNoPending    = "No pending changes."
	msgAllReachable = "All nodes are up and reachable"
)

// ParseRingStatus parses the output of `riak admin ring-status`.
func ParseRingStatus(out string) (RingStatus, error) {
	in, err := newInput("ring-status", out)
	if err != nil {
		return RingStatus{}, err
	}
	var rs RingStatus
	section := func(name string) error {
		l, ok := in.nextNonBlank()
		if !ok {
			return in.eof(fmt.Sprintf("the %q section header", name))
		}
		if m := reRingSection.FindStringSubmatch(l.text); m == nil || m[1] != name {
			return in.unexpected(l, fmt.Sprintf("the %q section header", name))
		}
		return nil
	}

	// Claimant.
	if err := section("Claimant"); err != nil {
		return RingStatus{}, err
	}
	l, ok := in.next()
	if !ok {
		return RingStatus{}, in.eof(`"Claimant: <node>"`)
	}
	m := reClaimant.FindStringSubmatch(l.text)
	if m == nil {
		return RingStatus{}, in.unexpected(l, `"Claimant: <node>"`)
	}
	if m[1] != "undefined" {
		if rs.Claimant, ok = parseNode(m[1]); !ok {
			return RingStatus{}, in.unexpected(l, `"Claimant: <node>"`)
		}
	}
	if l, ok = in.next(); !ok {
		return RingStatus{}, in.eof(`"Status: up|down"`)
	}
	if m = reClaimStatus.FindStringSubmatch(l.text); m == nil {
		return RingStatus{}, in.unexpected(l, `"Status: up|down"`)
	}
	rs.ClaimantUp = m[1] == "up"
	if l, ok = in.next(); !ok {
		return RingStatus{}, in.eof(`"Ring Ready: true|false|unknown"`)
	}
	if m = reRingReady.FindStringSubmatch(l.text); m == nil {
		return RingStatus{}, in.unexpected(l, `"Ring Ready: true|false|unknown"`)
	}
	rs.RingReady = m[1] == "true"

	// Ownership Handoff.
	if err := section("Ownership Handoff"); err != nil {
		return RingStatus{}, err
	}
	if l, ok = in.nextNonBlank(); !ok {
		return RingStatus{}, in.eof(`"No pending changes." or "Owner: <node>"`)
	}
	if l.text != msgNoPending {
		in.pos--
		for {
			in.skipBlank()
			l, ok := in.peek()
			if !ok {
				return RingStatus{}, in.eof(`"Owner: <node>" or the "Unreachable Nodes" section`)
			}
			if reRingSection.MatchString(l.text) {
				break
			}
			h, err := parseOwnershipBlock(in)
			if err != nil {
				return RingStatus{}, err
			}
			rs.Handoffs = append(rs.Handoffs, h)
		}
		if len(rs.Handoffs) == 0 {
			l, _ := in.peek()
			return RingStatus{}, in.unexpected(l, `"No pending changes." or "Owner: <node>"`)
		}
	}

	// Unreachable Nodes.
	if err := section("Unreachable Nodes"); err != nil {
		return RingStatus{}, err
	}
	if l, ok = in.nextNonBlank(); !ok {
		return RingStatus{}, in.eof(`"All nodes are up and reachable" or "The following nodes are unreachable: [...]"`)
	}
	if l.text != msgAllReachable {
		m := reUnreachable.FindStringSubmatch(l.text)
		if m == nil {
			return RingStatus{}, in.unexpected(l, `"All nodes are up and reachable" or "The following nodes are unreachable: [...]"`)
		}
		nodes, ok := parseNodeList(m[1])
		if !ok || len(nodes) == 0 {
			return RingStatus{}, in.unexpected(l, "a non-empty list of node names")
		}
		rs.Unreachable = nodes
		// The WARNING paragraph runs to the end of the output.
		if l, ok = in.nextNonBlank(); ok {
			if !strings.HasPrefix(l.text, "WARNING:") {
				return RingStatus{}, in.unexpected(l, "the WARNING paragraph about unreachable nodes")
			}
			parts := []string{l.text}
			for {
				l, ok := in.next()
				if !ok || l.text == "" {
					break
				}
				parts = append(parts, l.text)
			}
			rs.Warning = strings.Join(parts, " ")
		}
	}
	if err := in.expectEnd(); err != nil {
		return RingStatus{}, err
	}
	return rs, nil
}

// parseOwnershipBlock reads "Owner:" ... up to and including the closing rule.
func parseOwnershipBlock(in *input) (OwnershipHandoff, error) {
	var h OwnershipHandoff
	l, _ := in.next()
	m := reOwner.FindStringSubmatch(l.text)
	if m == nil {
		return h, in.unexpected(l, `"Owner: <node>"`)
	}
	var ok bool
	if h.Owner, ok = parseNode(m[1]); !ok {
		return h, in.unexpected(l, `"Owner: <node>"`)
	}
	if l, ok = in.next(); !ok {
		return h, in.eof(`"Next Owner: <node>"`)
	}
	if m = reNextOwner.FindStringSubmatch(l.text); m == nil {
		return h, in.unexpected(l, `"Next Owner: <node>"`)
	}
	if h.NextOwner, ok = parseNode(m[1]); !ok {
		return h, in.unexpected(l, `"Next Owner: <node>"`)
	}
	const want = `"Index: N", "Waiting on: [...]", "Complete: [...]", "All transfers complete. ...", "!!! node is DOWN !!!" or a separator line`
	var cur *IndexHandoff
	// check validates the index just read: with both nodes up Riak prints
	// exactly one status per index; with one down it prints none.
	check := func(l line) error {
		if cur == nil {
			return nil
		}
		down := h.OwnerDown || h.NextOwnerDown
		hasStatus := cur.Waiting != nil || cur.AllComplete
		if down == hasStatus {
			if down {
				return in.unexpected(l, `no per-index status while a node is DOWN`)
			}
			return in.unexpected(l, `"Waiting on: [...]" or "All transfers complete. ..." for Index `+cur.Index)
		}
		return nil
	}
	for {
		l, ok = in.nextNonBlank()
		if !ok {
			return h, in.eof("a separator line closing the owner's block")
		}
		switch {
		case isRule(l.text):
			if cur == nil {
				return h, in.unexpected(l, `"Index: N"`)
			}
			return h, check(l)
		case reIsDown.MatchString(l.text):
			if cur != nil {
				return h, in.unexpected(l, want)
			}
			n, ok := parseNode(reIsDown.FindStringSubmatch(l.text)[1])
			switch {
			case ok && n == h.Owner && !h.OwnerDown:
				h.OwnerDown = true
			case ok && n == h.NextOwner && !h.NextOwnerDown:
				h.NextOwnerDown = true
			default:
				return h, in.unexpected(l, "the owner or next owner to be down")
			}
		case reIndex.MatchString(l.text):
			if err := check(l); err != nil {
				return h, err
			}
			h.Indexes = append(h.Indexes, IndexHandoff{Index: reIndex.FindStringSubmatch(l.text)[1]})
			cur = &h.Indexes[len(h.Indexes)-1]
		case cur != nil && cur.Waiting == nil && !cur.AllComplete && reWaitingOn.MatchString(l.text):
			mods, ok := parseList(reWaitingOn.FindStringSubmatch(l.text)[1], parseAtom)
			if !ok {
				return h, in.unexpected(l, "a list of vnode modules")
			}
			cur.Waiting = mods
		case cur != nil && cur.Waiting != nil && cur.Complete == nil && reCompleteMods.MatchString(l.text):
			mods, ok := parseList(reCompleteMods.FindStringSubmatch(l.text)[1], parseAtom)
			if !ok {
				return h, in.unexpected(l, "a list of vnode modules")
			}
			cur.Complete = mods
		case cur != nil && cur.Waiting == nil && !cur.AllComplete && l.text == msgAllComplete:
			cur.AllComplete = true
		default:
			return h, in.unexpected(l, want)
		}
	}
}

// ---------------------------------------------------------------------------
// transfers

// NodePartitions is a node with a partition count.
type NodePartitions struct {
	Node       string
	Partitions int
}

// Transfer is one entry of the "Active Transfers:" section.
type Transfer struct {
	Type            string // ownership, hinted, repair, resize; "" in the old (v1) format
	VnodeType       string // e.g. riak_kv_vnode
	Partition       string // partition index (the target partition for repair)
	SourcePartition string // repair only
	From, To        string // nodes; From is "" in the v1 format
	Started         string // as printed, e.g. "2024-05-01 10:00:00 [1.23 min ago]"
	LastUpdate      string // as printed, e.g. "no updates seen"
	TotalSize       string // as printed, e.g. "123456 bytes", "unknown"
	Objects         int64  // objects transferred; -1 when unknown
	ObjectsRate     string // e.g. "12 Objs/s", "unknown"
	BytesRate       string // e.g. "1.20 MB/s", "unknown"
	ProgressPct     int    // 0..100; -1 when Riak prints N/A (or in the v1 format)
}

// Transfers is the output of `riak admin transfers`.
type Transfers struct {
	// Waiting lists "<node> waiting to handoff N partitions": partitions a
	// node runs but does not own (not yet handed off, or fallbacks).
	Waiting []NodePartitions
	// Stopped lists "<node> does not have N primary partitions running".
	Stopped []NodePartitions
	// Down lists "Nodes [...] are currently down."
	Down []string
	// NoneActive: Riak printed "No transfers active".
	NoneActive bool
	// Active lists the "Active Transfers:" entries.
	Active []Transfer
	// Uncontacted lists "Node <node> could not be contacted".
	Uncontacted []string
}

// Idle reports whether nothing waits for handoff and nothing is being
// transferred: Riak printed "No transfers active" and no active entry.
// Down nodes do not make it false; check Down for that.
func (t Transfers) Idle() bool {
	return len(t.Waiting) == 0 && len(t.Stopped) == 0 && len(t.Active) == 0
}

// WaitingPartitions sums the partitions waiting to hand off over all nodes.
func (t Transfers) WaitingPartitions() int {
	n := 0
	for _, w := range t.Waiting {
		n += w.Partitions
	}
	return n
}

var (
	reWaitingHandoff = regexp.MustCompile(`^(\S+) waiting to handoff (\d+) partitions?$`)
	reStoppedParts   = regexp.MustCompile(`^(\S+) does not have (\d+) primary partitions? running$`)
	reNodesDown      = regexp.MustCompile(`^Nodes (\[.*\]) are currently down\.$`)
	reUncontacted    = regexp.MustCompile(`^Node (\S+) could not be contacted$`)
	reXferType       = regexp.MustCompile(`^transfer type: ([a-z_]+)$`)
	reVnodeType      = regexp.MustCompile(`^vnode type: (\S+)$`)
	rePartition      = regexp.MustCompile(`^partition: (\d+)$`)
	reSrcPartition   = regexp.MustCompile(`^source partition: (\d+)$`)
	reTgtPartition   = regexp.MustCompile(`^target partition: (\d+)$`)
	reTargetNode     = regexp.MustCompile(`^target node: (\S+)$`)
	reStarted        = regexp.MustCompile(`^started: (.+)$`)
	reLastUpdate     = regexp.MustCompile(`^last update: (.+)$`)
	reTotalSize      = regexp.MustCompile(`^total size: (.+)$`)
	reObjects        = regexp.MustCompile(`^objects transferred: (\d+|unknown)$`)
	reProgress       = regexp.MustCompile(`^\|=*\s*\|\s*(\d{1,3}|N/A)%$`)
)

const arrow = "=======>"

// ParseTransfers parses the output of `riak admin transfers`.
func ParseTransfers(out string) (Transfers, error) {
	in, err := newInput("transfers", out)
	if err != nil {
		return Transfers{}, err
	}
	var t Transfers
	const want = `"<node> waiting to handoff N partitions", "No transfers active" or "Active Transfers:"`
	var summary line
	for {
		l, ok := in.nextNonBlank()
		if !ok {
			return Transfers{}, in.eof(`"Active Transfers:"`)
		}
		if l.text == "Active Transfers:" {
			summary = l
			break
		}
		switch {
		case l.text == "No transfers active":
			if t.NoneActive {
				return Transfers{}, in.unexpected(l, want)
			}
			t.NoneActive = true
		case l.text == "Transfers failed, see log for details":
			return Transfers{}, in.errAt(l, ErrCommandFailed, "Riak could not list transfers")
		case reWaitingHandoff.MatchString(l.text), reStoppedParts.MatchString(l.text):
			m := reWaitingHandoff.FindStringSubmatch(l.text)
			list := &t.Waiting
			if m == nil {
				m = reStoppedParts.FindStringSubmatch(l.text)
				list = &t.Stopped
			}
			node, ok1 := parseNode(m[1])
			n, ok2 := atoiSmall(m[2])
			if !ok1 || !ok2 {
				return Transfers{}, in.unexpected(l, want)
			}
			*list = append(*list, NodePartitions{Node: node, Partitions: n})
		case reNodesDown.MatchString(l.text):
			nodes, ok := parseNodeList(reNodesDown.FindStringSubmatch(l.text)[1])
			if !ok || len(nodes) == 0 || t.Down != nil {
				return Transfers{}, in.unexpected(l, want)
			}
			t.Down = nodes
		default:
			return Transfers{}, in.unexpected(l, want)
		}
	}
	switch pending := len(t.Waiting) + len(t.Stopped); {
	case t.NoneActive && pending > 0:
		return Transfers{}, in.errAt(summary, ErrUnrecognized,
			`"No transfers active" contradicts the %d node(s) listed with partitions to hand off, before`, pending)
	case !t.NoneActive && pending == 0:
		return Transfers{}, in.unexpected(summary, `"No transfers active" or "<node> waiting to handoff N partitions" first`)
	}

	for {
		l, ok := in.nextNonBlank()
		if !ok {
			break
		}
		switch {
		case reUncontacted.MatchString(l.text):
			n, ok := parseNode(reUncontacted.FindStringSubmatch(l.text)[1])
			if !ok {
				return Transfers{}, in.unexpected(l, "a node name")
			}
			t.Uncontacted = append(t.Uncontacted, n)
		case t.Uncontacted == nil && (reXferType.MatchString(l.text) || reVnodeType.MatchString(l.text)):
			in.pos--
			x, err := parseTransfer(in)
			if err != nil {
				return Transfers{}, err
			}
			t.Active = append(t.Active, x)
		default:
			return Transfers{}, in.unexpected(l, `"transfer type: ...", "vnode type: ...", "Node <node> could not be contacted" or the end of the output`)
		}
	}
	return t, nil
}

// field reads the next line and matches it against re.
func (in *input) field(re *regexp.Regexp, want string) (string, error) {
	l, ok := in.next()
	if !ok {
		return "", in.eof(want)
	}
	m := re.FindStringSubmatch(l.text)
	if m == nil {
		return "", in.unexpected(l, want)
	}
	return m[1], nil
}

// parseTransfer reads one active transfer (v2 format, or v1 "vnode type /
// partition / target node").
func parseTransfer(in *input) (Transfer, error) {
	x := Transfer{Objects: -1, ProgressPct: -1}
	var err error
	l, _ := in.peek()
	if m := reXferType.FindStringSubmatch(l.text); m != nil {
		x.Type = m[1]
		in.pos++
	}
	if x.VnodeType, err = in.field(reVnodeType, `"vnode type: <module>"`); err != nil {
		return x, err
	}
	if x.Type == "" { // v1
		if x.Partition, err = in.field(rePartition, `"partition: N"`); err != nil {
			return x, err
		}
		l, _ := in.peek()
		to, err := in.field(reTargetNode, `"target node: <node>"`)
		if err != nil {
			return x, err
		}
		var ok bool
		if x.To, ok = parseNode(to); !ok {
			return x, in.unexpected(l, `"target node: <node>"`)
		}
		return x, nil
	}
	if x.Type == "repair" {
		if x.SourcePartition, err = in.field(reSrcPartition, `"source partition: N"`); err != nil {
			return x, err
		}
		if x.Partition, err = in.field(reTgtPartition, `"target partition: N"`); err != nil {
			return x, err
		}
	} else if x.Partition, err = in.field(rePartition, `"partition: N"`); err != nil {
		return x, err
	}
	if x.Started, err = in.field(reStarted, `"started: <time> [<age> ago]"`); err != nil {
		return x, err
	}
	if x.LastUpdate, err = in.field(reLastUpdate, `"last update: ..."`); err != nil {
		return x, err
	}
	if x.TotalSize, err = in.field(reTotalSize, `"total size: ..."`); err != nil {
		return x, err
	}
	objs, err := in.field(reObjects, `"objects transferred: N|unknown"`)
	if err != nil {
		return x, err
	}
	if objs != "unknown" {
		n, err := strconv.ParseInt(objs, 10, 64)
		if err != nil {
			l := in.lines[in.pos-1]
			return x, in.unexpected(l, `"objects transferred: N|unknown"`)
		}
		x.Objects = n
	}
	if err := parseArrowBox(in, &x); err != nil {
		return x, err
	}
	return x, nil
}

// parseArrowBox reads the box riak_core_console:print_arrowbox draws:
//
//	                          12 Objs/s
//	     riak1@127.0.0.1       =======>       riak3@127.0.0.1
//	[source name cont.]                   [target name cont.]   (0-2 lines, names > 25 chars)
//	          |=========                            |  20%
//	                          1.50 KB/s
func parseArrowBox(in *input, x *Transfer) error {
	l, ok := in.nextNonBlank()
	if !ok {
		return in.eof("the objects-per-second line of the transfer box")
	}
	if strings.Contains(l.text, arrow) || strings.HasPrefix(l.text, "|") {
		return in.unexpected(l, "the objects-per-second line of the transfer box")
	}
	x.ObjectsRate = l.text
	if l, ok = in.next(); !ok {
		return in.eof(`the "<from> =======> <to>" line`)
	}
	i := strings.Index(l.raw, arrow)
	if i < 0 {
		return in.unexpected(l, `the "<from> =======> <to>" line`)
	}
	arrowLine := l
	from, to := strings.TrimSpace(l.raw[:i]), strings.TrimSpace(l.raw[i+len(arrow):])
	for n := 0; ; n++ {
		if l, ok = in.next(); !ok {
			return in.eof(`the "|====   | N%" progress line`)
		}
		if strings.HasPrefix(l.text, "|") {
			break
		}
		if n == 2 || l.text == "" {
			return in.unexpected(l, `the "|====   | N%" progress line`)
		}
		// A continuation line: "~-25s ~10s ~-25s" of the names' next 25 characters.
		raw := l.raw
		src := raw[:min(len(raw), 25)]
		mid, tgt := "", ""
		if len(raw) > 25 {
			mid = raw[25:min(len(raw), 37)]
		}
		if len(raw) > 37 {
			tgt = raw[37:]
		}
		if strings.TrimSpace(mid) != "" {
			return in.unexpected(l, "a continuation of the node names")
		}
		from += strings.TrimSpace(src)
		to += strings.TrimSpace(tgt)
	}
	var ok1, ok2 bool
	x.From, ok1 = parseNode(from)
	x.To, ok2 = parseNode(to)
	if !ok1 || !ok2 {
		return in.unexpected(arrowLine, `"<from node> =======> <to node>"`)
	}
	m := reProgress.FindStringSubmatch(l.text)
	if m == nil {
		return in.unexpected(l, `the "|====   | N%" progress line`)
	}
	if m[1] != "N/A" {
		p, ok := atoiSmall(m[1])
		if !ok || p > 100 {
			return in.unexpected(l, "a progress of 0..100%")
		}
		x.ProgressPct = p
	}
	if l, ok = in.next(); !ok {
		return in.eof("the bytes-per-second line of the transfer box")
	}
	if l.text == "" || strings.Contains(l.text, arrow) || strings.HasPrefix(l.text, "|") {
		return in.unexpected(l, "the bytes-per-second line of the transfer box")
	}
	x.BytesRate = l.text
	return nil
}

// ---------------------------------------------------------------------------
// ringready

// RingReadiness is the output of `riak admin ringready`.
type RingReadiness struct {
	Ready bool
	// Detail is the message after TRUE/FALSE, e.g. "All nodes agree on the
	// ring [...]" or "['riak3@127.0.0.1'] down.  All nodes need to be up to check."
	Detail string
	Nodes  []string // TRUE: the nodes that agree
	Down   []string // FALSE: nodes that are down
	// Disagree holds the two nodes of "FALSE Node A and B list different partition owners".
	Disagree []string
}

var (
	reReadyTrue      = regexp.MustCompile(`^TRUE (All nodes agree on the ring (\[.*\]))$`)
	reReadyDown      = regexp.MustCompile(`^FALSE ((\[.*\]) down\.\s+All nodes need to be up to check\.)$`)
	reReadyDifferent = regexp.MustCompile(`^FALSE (Node (\S+) and (\S+) list different partition owners)$`)
)

// ParseRingReadiness is ParseRingReady with the node lists.
func ParseRingReadiness(out string, exitCode int) (RingReadiness, error) {
	in, err := newInput("ringready", out)
	if err != nil {
		if exitCode != 0 {
			var pe *ParseError
			if errors.As(err, &pe) {
				pe.Msg += fmt.Sprintf(" (exit code %d)", exitCode)
			}
		}
		return RingReadiness{}, err
	}
	l, _ := in.next()
	var r RingReadiness
	switch {
	case reReadyTrue.MatchString(l.text):
		m := reReadyTrue.FindStringSubmatch(l.text)
		nodes, ok := parseNodeList(m[2])
		if !ok || len(nodes) == 0 {
			return RingReadiness{}, in.unexpected(l, "a non-empty list of node names")
		}
		r = RingReadiness{Ready: true, Detail: m[1], Nodes: nodes}
		if exitCode != 0 || in.result == "error" {
			return RingReadiness{}, in.errAt(l, ErrUnrecognized, "TRUE contradicts exit code %d / RPC result %q", exitCode, in.result)
		}
	case reReadyDown.MatchString(l.text):
		m := reReadyDown.FindStringSubmatch(l.text)
		nodes, ok := parseNodeList(m[2])
		if !ok || len(nodes) == 0 {
			return RingReadiness{}, in.unexpected(l, "a non-empty list of node names")
		}
		r = RingReadiness{Detail: m[1], Down: nodes}
	case reReadyDifferent.MatchString(l.text):
		m := reReadyDifferent.FindStringSubmatch(l.text)
		a, ok1 := parseNode(m[2])
		b, ok2 := parseNode(m[3])
		if !ok1 || !ok2 {
			return RingReadiness{}, in.unexpected(l, "two node names")
		}
		r = RingReadiness{Detail: m[1], Disagree: []string{a, b}}
	case l.text == "Ringready failed, see log for details":
		return RingReadiness{}, in.errAt(l, ErrCommandFailed, "Riak could not check the ring")
	default:
		msg := `"TRUE All nodes agree on the ring [...]" or "FALSE ..."`
		if exitCode != 0 {
			msg += fmt.Sprintf("; exit code %d", exitCode)
		}
		return RingReadiness{}, in.unexpected(l, msg)
	}
	if !r.Ready && exitCode != 0 && exitCode != 1 {
		return RingReadiness{}, in.errAt(l, ErrUnrecognized, "FALSE with unexpected exit code %d", exitCode)
	}
	if err := in.expectEnd(); err != nil {
		return RingReadiness{}, err
	}
	return r, nil
}

// ---------------------------------------------------------------------------
// cluster plan / commit / join / leave

// Change is one staged change of a cluster plan.
type Change struct {
	Action  string // join, leave, force-remove, replace, force-replace, resize-ring, set-location
	Node    string // the node the change is about ("" for resize-ring)
	NewNode string // replace / force-replace: the replacement node
	Detail  string // the details column as printed (without the action)
}

// Move is "N transfers (or: reassigned) from A to B".
type Move struct {
	Count    int
	From, To string
}

// Transition is one "After cluster transition i/n" section of a plan.
type Transition struct {
	Number, Of           int
	Members              MemberStatus // the ring after this transition
	Warnings             []string     // e.g. "Not all replicas will be on distinct nodes"
	PartitionsReassigned int          // "Partitions reassigned from cluster changes: N" (force-remove/replace)
	Reassignments        []Move
	TransfersFromChanges int // "Transfers resulting from cluster changes: N"
	Transfers            []Move
	Resizing             bool // "Ring is resizing. see riak-admin ring-status ..."
}

// Plan is the output of `riak admin cluster plan`.
type Plan struct {
	// NothingStaged: Riak printed "There are no staged changes"; there is
	// nothing to commit.
	NothingStaged bool
	Changes       []Change
	// Warnings printed under the staged changes, e.g. "All of 'x' replicas will be lost".
	Warnings        []string
	TransitionCount int // from "NOTE: Applying these changes will result in N cluster transition(s)"
	Transitions     []Transition
}

var (
	reStagedHeader   = regexp.MustCompile(`^[=-]{3,}\s*Staged Changes\s*[=-]{3,}$`)
	reStagedColumns  = regexp.MustCompile(`^Action\s+Details\(s\)$`)
	reChangeNode     = regexp.MustCompile(`^(join|leave|force-remove)\s+(\S+)$`)
	reChangeReplace  = regexp.MustCompile(`^(replace|force-replace)\s+(\S+) with (\S+)$`)
	reChangeResize   = regexp.MustCompile(`^resize-ring\s+(\S.*)$`)
	reChangeLocation = regexp.MustCompile(`^set-location\s+(\S+) to (.*)$`)
	reWarning        = regexp.MustCompile(`^WARNING: (.+)$`)
	reNote           = regexp.MustCompile(`^NOTE: Applying these changes will result in (\d+) cluster transitions?$`)
	reTransition     = regexp.MustCompile(`^After cluster transition (\d+)/(\d+)$`)
	reReassignedHdr  = regexp.MustCompile(`^Partitions reassigned from cluster changes: (\d+)$`)
	reReassigned     = regexp.MustCompile(`^(\d+) reassigned from (\S+) to (\S+)$`)
	reTransfersHdr   = regexp.MustCompile(`^Transfers resulting from cluster changes: (\d+)$`)
	reTransfersMove  = regexp.MustCompile(`^(\d+) transfers? from (\S+) to (\S+)$`)
	reResizing       = regexp.MustCompile(`^Ring is resizing\. see riak[- ]admin ring-status for transfer details\.$`)
)

// ParseClusterPlan parses the output of `riak admin cluster plan`. A plan
// refused because the cluster has not converged returns ErrNotConverged.
func ParseClusterPlan(out string) (Plan, error) {
	in, err := newInput("cluster plan", out)
	if err != nil {
		return Plan{}, err
	}
	l, _ := in.next()
	switch {
	case l.text == "There are no staged changes":
		if err := in.expectEnd(); err != nil {
			return Plan{}, err
		}
		return Plan{NothingStaged: true}, nil
	case l.text == "Cannot plan until cluster state has converged.",
		l.text == "Unable to claim some partitions in resized ring.":
		return Plan{}, in.errAt(l, ErrNotConverged, "Riak refused to plan before the cluster converges")
	case l.text == "The cluster is running in legacy mode and does not support plan/commit.":
		return Plan{}, in.errAt(l, ErrCommandFailed, "Riak refused to plan")
	case !reStagedHeader.MatchString(l.text):
		return Plan{}, in.unexpected(l, `the "==== Staged Changes ====" header or "There are no staged changes"`)
	}
	var p Plan
	var ok bool
	if l, ok = in.next(); !ok {
		return Plan{}, in.eof(`the column titles "Action Details(s)"`)
	}
	if !reStagedColumns.MatchString(l.text) {
		return Plan{}, in.unexpected(l, `the column titles "Action Details(s)"`)
	}
	if l, ok = in.next(); !ok {
		return Plan{}, in.eof("a separator line")
	}
	if !isRule(l.text) {
		return Plan{}, in.unexpected(l, "a separator line")
	}
	for {
		if l, ok = in.next(); !ok {
			return Plan{}, in.eof("a staged change or the closing separator line")
		}
		if isRule(l.text) {
			break
		}
		c, ok := parseChange(l.text)
		if !ok {
			return Plan{}, in.unexpected(l, "a staged change: join|leave|force-remove <node>, replace|force-replace <node> with <node>, resize-ring ..., set-location ...")
		}
		p.Changes = append(p.Changes, c)
	}
	if len(p.Changes) == 0 {
		return Plan{}, in.errAt(l, ErrUnrecognized, "the staged changes table is empty")
	}
	sawNote := false
	for {
		l, ok = in.nextNonBlank()
		if !ok {
			break
		}
		if isHashRule(l.text) {
			in.pos--
			break
		}
		switch m, n := reWarning.FindStringSubmatch(l.text), reNote.FindStringSubmatch(l.text); {
		case m != nil:
			p.Warnings = append(p.Warnings, m[1])
		case n != nil && !sawNote:
			sawNote = true
			if p.TransitionCount, ok = atoiSmall(n[1]); !ok {
				return Plan{}, in.unexpected(l, "a transition count")
			}
		default:
			return Plan{}, in.unexpected(l, `"NOTE: Applying these changes will result in N cluster transition(s)", a WARNING or the first transition`)
		}
	}
	if !sawNote {
		return Plan{}, in.eof(`"NOTE: Applying these changes will result in N cluster transition(s)"`)
	}
	for {
		l, ok = in.nextNonBlank()
		if !ok {
			break
		}
		if !isHashRule(l.text) {
			return Plan{}, in.unexpected(l, `a "####" line opening "After cluster transition i/n"`)
		}
		tr, err := parseTransition(in)
		if err != nil {
			return Plan{}, err
		}
		if tr.Number != len(p.Transitions)+1 || tr.Of != p.TransitionCount {
			return Plan{}, in.errAt(l, ErrUnrecognized, "transition %d/%d out of sequence (expected %d/%d)",
				tr.Number, tr.Of, len(p.Transitions)+1, p.TransitionCount)
		}
		p.Transitions = append(p.Transitions, tr)
	}
	if len(p.Transitions) != p.TransitionCount {
		return Plan{}, in.eof(fmt.Sprintf("%d cluster transitions as the NOTE announced, got %d", p.TransitionCount, len(p.Transitions)))
	}
	return p, nil
}

func parseChange(s string) (Change, bool) {
	if m := reChangeNode.FindStringSubmatch(s); m != nil {
		n, ok := parseNode(m[2])
		return Change{Action: m[1], Node: n, Detail: m[2]}, ok
	}
	if m := reChangeReplace.FindStringSubmatch(s); m != nil {
		a, ok1 := parseNode(m[2])
		b, ok2 := parseNode(m[3])
		return Change{Action: m[1], Node: a, NewNode: b, Detail: m[2] + " with " + m[3]}, ok1 && ok2
	}
	if m := reChangeResize.FindStringSubmatch(s); m != nil {
		return Change{Action: "resize-ring", Detail: m[1]}, true
	}
	if m := reChangeLocation.FindStringSubmatch(s); m != nil {
		n, ok := parseNode(m[1])
		return Change{Action: "set-location", Node: n, Detail: m[1] + " to " + m[2]}, ok
	}
	return Change{}, false
}

// parseTransition reads a transition after its opening "####" line.
func parseTransition(in *input) (Transition, error) {
	var tr Transition
	l, ok := in.next()
	if !ok {
		return tr, in.eof(`"After cluster transition i/n"`)
	}
	m := reTransition.FindStringSubmatch(l.text)
	if m == nil {
		return tr, in.unexpected(l, `"After cluster transition i/n"`)
	}
	tr.Number, _ = atoiSmall(m[1])
	tr.Of, _ = atoiSmall(m[2])
	if l, ok = in.next(); !ok {
		return tr, in.eof(`a "####" line`)
	}
	if !isHashRule(l.text) {
		return tr, in.unexpected(l, `a "####" line`)
	}
	var err error
	if tr.Members, err = parseMembership(in); err != nil {
		return tr, err
	}
	moves := func(re *regexp.Regexp, total int, want string) ([]Move, error) {
		var ms []Move
		sum := 0
		for sum < total {
			l, ok := in.next()
			if !ok {
				return nil, in.eof(want)
			}
			m := re.FindStringSubmatch(l.text)
			if m == nil {
				return nil, in.unexpected(l, want)
			}
			n, ok1 := atoiSmall(m[1])
			from, ok2 := parseNode(m[2])
			to, ok3 := parseNode(m[3])
			if !ok1 || !ok2 || !ok3 || n == 0 {
				return nil, in.unexpected(l, want)
			}
			sum += n
			ms = append(ms, Move{Count: n, From: from, To: to})
		}
		if sum != total {
			return nil, in.errAt(in.lines[in.pos-1], ErrUnrecognized, "moves add up to %d, not the announced %d", sum, total)
		}
		return ms, nil
	}
	sawReassigned, sawTransfers := false, false
	for {
		l, ok = in.nextNonBlank()
		if !ok {
			return tr, nil
		}
		if isHashRule(l.text) {
			in.pos--
			return tr, nil
		}
		switch {
		case reWarning.MatchString(l.text):
			tr.Warnings = append(tr.Warnings, reWarning.FindStringSubmatch(l.text)[1])
		case !sawReassigned && reReassignedHdr.MatchString(l.text):
			sawReassigned = true
			tr.PartitionsReassigned, ok = atoiSmall(reReassignedHdr.FindStringSubmatch(l.text)[1])
			if !ok {
				return tr, in.unexpected(l, "a partition count")
			}
			if tr.Reassignments, err = moves(reReassigned, tr.PartitionsReassigned, `"N reassigned from <node> to <node>"`); err != nil {
				return tr, err
			}
		case !sawTransfers && reTransfersHdr.MatchString(l.text):
			sawTransfers = true
			tr.TransfersFromChanges, ok = atoiSmall(reTransfersHdr.FindStringSubmatch(l.text)[1])
			if !ok {
				return tr, in.unexpected(l, "a transfer count")
			}
			if tr.Transfers, err = moves(reTransfersMove, tr.TransfersFromChanges, `"N transfers from <node> to <node>"`); err != nil {
				return tr, err
			}
		case !tr.Resizing && reResizing.MatchString(l.text):
			tr.Resizing = true
		default:
			return tr, in.unexpected(l, `a WARNING, "Partitions reassigned from cluster changes: N", "Transfers resulting from cluster changes: N" or the next transition`)
		}
	}
}

// CommitResult is the output of `riak admin cluster commit`.
type CommitResult struct {
	Committed bool
	// Reason is why Riak refused, named after riak_core_claimant's error:
	// nothing_planned, ring_not_ready, plan_changed, legacy,
	// invalid_resize_claim, unknown; "" when committed.
	Reason  string
	Message string // what Riak printed (lines joined with "\n")
}

var commitMessages = []struct {
	reason string
	lines  []*regexp.Regexp
}{
	{"", []*regexp.Regexp{regexp.MustCompile(`^Cluster changes committed$`)}},
	{"nothing_planned", []*regexp.Regexp{regexp.MustCompile(`^You must verify the plan with 'riak[- ]admin cluster plan' before committing$`)}},
	{"ring_not_ready", []*regexp.Regexp{
		regexp.MustCompile(`^Cannot commit until cluster state has converged\.$`),
		regexp.MustCompile(`^Check 'Ring Ready' in 'riak[- ]admin ring[_-]status'$`)}},
	{"plan_changed", []*regexp.Regexp{regexp.MustCompile(`^The plan has changed\. Verify with 'riak[- ]admin cluster plan' before committing$`)}},
	{"legacy", []*regexp.Regexp{regexp.MustCompile(`^The cluster is running in legacy mode and does not support plan/commit\.$`)}},
	{"invalid_resize_claim", []*regexp.Regexp{
		regexp.MustCompile(`^Unable to commit staged ring changes\.$`),
		regexp.MustCompile(`^Check that there are no pending changes in 'riak[- ]admin ring[_-]status'$`),
		regexp.MustCompile(`^If there are, try again once they are completed,?$`),
		regexp.MustCompile(`^Otherwise try again shortly\.$`)}},
	{"unknown", []*regexp.Regexp{
		regexp.MustCompile(`^Unable to commit cluster changes\. Plan may have changed, please verify the$`),
		regexp.MustCompile(`^plan and try to commit again$`)}},
}

// ParseClusterCommit parses the output of `riak admin cluster commit`. A
// refusal Riak explains is a result (Committed false), not an error.
func ParseClusterCommit(out string) (CommitResult, error) {
	in, err := newInput("cluster commit", out)
	if err != nil {
		return CommitResult{}, err
	}
	first, _ := in.peek()
	for _, cm := range commitMessages {
		if !cm.lines[0].MatchString(first.text) {
			continue
		}
		var msg []string
		for i, re := range cm.lines {
			l, ok := in.next()
			if !ok {
				// Only the first line is required; the rest is advice.
				if i == 0 {
					return CommitResult{}, in.eof("a commit message")
				}
				break
			}
			if !re.MatchString(l.text) {
				return CommitResult{}, in.unexpected(l, "the rest of the commit message")
			}
			msg = append(msg, l.text)
		}
		if err := in.expectEnd(); err != nil {
			return CommitResult{}, err
		}
		return CommitResult{Committed: cm.reason == "", Reason: cm.reason, Message: strings.Join(msg, "\n")}, nil
	}
	return CommitResult{}, in.unexpected(first, `"Cluster changes committed" or one of Riak's refusals`)
}

// StageResult is the output of `riak admin cluster join|leave|force-remove|replace|force-replace`.
type StageResult struct {
	Staged  bool
	Action  string // join, leave, remove, replace, force-replace; "" if not recognisable
	Node    string // the node the request is for
	Target  string // join: the node joined to; replace: the replacement node
	Message string // what Riak printed (lines joined with "\n")
}

var (
	reStagedReq     = regexp.MustCompile(`^Success: staged (join|leave|remove) request for (\S+)(?: to (\S+))?$`)
	reStagedReplace = regexp.MustCompile(`^Success: staged (replacement|forced replacement) of (\S+) with (\S+)$`)
	reAlreadyLeave  = regexp.MustCompile(`^(\S+) is already in the process of leaving the cluster\.$`)
	reStageFailed   = regexp.MustCompile(`^(Failed: .+|(Join|Leave|Remove|Node replacement|Forced node replacement) failed, see log for details|Join failed\. Try again in a few moments\.)$`)
)

// ParseClusterStage parses the output of the commands that stage a cluster
// change. A refusal Riak explains is a result (Staged false), not an error.
func ParseClusterStage(out string) (StageResult, error) {
	in, err := newInput("cluster stage", out)
	if err != nil {
		return StageResult{}, err
	}
	l, _ := in.next()
	r := StageResult{Message: l.text}
	switch {
	case reStagedReq.MatchString(l.text):
		m := reStagedReq.FindStringSubmatch(l.text)
		r.Staged, r.Action = true, m[1]
		ok2 := true
		node, ok1 := parseNode(m[2])
		r.Node = node
		if m[3] != "" {
			r.Target, ok2 = parseNode(m[3])
		}
		if !ok1 || !ok2 || (m[1] == "join") != (m[3] != "") {
			return StageResult{}, in.unexpected(l, "node names")
		}
	case reStagedReplace.MatchString(l.text):
		m := reStagedReplace.FindStringSubmatch(l.text)
		r.Staged, r.Action = true, "replace"
		if m[1] == "forced replacement" {
			r.Action = "force-replace"
		}
		var ok1, ok2 bool
		r.Node, ok1 = parseNode(m[2])
		r.Target, ok2 = parseNode(m[3])
		if !ok1 || !ok2 {
			return StageResult{}, in.unexpected(l, "node names")
		}
	case reAlreadyLeave.MatchString(l.text):
		n, ok := parseNode(reAlreadyLeave.FindStringSubmatch(l.text)[1])
		if !ok {
			return StageResult{}, in.unexpected(l, "a node name")
		}
		r.Staged, r.Action, r.Node = true, "leave", n
	case reNotReachable.MatchString(l.text), reStageFailed.MatchString(l.text):
		// Failures may explain themselves over several lines.
		msg := []string{l.text}
		for {
			l, ok := in.next()
			if !ok {
				break
			}
			msg = append(msg, l.text)
		}
		r.Message = strings.TrimSpace(strings.Join(msg, "\n"))
		return r, nil
	default:
		return StageResult{}, in.unexpected(l, `"Success: staged ...", "Failed: ..." or another answer to a staged cluster change`)
	}
	if err := in.expectEnd(); err != nil {
		return StageResult{}, err
	}
	return r, nil
}

// ---------------------------------------------------------------------------
// backup

var reBackupDone = regexp.MustCompile(`^Backup of \S+ complete$`)

// ---------------------------------------------------------------------------
// poll logs
