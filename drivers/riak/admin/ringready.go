package admin

import (
	"errors"
	"fmt"
	"regexp"
)

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
