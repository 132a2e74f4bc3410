package mariadb

import (
	"strings"
	"testing"
)

func TestConsistencyPromise(t *testing.T) {
	for _, tc := range []struct {
		name         string
		opts         map[string]string
		model        string
		linearizable bool
		detailHas    []string
	}{
		{"primary (default)", nil, "linearizable", true, []string{"read-from=primary"}},
		{"primary, semi-sync", map[string]string{OptSemiSync: "on"}, "linearizable", true, []string{"semi-sync=on", "does not change what reads see"}},
		{"replicas", map[string]string{OptReadFrom: "replicas"}, "eventual (asynchronous replicas)", false, []string{"read-from=replicas", "may be behind"}},
		{"any", map[string]string{OptReadFrom: "any"}, "eventual (asynchronous replicas)", false, []string{"read-from=any", "replicas included"}},
		{"replicas, semi-sync", map[string]string{OptReadFrom: "replicas", OptSemiSync: "on"}, "eventual (asynchronous replicas)", false, []string{"does not change what reads see"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := o.consistency()
			if got.Model != tc.model || got.Linearizable != tc.linearizable || got.Sessions != tc.linearizable {
				t.Errorf("consistency = %+v; want model %q, linearizable and sessions %t", got, tc.model, tc.linearizable)
			}
			for _, s := range tc.detailHas {
				if !strings.Contains(got.Detail, s) {
					t.Errorf("detail %q lacks %q", got.Detail, s)
				}
			}
		})
	}
}
