package errext

import (
	"errors"
	"fmt"
	"testing"
)

type fixable struct{}

func (fixable) Error() string  { return "fixable" }
func (fixable) BadInput() bool { return true }
func (fixable) Hint() string   { return "fix it" }

func TestKinds(t *testing.T) {
	plain := errors.New("boom")
	for _, tc := range []struct {
		name string
		err  error
		bad  bool
		hint string
	}{
		{"plain", plain, false, ""},
		{"marked", BadInput(plain, "try again"), true, "try again"},
		{"marked and wrapped", fmt.Errorf("run: %w", BadInput(plain, "")), true, ""},
		{"a type that says so", fmt.Errorf("x: %w", fixable{}), true, "fix it"},
		{"marked keeps the cause's hint", BadInput(fixable{}, ""), true, "fix it"},
		{"nil", BadInput(nil, "h"), false, ""},
	} {
		if got := IsBadInput(tc.err); got != tc.bad {
			t.Errorf("%s: bad input %v, want %v", tc.name, got, tc.bad)
		}
		if got := HintOf(tc.err); got != tc.hint {
			t.Errorf("%s: hint %q, want %q", tc.name, got, tc.hint)
		}
	}
	if !errors.Is(BadInput(plain, ""), plain) {
		t.Error("the mark hides the cause")
	}
}
