package mem

import (
	"context"

	"github.com/evalrun/evalrun/drivers"
)

// The mem client says which node served each operation: the node the
// client sent it to (its coordinating node, as Riak's), which forwards a
// write or a linearizable read to the leader. 0 when no node was up.

var _ drivers.ServingClient = (*client)(nil)

// PutServed implements drivers.ServingClient.
func (cl *client) PutServed(ctx context.Context, key string, value []byte) (int, error) {
	node := 0
	err := cl.write(ctx, "put", key, append([]byte{}, value...), &node)
	return node, err
}

// GetServed implements drivers.ServingClient.
func (cl *client) GetServed(ctx context.Context, key string) ([]byte, int, error) {
	node := 0
	v, err := cl.read(ctx, "get", key, cl.c.opts.bug == BugStaleReads, &node)
	return v, node, err
}

// DeleteServed implements drivers.ServingClient.
func (cl *client) DeleteServed(ctx context.Context, key string) (int, error) {
	node := 0
	err := cl.write(ctx, "delete", key, nil, &node)
	return node, err
}
