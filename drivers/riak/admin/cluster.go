package admin

import (
	"fmt"
	"regexp"
	"strings"
)

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
