// Package errext attaches to an error how the process should exit and
// how the user can fix it, as k6's errext does: WithExitCode and WithHint
// wrap an error, a type of a lower layer may say its own exit code
// (HasExitCode: a scenario, a cluster option, Docker not running are bad
// input), and the command maps an error to its exit code with ExitCodeOf,
// in one place. An error nobody classified is an internal one.
package errext

import "errors"

// ExitCode is how evalrun exits. A script can tell them apart.
type ExitCode int

// The exit codes of every command.
const (
	ExitOK         ExitCode = 0
	ExitRegression ExitCode = 1 // compare or history found a regression
	// ExitBadInput: usage, scenario, option, driver, file errors, Docker
	// not reachable: the user's to fix.
	ExitBadInput ExitCode = 2
	// ExitInternal: the run did not complete (its report says why), or an
	// error that nothing classified.
	ExitInternal    ExitCode = 3
	ExitInterrupted ExitCode = 130 // SIGINT/SIGTERM (the report is written, incomplete)
)

// HasExitCode is an error that says how the process exits.
type HasExitCode interface {
	error
	ExitCode() ExitCode
}

// HasHint is an error that says how to fix it.
type HasHint interface {
	error
	Hint() string
}

// WithExitCode returns err marked with code (nil for a nil err).
func WithExitCode(err error, code ExitCode) error {
	if err == nil {
		return nil
	}
	return &withExitCode{err: err, code: code}
}

// WithHint returns err with a hint for the user; err itself when hint is
// empty (the hint of an error it wraps still shows).
func WithHint(err error, hint string) error {
	if err == nil || hint == "" {
		return err
	}
	return &withHint{err: err, hint: hint}
}

// BadInput marks err as the user's to fix, with an optional hint.
func BadInput(err error, hint string) error {
	return WithHint(WithExitCode(err, ExitBadInput), hint)
}

// ExitCodeOf is the exit code for err: ExitOK for nil, else the code of
// the outermost error in its chain that has one, else ExitInternal.
func ExitCodeOf(err error) ExitCode {
	if err == nil {
		return ExitOK
	}
	var c HasExitCode
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return ExitInternal
}

// IsBadInput reports whether err is the user's to fix.
func IsBadInput(err error) bool { return err != nil && ExitCodeOf(err) == ExitBadInput }

// HintOf returns the hint of the outermost error in err's chain that has
// one, or "".
func HintOf(err error) string {
	var h HasHint
	if errors.As(err, &h) {
		return h.Hint()
	}
	return ""
}

type withExitCode struct {
	err  error
	code ExitCode
}

func (e *withExitCode) Error() string      { return e.err.Error() }
func (e *withExitCode) Unwrap() error      { return e.err }
func (e *withExitCode) ExitCode() ExitCode { return e.code }

type withHint struct {
	err  error
	hint string
}

func (e *withHint) Error() string { return e.err.Error() }
func (e *withHint) Unwrap() error { return e.err }
func (e *withHint) Hint() string  { return e.hint }
