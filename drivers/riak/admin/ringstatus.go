package admin

import (
	"fmt"
	"regexp"
	"strings"
)

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

// ParseRingStatus parses the output of `riak admin ring-status`: three
// sections, each read by its own function.
func ParseRingStatus(out string) (RingStatus, error) {
	in, err := newInput("ring-status", out)
	if err != nil {
		return RingStatus{}, err
	}
	var rs RingStatus
	for _, sec := range []struct {
		name  string
		parse func(*input, *RingStatus) error
	}{
		{"Claimant", parseClaimantSection},
		{"Ownership Handoff", parseHandoffSection},
		{"Unreachable Nodes", parseUnreachableSection},
	} {
		if err := ringSection(in, sec.name); err != nil {
			return RingStatus{}, err
		}
		if err := sec.parse(in, &rs); err != nil {
			return RingStatus{}, err
		}
	}
	if err := in.expectEnd(); err != nil {
		return RingStatus{}, err
	}
	return rs, nil
}

// ringSection reads the header line of the section name.
func ringSection(in *input, name string) error {
	l, ok := in.nextNonBlank()
	if !ok {
		return in.eof(fmt.Sprintf("the %q section header", name))
	}
	if m := reRingSection.FindStringSubmatch(l.text); m == nil || m[1] != name {
		return in.unexpected(l, fmt.Sprintf("the %q section header", name))
	}
	return nil
}

// parseClaimantSection reads the claimant, its status and whether the ring is ready.
func parseClaimantSection(in *input, rs *RingStatus) error {
	l, ok := in.next()
	if !ok {
		return in.eof(`"Claimant: <node>"`)
	}
	m := reClaimant.FindStringSubmatch(l.text)
	if m == nil {
		return in.unexpected(l, `"Claimant: <node>"`)
	}
	if m[1] != "undefined" {
		if rs.Claimant, ok = parseNode(m[1]); !ok {
			return in.unexpected(l, `"Claimant: <node>"`)
		}
	}
	if l, ok = in.next(); !ok {
		return in.eof(`"Status: up|down"`)
	}
	if m = reClaimStatus.FindStringSubmatch(l.text); m == nil {
		return in.unexpected(l, `"Status: up|down"`)
	}
	rs.ClaimantUp = m[1] == "up"
	if l, ok = in.next(); !ok {
		return in.eof(`"Ring Ready: true|false|unknown"`)
	}
	if m = reRingReady.FindStringSubmatch(l.text); m == nil {
		return in.unexpected(l, `"Ring Ready: true|false|unknown"`)
	}
	rs.RingReady = m[1] == "true"
	return nil
}

// parseHandoffSection reads "No pending changes." or one block per pending
// ownership handoff.
func parseHandoffSection(in *input, rs *RingStatus) error {
	l, ok := in.nextNonBlank()
	if !ok {
		return in.eof(`"No pending changes." or "Owner: <node>"`)
	}
	if l.text == msgNoPending {
		return nil
	}
	in.pos--
	for {
		in.skipBlank()
		l, ok := in.peek()
		if !ok {
			return in.eof(`"Owner: <node>" or the "Unreachable Nodes" section`)
		}
		if reRingSection.MatchString(l.text) {
			break
		}
		h, err := parseOwnershipBlock(in)
		if err != nil {
			return err
		}
		rs.Handoffs = append(rs.Handoffs, h)
	}
	if len(rs.Handoffs) == 0 {
		l, _ := in.peek()
		return in.unexpected(l, `"No pending changes." or "Owner: <node>"`)
	}
	return nil
}

// parseUnreachableSection reads "All nodes are up and reachable" or the list
// of unreachable nodes and the WARNING paragraph that runs to the end.
func parseUnreachableSection(in *input, rs *RingStatus) error {
	l, ok := in.nextNonBlank()
	if !ok {
		return in.eof(`"All nodes are up and reachable" or "The following nodes are unreachable: [...]"`)
	}
	if l.text == msgAllReachable {
		return nil
	}
	m := reUnreachable.FindStringSubmatch(l.text)
	if m == nil {
		return in.unexpected(l, `"All nodes are up and reachable" or "The following nodes are unreachable: [...]"`)
	}
	nodes, ok := parseNodeList(m[1])
	if !ok || len(nodes) == 0 {
		return in.unexpected(l, "a non-empty list of node names")
	}
	rs.Unreachable = nodes
	if l, ok = in.nextNonBlank(); !ok {
		return nil
	}
	if !strings.HasPrefix(l.text, "WARNING:") {
		return in.unexpected(l, "the WARNING paragraph about unreachable nodes")
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
	return nil
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
