// Package testdocker holds what the Docker integration tests of the
// drivers share: connecting or skipping, a unique run id per test, and the
// check that a test left no labelled container or network behind. It is
// imported by _test files only.
package testdocker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	dc "github.com/ory/dockertest/v3/docker"

	"github.com/evalrun/evalrun/internal/docker"
)

// Engine connects to Docker or skips the test.
func Engine(t testing.TB) *docker.Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := docker.Connect(ctx)
	var ue *docker.UnreachableError
	if errors.As(err, &ue) {
		t.Skipf("skipping: needs Docker: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// RunID is a unique run id for the test: test-<driver>-<test name>-<random>.
func RunID(t testing.TB, driver string) string {
	name := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 30 {
		name = name[:30]
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return "test-" + driver + "-" + name + "-" + hex.EncodeToString(b)
}

// Need skips long integration tests in -short mode and when Docker is not
// reachable, and checks, when the test ends, that nothing of its runs is
// left. It returns the engine and the test's run-id prefix.
func Need(t *testing.T, driver string) (*docker.Engine, string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("skipping: starts %s clusters in Docker (not in -short mode)", driver)
	}
	e := Engine(t)
	prefix := RunID(t, driver)
	t.Cleanup(func() { AssertNoLeftovers(t, e, prefix) })
	return e, prefix
}

// AssertNoLeftovers fails the test if a container or network of a run
// whose id starts with prefix is still there (other packages' tests may run
// at the same time: their resources are not ours to judge).
func AssertNoLeftovers(t testing.TB, e *docker.Engine, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := e.Client().ListContainers(dc.ListContainersOptions{All: true, Context: ctx,
		Filters: map[string][]string{"label": {docker.LabelRun}}})
	if err != nil {
		t.Errorf("list containers: %v", err)
		return
	}
	for _, c := range cs {
		if strings.HasPrefix(c.Labels[docker.LabelRun], prefix) {
			t.Errorf("container %v (run %s) left behind", c.Names, c.Labels[docker.LabelRun])
		}
	}
	nets, err := e.Client().FilteredListNetworks(dc.NetworkFilterOpts{"label": {docker.LabelRun: true}})
	if err != nil {
		t.Errorf("list networks: %v", err)
		return
	}
	for _, n := range nets {
		if strings.HasPrefix(n.Labels[docker.LabelRun], prefix) {
			t.Errorf("network %s (run %s) left behind", n.Name, n.Labels[docker.LabelRun])
		}
	}
}
