package scenarios

import "testing"

func TestPlanOpenEnded(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"baseline", false},
		{"node-loss", true}, // wait-settled
		{"rebalance", true},
		{"backup-restore", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Load(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.OpenEnded(); got != tc.want {
				t.Errorf("OpenEnded() = %v, want %v", got, tc.want)
			}
		})
	}
}
