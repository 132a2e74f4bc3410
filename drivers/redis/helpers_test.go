package redis

import (
	"context"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/testdocker"
)

// needDocker skips long integration tests in -short mode and when Docker
// is not reachable, and makes sure nothing of the test's runs is left when
// it ends. It returns the run-id prefix of the test.
func needDocker(t *testing.T) string {
	t.Helper()
	_, prefix := testdocker.Need(t, "redis")
	return prefix
}

// startTestCluster starts a cluster of masters (+ replicas per options)
// and closes it when the test ends.
func startTestCluster(t *testing.T, runID string, masters int, opts map[string]string) *cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute) // the first run may build the image
	defer cancel()
	t0 := time.Now()
	cl, err := New().StartCluster(ctx, drivers.ClusterSpec{
		Provider: drivers.ProviderDocker, Nodes: masters, RunID: runID, Options: opts,
		WorkDir: t.TempDir(), Logf: t.Logf,
	})
	if err != nil {
		t.Fatalf("StartCluster: %v", err)
	}
	c := cl.(*cluster)
	t.Cleanup(func() { closeCluster(t, c) })
	t.Logf("cluster of %d nodes started in %s (image %s)", len(c.Members()), time.Since(t0).Round(time.Millisecond), c.Image)
	return c
}

func closeCluster(t *testing.T, c drivers.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func newTestClient(t *testing.T, c drivers.Cluster) drivers.Client {
	t.Helper()
	cli, err := c.NewClient(t.Context())
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// waitSettled polls Settled until it says yes (fails the test after within).
func waitSettled(t *testing.T, m drivers.Settler, within time.Duration) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	t0 := time.Now()
	detail := ""
	for {
		ok, d, err := m.Settled(ctx)
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

// putEventually retries a Put until it succeeds (bounded) and returns how
// long it took.
func putEventually(t *testing.T, cli drivers.Client, key string, value []byte, within time.Duration) time.Duration {
	t.Helper()
	t0 := time.Now()
	var err error
	for try := 0; try < 1000 && time.Since(t0) < within; try++ {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		err = cli.Put(ctx, key, value)
		cancel()
		if err == nil {
			return time.Since(t0)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("put %s never succeeded in %s: %v", key, time.Since(t0).Round(time.Millisecond), err)
	return 0
}

func mustGet(t *testing.T, cli drivers.Client, key, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	got, err := cli.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if string(got) != want {
		t.Fatalf("get %s = %q, want %q", key, got, want)
	}
}
