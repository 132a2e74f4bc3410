package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	dc "github.com/ory/dockertest/v3/docker"

	"github.com/evalrun/evalrun/internal/docker"
	"github.com/evalrun/evalrun/internal/errext"
	"github.com/evalrun/evalrun/reports"
	"github.com/evalrun/evalrun/reports/model"
)

// SIGINT in the middle of a run: the process tears the cluster down within
// 15 s, exits 130, and leaves a report marked incomplete plus the interval
// log, and no work directory.
func TestSIGINTWritesIncompleteReport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs an embedded etcd cluster")
	}
	sigintRun(t, "--provider", "embedded")
}

// The same with containers: nothing labelled with the run's id is left.
func TestSIGINTLeavesNoContainers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs an etcd cluster in Docker")
	}
	e, err := docker.Connect(t.Context())
	if err != nil {
		t.Skipf("Docker is needed: %v", err)
	}
	r := sigintRun(t, "--provider", "docker")
	left, err := e.Client().ListContainers(dc.ListContainersOptions{All: true, Filters: map[string][]string{"label": {docker.LabelRun + "=" + r.Run.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	nets, err := e.Client().FilteredListNetworks(dc.NetworkFilterOpts{"label": {docker.LabelRun + "=" + r.Run.ID: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 || len(nets) > 0 {
		t.Errorf("after SIGINT: %d containers and %d networks of run %s left", len(left), len(nets), r.Run.ID)
	}
}

func sigintRun(t *testing.T, extra ...string) *model.Report {
	t.Helper()
	dir := t.TempDir()
	bin := buildEvalrun(t, dir)
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(extra, "docker") {
		// The image is obtained before the clock starts: on a cold machine
		// it is built from Debian packages first.
		if b, err := exec.Command(bin, "images", "build", "etcd").CombinedOutput(); err != nil {
			t.Fatalf("images build etcd: %v\n%s", err, b)
		}
	}
	out := filepath.Join(dir, "run")
	cmd := exec.Command(bin, append([]string{"run", "baseline", "--duration", "60s", "--rate", "200", "--out", out, "--quiet"}, extra...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err := interruptWhenLoading(t, cmd, filepath.Join(out, ".latency.hlog.partial"), &stderr)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != int(errext.ExitInterrupted) {
		t.Errorf("exit: %v, want code %d\n%s", err, errext.ExitInterrupted, stderr.String())
	}
	r, rerr := reports.ReadJSON(filepath.Join(out, "report.json"))
	if rerr != nil {
		t.Fatalf("no report after SIGINT: %v\n%s", rerr, stderr.String())
	}
	if r.Complete || r.Incomplete == "" {
		t.Errorf("report complete=%v reason=%q, want incomplete with a reason", r.Complete, r.Incomplete)
	}
	if len(r.Windows) == 0 {
		t.Error("report has no windows")
	}
	for _, f := range []string{"report.md", "report.html", "latency.hlog"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s missing: %v", f, err)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("work directories left behind: %v", left)
	}
	return r
}

// interruptWhenLoading waits until the load of the started cmd runs (its
// interval log partial has data, at most 2 min), sends SIGINT and returns
// what Wait returned; the exit must come within 15 s.
func interruptWhenLoading(t *testing.T, cmd *exec.Cmd, partial string, stderr *bytes.Buffer) error {
	t.Helper()
	// wait until the load runs (the interval log has data), at most 2 min
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if st, err := os.Stat(partial); err == nil && st.Size() > 2000 {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("the load did not start within 2 min\n%s", stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("no exit 30 s after SIGINT\n%s", stderr.String())
	}
	if took := time.Since(sent); took > 15*time.Second {
		t.Errorf("exit took %v after SIGINT, want < 15 s", took)
	}
	return err
}

// buildEvalrun builds the command into dir and returns its path.
func buildEvalrun(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "evalrun")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}
