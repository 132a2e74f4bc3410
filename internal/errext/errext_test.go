package errext

import (
	"errors"
	"fmt"
	"testing"
)

// fixable is a lower layer's error type that says its own kind and hint.
type fixable struct{}

func (fixable) Error() string      { return "fixable" }
func (fixable) ExitCode() ExitCode { return ExitBadInput }
func (fixable) Hint() string       { return "fix it" }

func TestExitCodeAndHint(t *testing.T) {
	plain := errors.New("boom")
	for _, tc := range []struct {
		name string
		err  error
		code ExitCode
		hint string
	}{
		{"nil", nil, ExitOK, ""},
		{"unclassified is internal", plain, ExitInternal, ""},
		{"unclassified, wrapped", fmt.Errorf("run: %w", plain), ExitInternal, ""},
		{"bad input with a hint", BadInput(plain, "try again"), ExitBadInput, "try again"},
		{"bad input, wrapped", fmt.Errorf("run: %w", BadInput(plain, "")), ExitBadInput, ""},
		{"a type that says so", fmt.Errorf("x: %w", fixable{}), ExitBadInput, "fix it"},
		{"marked keeps the cause's hint", BadInput(fixable{}, ""), ExitBadInput, "fix it"},
		{"the outer code wins", WithExitCode(fmt.Errorf("run did not complete: %w", fixable{}), ExitInternal), ExitInternal, "fix it"},
		{"the outer hint wins", WithHint(fixable{}, "read the report"), ExitBadInput, "read the report"},
		{"a hint alone", WithHint(plain, "h"), ExitInternal, "h"},
		{"interrupted", WithExitCode(plain, ExitInterrupted), ExitInterrupted, ""},
		{"nil stays nil", BadInput(nil, "h"), ExitOK, ""},
	} {
		if got := ExitCodeOf(tc.err); got != tc.code {
			t.Errorf("%s: exit code %d, want %d", tc.name, got, tc.code)
		}
		if got := IsBadInput(tc.err); got != (tc.code == ExitBadInput) {
			t.Errorf("%s: bad input %v", tc.name, got)
		}
		if got := HintOf(tc.err); got != tc.hint {
			t.Errorf("%s: hint %q, want %q", tc.name, got, tc.hint)
		}
	}
	if !errors.Is(BadInput(plain, "h"), plain) || !errors.Is(WithExitCode(plain, ExitInternal), plain) {
		t.Error("a mark hides the cause")
	}
}
