package redis

import (
	"context"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/drivertest"
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
	t.Cleanup(func() { drivertest.CloseCluster(t, c) })
	t.Logf("cluster of %d nodes started in %s (image %s)", len(c.Members()), time.Since(t0).Round(time.Millisecond), c.Image)
	return c
}
