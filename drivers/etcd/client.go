package etcd

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"
	"unsafe"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	etcderrors "go.etcd.io/etcd/server/v3/etcdserver/errors"
	"go.etcd.io/raft/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/clientset"
	"github.com/evalrun/evalrun/internal/servedby"
)

// dialTimeout bounds how long clientv3 waits for a first connection.
const dialTimeout = 2 * time.Second

// newEtcdClient opens a clientv3 client on endpoints without logging:
// clientv3's default logger writes retry warnings to stderr, which is noise
// while a scenario kills nodes on purpose.
func newEtcdClient(endpoints []string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: dialTimeout,
		Logger:      zap.NewNop(),
	})
}

// client is a drivers.Client on clientv3. clientv3 balances requests over
// its endpoints (round robin over the ready connections) and is safe for
// concurrent use.
type client struct {
	cli     *clientv3.Client
	tracked clientset.Tracked // the cluster's set forgets the client on Close
	// members maps the member ID of a response's header to the member's
	// index (IDs are never reused).
	members *servedby.Index[uint64]
}

var (
	_ drivers.Client        = (*client)(nil)
	_ drivers.ServingClient = (*client)(nil)
)

// Put implements drivers.Client.
func (c *client) Put(ctx context.Context, key string, value []byte) error {
	_, err := c.PutServed(ctx, key, value)
	return err
}

// PutServed implements drivers.ServingClient. The node that served an
// operation is the member that answered it (the response header's
// member ID); 0 when the operation failed (no answer says who).
func (c *client) PutServed(ctx context.Context, key string, value []byte) (int, error) {
	// clientv3 takes the value as a string and copies it into its request
	// ([]byte(val)) before sending, so a string view of value avoids one
	// copy per operation without sharing memory past the call.
	resp, err := c.cli.Put(ctx, key, unsafe.String(unsafe.SliceData(value), len(value)))
	if err != nil {
		return 0, mapError(ctx, "put", err)
	}
	return c.members.Of(resp.Header.GetMemberId()), nil
}

// ReadSettings implements drivers.ReadDescriber.
func (c *client) ReadSettings() string {
	return "linearizable range read (confirmed by a quorum of members)"
}

// Get implements drivers.Client. A missing key is drivers.ErrNotFound.
func (c *client) Get(ctx context.Context, key string) ([]byte, error) {
	v, _, err := c.GetServed(ctx, key)
	return v, err
}

// GetServed implements drivers.ServingClient.
func (c *client) GetServed(ctx context.Context, key string) ([]byte, int, error) {
	resp, err := c.cli.Get(ctx, key)
	if err != nil {
		return nil, 0, mapError(ctx, "get", err)
	}
	node := c.members.Of(resp.Header.GetMemberId())
	if len(resp.Kvs) == 0 {
		return nil, node, drivers.ErrNotFound
	}
	return resp.Kvs[0].Value, node, nil
}

// Delete implements drivers.Client. Deleting a missing key is not an error.
func (c *client) Delete(ctx context.Context, key string) error {
	_, err := c.DeleteServed(ctx, key)
	return err
}

// DeleteServed implements drivers.ServingClient.
func (c *client) DeleteServed(ctx context.Context, key string) (int, error) {
	resp, err := c.cli.Delete(ctx, key)
	if err != nil {
		return 0, mapError(ctx, "delete", err)
	}
	return c.members.Of(resp.Header.GetMemberId()), nil
}

// Close implements drivers.Client. It is idempotent.
func (c *client) Close() error {
	return c.tracked.Close(func() error {
		if err := c.cli.Close(); !errors.Is(err, context.Canceled) {
			return err
		}
		return nil // clientv3 reports its own cancellation on Close
	})
}

// mapError classifies a clientv3 error for the recorder:
//   - the caller's deadline or cancellation stays detectable with
//     errors.Is(err, context.DeadlineExceeded / context.Canceled), also when
//     gRPC or etcd report it as a status;
//   - errors meaning "this could not be served now" (no leader, leader
//     changed, server stopped, request timed out inside etcd, connection
//     refused or lost, too many requests) wrap drivers.ErrUnavailable.
//
// The original error stays in the chain. It allocates only on errors.
func mapError(ctx context.Context, op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("etcd %s: %w", op, err)
	}
	code := codes.Unknown
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		code = ee.Code()
	} else if s, ok := status.FromError(err); ok {
		code = s.Code()
	}
	switch code {
	case codes.DeadlineExceeded:
		return fmt.Errorf("etcd %s: %w (%w)", op, context.DeadlineExceeded, err)
	case codes.Canceled:
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("etcd %s: %w (%w)", op, cerr, err)
		}
		// The client connection is closing (the client was closed).
		return fmt.Errorf("etcd %s: %w (%w)", op, drivers.ErrUnavailable, err)
	case codes.Unavailable, codes.ResourceExhausted:
		return fmt.Errorf("etcd %s: %w (%w)", op, drivers.ErrUnavailable, err)
	}
	if isUnavailableMessage(err) || errors.Is(err, rpctypes.ErrNotLeader) ||
		errors.Is(err, clientv3.ErrNoAvailableEndpoints) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("etcd %s: %w (%w)", op, drivers.ErrUnavailable, err)
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("etcd %s: %w (%w)", op, cerr, err)
	}
	return fmt.Errorf("etcd %s: %w", op, err)
}

// isUnavailableMessage recognizes server errors that etcd sends with code
// Unknown although they mean the member could not serve the request: raft
// stopped under the request (the member is being killed), a proposal
// dropped (no leader to forward it to), a leader transfer timing out.
func isUnavailableMessage(err error) bool {
	s, ok := status.FromError(err)
	if !ok || s.Code() != codes.Unknown {
		return false
	}
	switch s.Message() {
	case raft.ErrStopped.Error(), raft.ErrProposalDropped.Error(), etcderrors.ErrTimeoutLeaderTransfer.Error():
		return true
	}
	return false
}

// isRetryableMembershipErr reports whether etcd refused a membership change because
// it would put quorum at risk (strict reconfiguration check) or could not
// serve it right now; such a change is worth retrying.
func isRetryableMembershipErr(err error) bool {
	if errors.Is(err, rpctypes.ErrUnhealthy) || errors.Is(err, rpctypes.ErrGRPCUnhealthy) ||
		errors.Is(err, rpctypes.ErrMemberNotEnoughStarted) || errors.Is(err, rpctypes.ErrNotLeader) ||
		isUnavailableMessage(err) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee.Code() == codes.Unavailable
	}
	if s, ok := status.FromError(err); ok {
		return s.Code() == codes.Unavailable
	}
	return false
}

// openClient opens a client on eps and tracks it in set; it fails once the
// set is closed (the cluster closes every client it handed out). memberOf
// gives the index of the member with an ID (0: none).
func openClient(set *clientset.Set[*client], eps []string, memberOf func(id uint64) int) (drivers.Client, error) {
	if len(eps) == 0 {
		return nil, errors.New("etcd: the cluster has no members")
	}
	cli, err := newEtcdClient(eps)
	if err != nil {
		return nil, fmt.Errorf("etcd: new client: %w", err)
	}
	cl := &client{cli: cli, members: servedby.New(memberOf)}
	if err := set.Track(cl, &cl.tracked); err != nil {
		_ = cl.Close()
		return nil, errClosed
	}
	return cl, nil
}

// setEndpoints points every open client of set at eps.
func setEndpoints(set *clientset.Set[*client], eps []string) {
	for _, cl := range set.Snapshot() {
		cl.cli.SetEndpoints(eps...)
	}
}

// memberIndex is the index of the member with ID id (not removed), 0
// when none has it (yet: a member's ID is known once it runs).
func (s membership) memberIndex(id uint64) int {
	if id == 0 {
		return 0
	}
	for _, v := range s.host.views() {
		if v.id == id {
			return v.index
		}
	}
	return 0
}
