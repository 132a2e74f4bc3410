package etcd

import (
	"strings"
	"testing"
)

func TestConsistencyPromise(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts map[string]string
	}{
		{"defaults", nil},
		{"tuned timeouts", map[string]string{optHeartbeat: "50", optElection: "500", optSnapshotCount: "1000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := o.consistency()
			if got.Model != "linearizable" || !got.Linearizable || !got.Sessions {
				t.Errorf("consistency = %+v; want linearizable with sessions", got)
			}
			if !strings.Contains(got.Detail, "linearizable reads") {
				t.Errorf("detail %q does not say the reads are linearizable", got.Detail)
			}
		})
	}
}
