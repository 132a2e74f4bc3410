package riak

import (
	"strings"
	"testing"
)

func TestConsistencyPromise(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      map[string]string
		detailHas []string
	}{
		{"defaults: quorums, last write wins", nil, []string{"last write wins", "n_val=3, r=quorum, w=quorum", "sloppy"}},
		{"siblings", map[string]string{OptAllowMult: "true"}, []string{"siblings", "sloppy"}},
		{"r=1 w=1", map[string]string{OptR: "one", OptW: "one"}, []string{"need not overlap"}},
		{"primary quorums", map[string]string{OptPR: "quorum", OptPW: "quorum"}, []string{"pr+pw > n_val", "timestamp"}},
		{"counts", map[string]string{OptNVal: "5", OptR: "3", OptW: "3"}, []string{"n_val=5, r=3, w=3", "sloppy"}},
		{"default quorum", map[string]string{OptR: "default", OptW: "default"}, []string{"need not overlap"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := o.consistency()
			if got.Model != "eventual" || got.Linearizable || got.Sessions {
				t.Errorf("consistency = %+v; want eventual, nothing else promised", got)
			}
			for _, s := range tc.detailHas {
				if !strings.Contains(got.Detail, s) {
					t.Errorf("detail %q lacks %q", got.Detail, s)
				}
			}
		})
	}
}
