package driverkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/evalrun/evalrun/drivers"
)

// MapError classifies an error of a driver's client library for the
// recorder, with one set of rules for every driver:
//   - cancellation -> wraps context.Canceled;
//   - the caller's deadline (whatever the library returned once ctx's
//     deadline passed: it closed the connection, say) or an I/O timeout
//     (net.Error.Timeout) -> wraps context.DeadlineExceeded;
//   - what unavailable reports (a driver tests ConnectionError and its
//     database's own errors) -> wraps drivers.ErrUnavailable.
//
// The original error stays in the chain; nil stays nil. prefix starts the
// message ("mariadb put").
func MapError(ctx context.Context, prefix string, err error, unavailable func(error) bool) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w (%w)", prefix, ctx.Err(), err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s: %w (%w)", prefix, context.DeadlineExceeded, err)
	}
	if errors.Is(err, drivers.ErrUnavailable) {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	if unavailable != nil && unavailable(err) {
		return fmt.Errorf("%s: %w (%w)", prefix, drivers.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// ConnectionError reports whether err is a connection that failed or was
// lost: refused, reset, aborted, a broken pipe, EOF in the middle of a
// reply, a closed connection, or any other failed network operation.
func ConnectionError(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}
