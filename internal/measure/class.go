// Package measure records operation outcomes in HdrHistograms: per operation
// type and phase (latency from the intended start and service time from the
// actual start), per one-second window (also streamed to an HdrHistogram
// interval log), and a fine-grained success/error timeline from which the
// operational numbers of faults are computed. Memory does not grow with the
// number of operations: only with the number of seconds (a few hundred bytes
// each) and of phases.
package measure

import (
	"context"
	"errors"
	"net"
	"os"

	"github.com/evalrun/evalrun/drivers"
)

// Class says how an operation ended.
type Class uint8

const (
	OK          Class = iota // success (a not-found read is a success)
	Timeout                  // the operation's deadline passed
	Unavailable              // the database refused it or could not be reached
	Missed                   // the load generator gave up before sending it (too far behind)
	Other                    // any other error
	numClasses
)

var classNames = [numClasses]string{"ok", "timeout", "unavailable", "missed", "other"}

func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return "unknown"
}

// Classify maps a driver error to a Class.
func Classify(err error) Class {
	switch {
	case err == nil, errors.Is(err, drivers.ErrNotFound):
		return OK
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return Timeout
	case errors.Is(err, drivers.ErrUnavailable):
		return Unavailable
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Timeout
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return Unavailable
	}
	return Other
}
