package drivertest

import (
	"context"
	"errors"
	"testing"

	"github.com/evalrun/evalrun/drivers"
)

// Served puts key, reads it back and deletes it through cl, which must
// be a drivers.ServingClient, and returns the nodes each operation says
// served it (put, get, delete). Any error but a read's not found fails
// the test.
func Served(ctx context.Context, t *testing.T, cl drivers.Client, key string) [3]int {
	t.Helper()
	sc, ok := cl.(drivers.ServingClient)
	if !ok {
		t.Fatalf("the client (%T) does not say which node served an operation (drivers.ServingClient)", cl)
	}
	var nodes [3]int
	var err error
	if nodes[0], err = sc.PutServed(ctx, key, []byte("v")); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	// a replica behind may not hold key yet: not found was served too
	if _, nodes[1], err = sc.GetServed(ctx, key); err != nil && !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("get %s: %v", key, err)
	}
	if nodes[2], err = sc.DeleteServed(ctx, key); err != nil {
		t.Fatalf("delete %s: %v", key, err)
	}
	return nodes
}
