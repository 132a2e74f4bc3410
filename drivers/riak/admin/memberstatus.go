package admin

import (
	"regexp"
	"strings"
)

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
