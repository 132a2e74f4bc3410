package drivers

import (
	"context"
	"strings"
	"testing"
)

type fakeDriver struct {
	name      string
	providers []string
}

func (f fakeDriver) Name() string        { return f.name }
func (f fakeDriver) Description() string { return "fake" }
func (f fakeDriver) Providers() []string { return f.providers }
func (f fakeDriver) Plan(string, int, map[string]string) (Topology, error) {
	return Topology{}, nil
}
func (f fakeDriver) StartCluster(context.Context, ClusterSpec) (Cluster, error) {
	return nil, ErrNotSupported
}

func TestRegistry(t *testing.T) {
	a := fakeDriver{"alpha", []string{ProviderEmbedded, ProviderDocker}}
	b := fakeDriver{"beta", []string{ProviderDocker}}
	if _, err := NewRegistry(a, a); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate registration: %v", err)
	}
	r, err := NewRegistry(b, a)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Names(), ","); got != "alpha,beta" {
		t.Errorf("Names = %s", got)
	}
	if _, err := r.Lookup("gamma"); err == nil || !strings.Contains(err.Error(), "known: alpha, beta") {
		t.Errorf("unknown driver error should list the known ones: %v", err)
	}
	for _, tc := range []struct {
		d      Driver
		asked  string
		want   string
		errHas string
	}{
		{a, "", ProviderEmbedded, ""},
		{a, ProviderDocker, ProviderDocker, ""},
		{b, "", ProviderDocker, ""},
		{b, ProviderEmbedded, "", `does not support provider "embedded"`},
	} {
		got, err := Provider(tc.d, tc.asked)
		if got != tc.want || (tc.errHas == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.errHas)) {
			t.Errorf("Provider(%s, %q) = %q, %v; want %q, %q", tc.d.Name(), tc.asked, got, err, tc.want, tc.errHas)
		}
	}
	if !Supports([]Capability{CapKill, CapStop}, CapStop) || Supports(nil, CapKill) {
		t.Error("Supports")
	}
}

// Clusters that implement different capability interfaces.
type (
	bareCluster    struct{ Cluster }
	pausingCluster struct{ Cluster }
	fullCluster    struct {
		Cluster
		NodeController
		Pauser
		Partitioner
		Membership
		Settler
		BackupRestorer
	}
)

func (pausingCluster) PauseNode(context.Context, int) error  { return nil }
func (pausingCluster) ResumeNode(context.Context, int) error { return nil }

func TestCapabilitiesOf(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster any
		want    string
	}{
		{"bare", bareCluster{}, ""},
		{"pauser only", pausingCluster{}, "pause resume"},
		{"a nil pointer of a full type", (*fullCluster)(nil), "kill stop start pause resume partition heal add-node remove-node wait-settled backup restore"},
	} {
		var got []string
		for _, c := range CapabilitiesOf(tc.cluster) {
			got = append(got, string(c))
		}
		if s := strings.Join(got, " "); s != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, s, tc.want)
		}
	}
}

func TestOptionError(t *testing.T) {
	if got := (&OptionError{Driver: "redis", Name: "replicas", Value: "9", Want: "want an integer from 0 to 5"}).Error(); got != `redis: option replicas="9": want an integer from 0 to 5` {
		t.Errorf("bad value: %s", got)
	}
	if got := (&OptionError{Driver: "redis", Name: "replica", Known: []string{"appendonly", "replicas"}}).Error(); got != `redis: unknown option "replica" (known: appendonly, replicas)` {
		t.Errorf("unknown: %s", got)
	}
}
