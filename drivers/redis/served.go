package redis

import (
	"context"

	"github.com/evalrun/evalrun/drivers"
)

// The client says which node served each operation: the master of the
// key's slot in the client's slot map when the operation was sent, which
// is where go-redis sends it (reads go to masters too). A MOVED redirect
// (a failover, a slot migrating) sends it on to another node: that
// operation is put on the master the map named. 0 when the slot map has
// no master for the slot or names an address no node of the cluster has
// (a removed node).

var _ drivers.ServingClient = (*client)(nil)

// servedBy is the index of the master of key's slot.
func (c *client) servedBy(ctx context.Context, key string) int {
	if c.nodes == nil {
		return 0
	}
	m, err := c.cc.MasterForKey(ctx, key)
	if err != nil {
		return 0
	}
	return c.nodes.Of(m.Options().Addr)
}

// PutServed implements drivers.ServingClient.
func (c *client) PutServed(ctx context.Context, key string, value []byte) (int, error) {
	node := c.servedBy(ctx, key)
	return node, c.Put(ctx, key, value)
}

// GetServed implements drivers.ServingClient.
func (c *client) GetServed(ctx context.Context, key string) ([]byte, int, error) {
	node := c.servedBy(ctx, key)
	v, err := c.Get(ctx, key)
	return v, node, err
}

// DeleteServed implements drivers.ServingClient.
func (c *client) DeleteServed(ctx context.Context, key string) (int, error) {
	node := c.servedBy(ctx, key)
	return node, c.Delete(ctx, key)
}

// nodeIndexOf is the index of the member at addr: an address of the slot
// map (the run-network address a node announces) or a seed (its published
// address); 0 when no member has it.
func (c *cluster) nodeIndexOf(addr string) int {
	for _, n := range c.Members() {
		if n.DN != nil && (n.busAddr() == addr || n.addr() == addr) {
			return n.Index
		}
	}
	return 0
}

// forgetServingAddrs makes the open clients look node addresses up again:
// a restarted node may have another run-network address, and its old
// one may go to another node.
func (c *cluster) forgetServingAddrs() {
	for _, cl := range c.clients.Snapshot() {
		cl.nodes.Forget()
	}
}
