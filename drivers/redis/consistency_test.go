package redis

import (
	"strings"
	"testing"
)

func TestConsistencyPromise(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       map[string]string
		detailHas  []string
		detailLack []string
	}{
		{"defaults", nil, []string{"asynchronous", "lost", "master of each slot", "replicas=1"}, []string{"replicas=0"}},
		{"no replicas", map[string]string{OptReplicas: "0"}, []string{"replicas=0", "appendonly=no"}, nil},
		{"no replicas, AOF", map[string]string{OptReplicas: "0", OptAppendOnly: "yes"}, []string{"replicas=0"}, []string{"appendonly=no"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := o.consistency()
			if got.Model != "none" || got.Linearizable || got.Sessions {
				t.Errorf("consistency = %+v; want model none, nothing promised", got)
			}
			for _, s := range tc.detailHas {
				if !strings.Contains(got.Detail, s) {
					t.Errorf("detail %q lacks %q", got.Detail, s)
				}
			}
			for _, s := range tc.detailLack {
				if strings.Contains(got.Detail, s) {
					t.Errorf("detail %q has %q", got.Detail, s)
				}
			}
		})
	}
}
