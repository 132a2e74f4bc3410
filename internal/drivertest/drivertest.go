// Package drivertest is what the drivers' tests share: helpers that start,
// wait for and close clusters, the table check of an error mapping, and
// Conformance, the suite every driver's cluster passes: what its Driver
// says before the start (Plan) is what the running cluster is, and its
// client keeps the drivers.Client contract.
package drivertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
)

// CloseCluster closes c (bounded) and fails the test if that fails.
func CloseCluster(t testing.TB, c drivers.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// StartCluster starts a cluster of d on spec (WorkDir defaults to a
// temporary directory, Logf to t.Logf) and closes it when the test ends.
// The first start of a driver may build its image, so it may take
// minutes; the log says how long it took.
func StartCluster(t testing.TB, d drivers.Driver, spec drivers.ClusterSpec) drivers.Cluster {
	t.Helper()
	if spec.WorkDir == "" {
		spec.WorkDir = t.TempDir()
	}
	if spec.Logf == nil {
		spec.Logf = t.Logf
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	t0 := time.Now()
	c, err := d.StartCluster(ctx, spec)
	if err != nil {
		t.Fatalf("StartCluster: %v", err)
	}
	t.Cleanup(func() { CloseCluster(t, c) })
	t.Logf("%s: cluster of %d nodes started in %s", d.Name(), spec.Nodes, time.Since(t0).Round(time.Millisecond))
	return c
}

// NewClient opens a client of c that the test closes at its end.
func NewClient(t testing.TB, c drivers.Cluster) drivers.Client {
	t.Helper()
	cli, err := c.NewClient(t.Context())
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// WaitSettled polls Settled until it says yes and returns how long that
// took; the test fails after within.
func WaitSettled(t testing.TB, s drivers.Settler, within time.Duration) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	t0 := time.Now()
	detail := ""
	for {
		ok, d, err := s.Settled(ctx)
		if ok && err == nil {
			return time.Since(t0)
		}
		if err != nil {
			d = err.Error()
		}
		detail = d
		select {
		case <-ctx.Done():
			t.Fatalf("not settled within %s: %s", within, detail)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// TryPut retries a Put (every 50 ms, each try bounded by a second) until
// it succeeds or within passes, and returns how long it took and the last
// error.
func TryPut(ctx context.Context, cli drivers.Client, key string, value []byte, within time.Duration) (time.Duration, error) {
	begin := time.Now()
	var err error
	for try := 0; try < 1000 && time.Since(begin) < within; try++ {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err = cli.Put(pctx, key, value)
		cancel()
		if err == nil {
			return time.Since(begin), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(begin), err
}

// PutEventually is TryPut that fails the test when the Put never succeeds.
func PutEventually(t testing.TB, cli drivers.Client, key string, value []byte, within time.Duration) time.Duration {
	t.Helper()
	took, err := TryPut(t.Context(), cli, key, value, within)
	if err != nil {
		t.Fatalf("put %s never succeeded in %s: %v", key, took.Round(time.Millisecond), err)
	}
	return took
}

// ErrorCase is one row of an error mapping's table: mapping Err (under
// Ctx) must keep Err and be each of Is and none of Not.
type ErrorCase struct {
	Name string
	Ctx  context.Context
	Err  error
	Is   []error
	Not  []error
}

// CheckErrorMapping runs the table against a driver's mapError.
func CheckErrorMapping(t *testing.T, mapError func(ctx context.Context, op string, err error) error, cases []ErrorCase) {
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			got := mapError(tt.Ctx, "put", tt.Err)
			if !errors.Is(got, tt.Err) {
				t.Errorf("%v does not keep %v", got, tt.Err)
			}
			for _, e := range tt.Is {
				if !errors.Is(got, e) {
					t.Errorf("%v is not %v", got, e)
				}
			}
			for _, e := range tt.Not {
				if errors.Is(got, e) {
					t.Errorf("%v is %v", got, e)
				}
			}
		})
	}
}

// Target is a cluster under the conformance suite: the driver and the
// spec it was started with, and the running cluster, untouched since it
// started (every node up).
type Target struct {
	Driver  drivers.Driver
	Spec    drivers.ClusterSpec
	Cluster drivers.Cluster
}

// Conformance checks that a running cluster is what its driver's Plan
// said (node count, capabilities from its type, roles) and that its client
// keeps the drivers.Client contract. It writes keys under "conformance/".
func Conformance(t *testing.T, tg Target) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	top, err := tg.Driver.Plan(tg.Spec.Provider, tg.Spec.Nodes, tg.Spec.Options)
	if err != nil {
		t.Fatalf("Plan of the spec it started with: %v", err)
	}
	t.Run("plan", func(t *testing.T) {
		if got := drivers.CapabilitiesOf(tg.Cluster); !slices.Equal(got, top.Capabilities) {
			t.Errorf("the cluster can %v, Plan said %v", got, top.Capabilities)
		}
		info, err := tg.Cluster.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.DB != tg.Driver.Name() || info.DBVersion == "" {
			t.Errorf("info names db %q version %q", info.DB, info.DBVersion)
		}
		if len(info.Nodes) != top.Nodes {
			t.Errorf("%d nodes run, Plan said %d (every node a cluster starts is addressable)", len(info.Nodes), top.Nodes)
		}
		for i, n := range info.Nodes {
			// on 127.0.0.1, or "in-process" for a node with no listener (mem)
			if n.Index != i+1 || !n.Up || !strings.HasPrefix(n.Address, "127.0.0.1:") && n.Address != "in-process" || n.Name == "" {
				t.Errorf("node %+v: want index %d, up, named, on 127.0.0.1 (or in-process)", n, i+1)
			}
		}
		r, ok := tg.Cluster.(drivers.Roles)
		if !ok {
			if len(top.Roles) > 0 {
				t.Errorf("Plan names roles %v, the cluster does not implement drivers.Roles", top.Roles)
			}
			return
		}
		roles, err := r.NodeRoles(ctx)
		if err != nil {
			t.Fatalf("NodeRoles: %v", err)
		}
		if len(roles) == 0 {
			t.Error("no node plays any role")
		}
		for role, idx := range roles {
			if !slices.Contains(top.Roles, role) {
				t.Errorf("role %q is not among those Plan declared (%v)", role, top.Roles)
			}
			for _, i := range idx {
				if i < 1 || i > top.Nodes {
					t.Errorf("role %s: node %d of %d", role, i, top.Nodes)
				}
			}
		}
	})
	t.Run("client", func(t *testing.T) {
		cli := NewClient(t, tg.Cluster)
		if _, err := cli.Get(ctx, "conformance/missing"); !errors.Is(err, drivers.ErrNotFound) {
			t.Fatalf("get of a missing key: %v, want drivers.ErrNotFound", err)
		}
		const n = 50
		buf := make([]byte, 8)
		for i := range n {
			copy(buf, fmt.Sprintf("v%07d", i))
			if err := cli.Put(ctx, fmt.Sprintf("conformance/k%d", i), buf); err != nil {
				t.Fatalf("put %d: %v", i, err)
			}
			copy(buf, "xxxxxxxx") // the client must not keep the caller's buffer
		}
		for i := range n {
			v, err := cli.Get(ctx, fmt.Sprintf("conformance/k%d", i))
			if want := fmt.Sprintf("v%07d", i); err != nil || string(v) != want {
				t.Fatalf("get %d: %q, %v; want %q", i, v, err, want)
			}
		}
		if err := cli.Delete(ctx, "conformance/k1"); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := cli.Get(ctx, "conformance/k1"); !errors.Is(err, drivers.ErrNotFound) {
			t.Fatalf("get of a deleted key: %v", err)
		}
		if err := cli.Delete(ctx, "conformance/k1"); err != nil {
			t.Fatalf("delete of a missing key: %v", err)
		}
		expired, cancelExpired := context.WithTimeout(ctx, time.Nanosecond)
		defer cancelExpired()
		<-expired.Done()
		if err := cli.Put(expired, "conformance/late", []byte("v")); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("put with an expired ctx: %v, want context.DeadlineExceeded", err)
		}
		if rd, ok := cli.(drivers.ReadDescriber); ok {
			if s := rd.ReadSettings(); s == "" || strings.Contains(s, "\n") {
				t.Errorf("read settings %q: want one line", s)
			}
		}
	})
}
