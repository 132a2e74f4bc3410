// Package errext lets lower layers say what kind of failure an error is,
// as k6's errext does: an error the user can fix by changing the input
// (a scenario, an option, a flag, Docker not running) is marked bad input
// and may carry a hint. Only the command turns kinds into exit codes.
package errext

import "errors"

// BadInputError is implemented by errors the user fixes by changing what
// they gave evalrun.
type BadInputError interface {
	error
	BadInput() bool
}

// Hinter is implemented by errors that say how to fix them.
type Hinter interface {
	error
	Hint() string
}

// IsBadInput reports whether err, or an error it wraps, is bad input.
func IsBadInput(err error) bool {
	var b BadInputError
	return errors.As(err, &b) && b.BadInput()
}

// HintOf returns the hint of err or of an error it wraps, or "".
func HintOf(err error) string {
	var h Hinter
	if errors.As(err, &h) {
		return h.Hint()
	}
	return ""
}

// BadInput marks err as bad input with an optional hint.
func BadInput(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &badInput{err: err, hint: hint}
}

type badInput struct {
	err  error
	hint string
}

func (e *badInput) Error() string  { return e.err.Error() }
func (e *badInput) Unwrap() error  { return e.err }
func (e *badInput) BadInput() bool { return true }
func (e *badInput) Hint() string {
	if e.hint != "" {
		return e.hint
	}
	return HintOf(e.err)
}
