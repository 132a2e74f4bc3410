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

func (f fakeDriver) Name() string                     { return f.name }
func (f fakeDriver) Description() string              { return "fake" }
func (f fakeDriver) Providers() []string              { return f.providers }
func (f fakeDriver) Capabilities(string) []Capability { return []Capability{CapKill} }
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
