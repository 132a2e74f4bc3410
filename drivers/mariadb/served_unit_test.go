package mariadb

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
)

// The served node is the node the client sent the statement to: the
// primary for writes, the read target for reads, also when the statement
// failed there (a refused connection); 0 when the client has no pool for
// the node.
func TestServedNodeUnit(t *testing.T) {
	addrs := map[int]string{1: "127.0.0.1:1", 2: "127.0.0.1:2", 3: "127.0.0.1:3"} // nothing listens
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, tt := range []struct {
		name    string
		primary int
		rf      readFrom
		live    []int
		put     int // served node of a put (and a delete)
		get     int // of the first get
	}{
		{name: "primary reads", primary: 1, rf: readPrimary, live: []int{1, 2, 3}, put: 1, get: 1},
		{name: "replica reads", primary: 2, rf: readReplicas, live: []int{1, 2, 3}, put: 2, get: 3},
		{name: "primary without a pool", primary: 7, rf: readPrimary, live: []int{1, 2, 3}, put: 0, get: 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl := newClient(addrs, "pw", readOpts(tt.rf), fixedRoute{primary: tt.primary, live: tt.live}, nil)
			defer func() { _ = cl.Close() }()
			if node, err := cl.PutServed(ctx, "k", []byte("v")); node != tt.put || !errors.Is(err, drivers.ErrUnavailable) {
				t.Errorf("put: node %d (%v), want %d and unavailable", node, err, tt.put)
			}
			if node, err := cl.DeleteServed(ctx, "k"); node != tt.put || !errors.Is(err, drivers.ErrUnavailable) {
				t.Errorf("delete: node %d (%v), want %d and unavailable", node, err, tt.put)
			}
			if _, node, err := cl.GetServed(ctx, "k"); node != tt.get || !errors.Is(err, drivers.ErrUnavailable) {
				t.Errorf("get: node %d (%v), want %d and unavailable", node, err, tt.get)
			}
		})
	}
}
