package mem

import (
	"strings"
	"testing"
)

func TestConsistencyPromise(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       map[string]string
		detailHas  string
		detailLack string
	}{
		{"honest", nil, "reference store", "bug:"},
		{"lose-acked-writes", map[string]string{optBug: string(BugLoseAckedWrites), optBugRate: "0.1"}, "bug: lose-acked-writes (rate 0.1)", ""},
		{"stale-reads", map[string]string{optBug: string(BugStaleReads)}, "bug: stale-reads (lag 500ms)", ""},
		{"ack-before-replicate", map[string]string{optBug: string(BugAckBeforeReplicate), optBugLag: "2s"}, "bug: ack-before-replicate (lag 2s)", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := o.consistency()
			if got.Model != "linearizable" || !got.Linearizable || !got.Sessions {
				t.Errorf("consistency = %+v; want linearizable with sessions in every bug mode", got)
			}
			if !strings.Contains(got.Detail, tc.detailHas) {
				t.Errorf("detail %q lacks %q", got.Detail, tc.detailHas)
			}
			if tc.detailLack != "" && strings.Contains(got.Detail, tc.detailLack) {
				t.Errorf("detail %q has %q", got.Detail, tc.detailLack)
			}
		})
	}
}
