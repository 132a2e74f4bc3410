package mariadb

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// gtid is one MariaDB global transaction ID, domain-server-sequence.
type gtid struct {
	domain, server uint32
	seq            uint64
}

func (g gtid) String() string { return fmt.Sprintf("%d-%d-%d", g.domain, g.server, g.seq) }

// parseGTIDs reads a GTID list ("0-1-120,1-3-7"; "" is empty), as
// gtid_binlog_pos, gtid_slave_pos and Gtid_IO_Pos print it: at most one
// GTID per domain.
func parseGTIDs(s string) ([]gtid, error) {
	var out []gtid
	for g := range strings.SplitSeq(s, ",") {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		f := strings.Split(g, "-")
		if len(f) != 3 {
			return nil, fmt.Errorf("bad GTID %q in position %q", g, s)
		}
		domain, err1 := strconv.ParseUint(f[0], 10, 32)
		server, err2 := strconv.ParseUint(f[1], 10, 32)
		seq, err3 := strconv.ParseUint(f[2], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("bad GTID %q in position %q: %w", g, s, err)
		}
		if slices.ContainsFunc(out, func(o gtid) bool { return o.domain == uint32(domain) }) {
			return nil, fmt.Errorf("domain %d twice in GTID position %q", domain, s)
		}
		out = append(out, gtid{domain: uint32(domain), server: uint32(server), seq: seq})
	}
	return out, nil
}

// gtidRange is a run of transactions one server logged in one domain:
// sequence numbers first..last.
type gtidRange struct {
	domain, server uint32
	first, last    uint64
}

// String writes "0-1-1235..1240", or "0-1-1235" for one transaction.
func (r gtidRange) String() string {
	s := gtid{r.domain, r.server, r.first}.String()
	if r.last != r.first {
		s += ".." + strconv.FormatUint(r.last, 10)
	}
	return s
}

// count is how many transactions r spans (sequence numbers of a domain
// are consecutive in a binary log under gtid_strict_mode).
func (r gtidRange) count() uint64 { return r.last - r.first + 1 }

// segment is a stretch of a domain's history written by one primary:
// sequence numbers first..last (last 0: still open).
type segment struct {
	server      uint32
	first, last uint64
}

func (s segment) holds(seq uint64) bool { return seq >= s.first && (s.last == 0 || seq <= s.last) }

// lineage is the cluster's history of primaries, per domain: which server
// logged which sequence numbers of the history every member must share.
// It is empty until the first promotion (until then the one primary wrote
// everything) and gains a fork at every promotion.
type lineage map[uint32][]segment

// fork records a promotion: the new primary, server, took over with
// gtid_binlog_pos at; what it logs from then on continues each domain.
// Whatever the old history held beyond at is no longer the cluster's.
func (l lineage) fork(at []gtid, server uint32) {
	for _, g := range at {
		segs := l[g.domain]
		if len(segs) == 0 {
			// before the first fork one server wrote the domain
			segs = []segment{{server: g.server, first: 1, last: g.seq}}
		} else {
			for len(segs) > 0 && segs[len(segs)-1].first > g.seq {
				segs = segs[:len(segs)-1]
			}
			if len(segs) > 0 {
				segs[len(segs)-1].last = g.seq
			}
		}
		l[g.domain] = append(segs, segment{server: server, first: g.seq + 1})
	}
}

// errant returns the transactions of a node at pos (its gtid_binlog_pos)
// that the history lacks: in each domain, those from the last point where
// the node's history and the cluster's agree up to the node's last GTID.
// A node that is only behind has none.
func (l lineage) errant(pos []gtid) []gtidRange {
	var out []gtidRange
	for _, g := range pos {
		segs := l[g.domain]
		i := slices.IndexFunc(segs, func(s segment) bool { return s.holds(g.seq) })
		if len(segs) == 0 || i >= 0 && segs[i].server == g.server {
			continue
		}
		first := uint64(1)
		for _, s := range segs {
			if s.server == g.server && s.last != 0 && s.last < g.seq {
				first = s.last + 1
			}
		}
		out = append(out, gtidRange{domain: g.domain, server: g.server, first: first, last: g.seq})
	}
	return out
}

// describeErrant says in a few words what ranges hold.
func describeErrant(rs []gtidRange) string {
	parts := make([]string, len(rs))
	var n uint64
	for i, r := range rs {
		parts[i] = r.String()
		n += r.count()
	}
	noun := "transactions"
	if n == 1 {
		noun = "transaction"
	}
	return fmt.Sprintf("%s (%d %s)", strings.Join(parts, ", "), n, noun)
}
