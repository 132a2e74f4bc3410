package admin

import (
	"regexp"
	"strconv"
	"strings"
)

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
