package mariadb

import (
	"testing"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/drivertest"
	"github.com/evalrun/evalrun/internal/testdocker"
)

// needDocker skips integration tests in -short mode and when Docker is
// not reachable, and makes sure nothing of the test's runs is left when
// it ends. It returns the run-id prefix of the test.
func needDocker(t *testing.T) string {
	t.Helper()
	_, prefix := testdocker.Need(t, driverName)
	return prefix
}

// startTestCluster starts a cluster of nodes servers (node1 the primary)
// and closes it when the test ends.
func startTestCluster(t *testing.T, runID string, nodes int, opts map[string]string) *cluster {
	t.Helper()
	return drivertest.StartCluster(t, New(), drivers.ClusterSpec{
		Provider: drivers.ProviderDocker, Nodes: nodes, RunID: runID, Options: opts,
	}).(*cluster)
}
