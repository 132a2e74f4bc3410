// Package driverkit is the machinery drivers share: the option table every
// driver parses, validates and reports its cluster options with, the
// official-or-Debian image choice (OfflineImage), and for drivers on the
// docker provider the drivers.Driver skeleton (DockerDriver: plan, open,
// form, clean up), the node table with its states, the operation slot
// (Exclusive, WithNode), the node-control wrappers with one set of rules,
// partition grouping and the start/close helpers. A driver keeps in its own
// folder only what is truly its database's.
package driverkit

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evalrun/evalrun/drivers"
)

// Option is one cluster option: its name, what its value must be, where
// the parsed value goes and how the report shows the effective value.
type Option struct {
	Name string
	Want string // "an integer from 0 to 5", for the error
	// set parses v (trimmed) into the destination; an error says why v is
	// not what Want says (or returns errWant to say just Want).
	set  func(v string) error
	show func() string
}

// errWant: the value is not what Option.Want says.
var errWant = fmt.Errorf("not what the option wants")

// Options is a driver's option table, in parse order (an option other
// options are checked against comes first).
type Options []Option

// Parse checks every name of in against the table (an unknown one is an
// error listing the known ones, so a typo never runs with defaults) and
// sets the options given, in table order. Errors are *drivers.OptionError.
func (t Options) Parse(driver string, in map[string]string) error {
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	sort.Strings(names) // deterministic errors
	for _, k := range names {
		if t.find(k) == nil {
			return &drivers.OptionError{Driver: driver, Name: k, Known: t.Names()}
		}
	}
	for _, o := range t {
		v, ok := in[o.Name]
		if !ok {
			continue
		}
		if err := o.set(strings.TrimSpace(v)); err != nil {
			want := o.Want
			if !errors.Is(err, errWant) {
				want = err.Error()
			}
			return &drivers.OptionError{Driver: driver, Name: o.Name, Value: v, Want: want}
		}
	}
	return nil
}

func (t Options) find(name string) *Option {
	for i := range t {
		if t[i].Name == name {
			return &t[i]
		}
	}
	return nil
}

// Names lists the option names, sorted.
func (t Options) Names() []string {
	out := make([]string, len(t))
	for i, o := range t {
		out[i] = o.Name
	}
	sort.Strings(out)
	return out
}

// Config is what the report shows: every option's effective value.
func (t Options) Config() map[string]string {
	m := make(map[string]string, len(t))
	for _, o := range t {
		m[o.Name] = o.show()
	}
	return m
}

// Int is an integer option from min to max.
func Int(name string, dst *int, min, max int) Option {
	return Option{Name: name, Want: fmt.Sprintf("want an integer from %d to %d", min, max),
		set: func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < min || n > max {
				return errWant
			}
			*dst = n
			return nil
		},
		show: func() string { return strconv.Itoa(*dst) }}
}

// IntOrDefault is an integer option whose zero means "the database's
// default", shown as unset.
func IntOrDefault(name string, dst *int, min, max int, unset string) Option {
	o := Int(name, dst, min, max)
	o.show = func() string {
		if *dst == 0 {
			return unset
		}
		return strconv.Itoa(*dst)
	}
	return o
}

// Bool is a boolean option. Every driver reads booleans the same way:
// true, yes, on, 1 or false, no, off, 0 (any case).
func Bool(name string, dst *bool) Option {
	return Option{Name: name, Want: "want true or false (yes/no, on/off, 1/0)",
		set: func(v string) error {
			b, ok := ParseBool(v)
			if !ok {
				return errWant
			}
			*dst = b
			return nil
		},
		show: func() string { return strconv.FormatBool(*dst) }}
}

// ParseBool reads a boolean the way every option does.
func ParseBool(v string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "1":
		return true, true
	case "false", "no", "off", "0":
		return false, true
	}
	return false, false
}

// Duration is a duration option from min to max; zero (unset) shows as
// unset.
func Duration(name string, dst *time.Duration, min, max time.Duration, unset string) Option {
	return Option{Name: name, Want: fmt.Sprintf("want a duration from %v to %v", min, max),
		set: func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < min || d > max {
				return errWant
			}
			*dst = d
			return nil
		},
		show: func() string {
			if *dst == 0 {
				return unset
			}
			return dst.String()
		}}
}

// OneOf is an option whose value is one of choices.
func OneOf[T ~string](name string, dst *T, choices ...T) Option {
	names := make([]string, len(choices))
	for i, c := range choices {
		names[i] = strconv.Quote(string(c))
	}
	return Option{Name: name, Want: "want one of " + strings.Join(names, ", "),
		set: func(v string) error {
			for _, c := range choices {
				if string(c) == v {
					*dst = c
					return nil
				}
			}
			return errWant
		},
		show: func() string { return string(*dst) }}
}

// Func is an option with its own parser (set returns an error saying what
// it wants) and its own report form.
func Func(name, want string, set func(v string) error, show func() string) Option {
	return Option{Name: name, Want: want, set: set, show: show}
}
