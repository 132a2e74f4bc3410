package driverkit

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/drivertest"
)

func TestMapError(t *testing.T) {
	expired, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	bg := context.Background()
	errOwn := errors.New("READONLY the database says no")
	unavailable := func(err error) bool { return ConnectionError(err) || errors.Is(err, errOwn) }
	mapError := func(ctx context.Context, op string, err error) error {
		return MapError(ctx, "db "+op, err, unavailable)
	}
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	drivertest.CheckErrorMapping(t, mapError, []drivertest.ErrorCase{
		{Name: "deadline", Ctx: bg, Err: context.DeadlineExceeded, Is: []error{context.DeadlineExceeded}, Not: []error{drivers.ErrUnavailable}},
		{Name: "canceled", Ctx: bg, Err: context.Canceled, Is: []error{context.Canceled}, Not: []error{drivers.ErrUnavailable}},
		{Name: "EOF after the deadline", Ctx: expired, Err: io.EOF, Is: []error{context.DeadlineExceeded}, Not: []error{drivers.ErrUnavailable}},
		{Name: "EOF after cancel", Ctx: canceled, Err: io.EOF, Is: []error{context.Canceled}, Not: []error{drivers.ErrUnavailable}},
		{Name: "io timeout", Ctx: bg, Err: timeout, Is: []error{context.DeadlineExceeded}, Not: []error{drivers.ErrUnavailable}},
		{Name: "refused", Ctx: bg, Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, Is: []error{drivers.ErrUnavailable}},
		{Name: "reset", Ctx: bg, Err: syscall.ECONNRESET, Is: []error{drivers.ErrUnavailable}},
		{Name: "unexpected EOF", Ctx: bg, Err: io.ErrUnexpectedEOF, Is: []error{drivers.ErrUnavailable}},
		{Name: "the driver's own", Ctx: bg, Err: errOwn, Is: []error{drivers.ErrUnavailable}},
		{Name: "already unavailable", Ctx: bg, Err: drivers.ErrUnavailable, Is: []error{drivers.ErrUnavailable}},
		{Name: "other", Ctx: bg, Err: errors.New("syntax error"), Not: []error{drivers.ErrUnavailable, context.DeadlineExceeded}},
	})
	if MapError(bg, "x", nil, unavailable) != nil {
		t.Error("nil maps to an error")
	}
}
