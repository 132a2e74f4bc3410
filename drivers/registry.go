package drivers

import (
	"fmt"
	"sort"
	"strings"
)

// Registry maps driver names to drivers. The command builds one and
// registers the drivers it links; there is no package-level registry.
type Registry struct {
	byName map[string]Driver
}

// NewRegistry returns a registry holding ds. A duplicate name is a
// programming error and is reported, not panicked on.
func NewRegistry(ds ...Driver) (*Registry, error) {
	r := &Registry{byName: map[string]Driver{}}
	for _, d := range ds {
		if err := r.Register(d); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Register adds d.
func (r *Registry) Register(d Driver) error {
	if _, dup := r.byName[d.Name()]; dup {
		return fmt.Errorf("driver %q registered twice", d.Name())
	}
	r.byName[d.Name()] = d
	return nil
}

// Lookup returns the driver called name, or an error listing the known ones.
func (r *Registry) Lookup(name string) (Driver, error) {
	if d, ok := r.byName[name]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("unknown driver %q (known: %s)", name, strings.Join(r.Names(), ", "))
}

// Names lists the registered drivers, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Provider resolves the provider to use: asked if not empty, else the
// driver's default. It fails when the driver does not support it.
func Provider(d Driver, asked string) (string, error) {
	ps := d.Providers()
	if asked == "" {
		if len(ps) == 0 {
			return "", fmt.Errorf("driver %q names no provider", d.Name())
		}
		return ps[0], nil
	}
	for _, p := range ps {
		if p == asked {
			return p, nil
		}
	}
	return "", fmt.Errorf("driver %q does not support provider %q (supported: %s)", d.Name(), asked, strings.Join(ps, ", "))
}
