package mariadb

import (
	"fmt"
	"testing"
)

func mustGTIDs(t *testing.T, s string) []gtid {
	t.Helper()
	gs, err := parseGTIDs(s)
	if err != nil {
		t.Fatal(err)
	}
	return gs
}

func TestParseGTIDs(t *testing.T) {
	gs := mustGTIDs(t, "0-1-1240, 1-3-7")
	if fmt.Sprint(gs) != "[0-1-1240 1-3-7]" {
		t.Errorf("parsed %v", gs)
	}
	if gs := mustGTIDs(t, ""); len(gs) != 0 {
		t.Errorf("empty position parsed as %v", gs)
	}
}

// Errant transactions: what a node logged that the cluster's history,
// forked at each promotion, lacks.
func TestLineageErrant(t *testing.T) {
	type fork struct {
		at     string // the new primary's gtid_binlog_pos
		server uint32
	}
	for _, tt := range []struct {
		name  string
		forks []fork
		node  string // the node's gtid_binlog_pos
		want  string // errant ranges, "" for none
	}{
		{"no promotion yet: nothing to judge", nil, "0-1-1240", ""},
		{"old primary ahead of the promoted replica", []fork{{"0-1-1234", 2}}, "0-1-1240", "0-1-1235..1240 (6 transactions)"},
		{"old primary one ahead", []fork{{"0-1-1234", 2}}, "0-1-1235", "0-1-1235 (1 transaction)"},
		{"old primary exactly where the replica took over", []fork{{"0-1-1234", 2}}, "0-1-1234", ""},
		{"a replica behind the fork", []fork{{"0-1-1234", 2}}, "0-1-1200", ""},
		{"a replica that already follows the new primary", []fork{{"0-1-1234", 2}}, "0-2-1300", ""},
		{"a replica ahead of a lagging promoted one", []fork{{"0-1-1234", 2}}, "0-1-1236", "0-1-1235..1236 (2 transactions)"},
		{"a primary of two failovers ago", []fork{{"0-1-100", 2}, {"0-2-150", 3}}, "0-1-120", "0-1-101..120 (20 transactions)"},
		{"second primary ahead after the third took over", []fork{{"0-1-100", 2}, {"0-2-150", 3}}, "0-2-155", "0-2-151..155 (5 transactions)"},
		{"the second primary's history is the cluster's", []fork{{"0-1-100", 2}, {"0-2-150", 3}}, "0-2-140", ""},
		{"promoted back to a node that lagged: history cut", []fork{{"0-1-100", 2}, {"0-2-150", 3}, {"0-3-160", 1}}, "0-3-158", ""},
		{"several domains", []fork{{"0-1-50,1-1-9", 2}}, "0-1-52,1-1-9", "0-1-51..52 (2 transactions)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := lineage{}
			for _, f := range tt.forks {
				l.fork(mustGTIDs(t, f.at), f.server)
			}
			errant := l.errant(mustGTIDs(t, tt.node))
			got := ""
			if len(errant) > 0 {
				got = describeErrant(errant)
			}
			if got != tt.want {
				t.Errorf("errant %q, want %q (history %v)", got, tt.want, l)
			}
		})
	}
}
