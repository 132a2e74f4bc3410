package docker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	dc "github.com/ory/dockertest/v3/docker"
)

var (
	imgOnce  sync.Once
	imgTag   string
	imgID    string
	imgErr   error
	imgBuild time.Duration
	tmpRoot  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if imgID != "" {
		if e, err := Connect(context.Background()); err == nil {
			_ = e.client.RemoveImageExtended(imgTag, dc.RemoveImageOptions{Force: true})
		}
	}
	if tmpRoot != "" {
		os.RemoveAll(tmpRoot)
	}
	os.Exit(code)
}

// testEngine connects, or skips the test when Docker is not reachable.
func testEngine(t testing.TB) *Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := Connect(ctx)
	var ue *UnreachableError
	if errors.As(err, &ue) {
		t.Skipf("skipping: needs Docker: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	e.Logf = func(f string, a ...any) { t.Logf(f, a...) }
	return e
}

// nodeServerImage builds testdata/nodeserver (static) into a scratch image,
// once per test binary.
func nodeServerImage(t testing.TB, e *Engine) string {
	t.Helper()
	imgOnce.Do(func() {
		t0 := time.Now()
		tmpRoot, imgErr = os.MkdirTemp("", "evalrun-docker-test-")
		if imgErr != nil {
			return
		}
		bin := filepath.Join(tmpRoot, "nodeserver")
		gobin, err := exec.LookPath("go")
		if err != nil {
			imgErr = fmt.Errorf("no go command to build nodeserver: %w", err)
			return
		}
		cmd := exec.Command(gobin, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./testdata/nodeserver")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			imgErr = fmt.Errorf("go build nodeserver: %w\n%s", err, out)
			return
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			imgErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		tag := fmt.Sprintf("evalrun-test/nodeserver:%d-%s", os.Getpid(), randomHex(3))
		id, err := e.BuildScratchImage(ctx, tag, map[string]FileSpec{"/nodeserver": {Mode: 0o755, Data: data}}, []string{"/nodeserver"})
		imgTag, imgID, imgErr, imgBuild = tag, id, err, time.Since(t0)
	})
	if imgErr != nil {
		t.Fatal(imgErr)
	}
	return imgTag
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// newTestCluster creates a cluster whose cleanup closes it (twice: Close is
// idempotent) and asserts that nothing of the run is left.
func newTestCluster(t testing.TB, e *Engine) *Cluster {
	t.Helper()
	name := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 40 {
		name = name[:40]
	}
	runID := "test-" + name + "-" + randomHex(3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := e.NewCluster(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		t0 := time.Now()
		if err := c.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		d := time.Since(t0)
		if err := c.Close(ctx); err != nil {
			t.Errorf("second Close: %v", err)
		}
		t.Logf("Close took %s", d.Round(time.Millisecond))
		assertNoLeftovers(t, e, runID)
	})
	return c
}

func assertNoLeftovers(t testing.TB, e *Engine, runID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := e.client.ListContainers(dc.ListContainersOptions{All: true,
		Filters: map[string][]string{"label": {LabelRun + "=" + runID}}, Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		t.Errorf("container %v of run %s left behind", c.Names, runID)
	}
	nets, err := e.listNetworks(ctx, LabelRun+"="+runID)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		t.Errorf("network %s of run %s left behind", n.Name, runID)
	}
}

func serverSpec(img, name string) NodeSpec {
	return NodeSpec{
		Name: name, Image: img, Ports: []string{"7000/tcp", "8080"},
		Ready: ReadyHTTP("8080/tcp", "/health"), ReadyTimeout: 20 * time.Second, StopGrace: 5 * time.Second,
	}
}

func startNodes(t testing.TB, c *Cluster, img string, count int) []*Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes := make([]*Node, count)
	durs := make([]time.Duration, count)
	err := parallel(count, func(i int) error {
		t0 := time.Now()
		n, err := c.StartNode(ctx, serverSpec(img, fmt.Sprintf("node%d", i+1)))
		nodes[i], durs[i] = n, time.Since(t0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started %d nodes (in parallel), create to ready: %v", count, roundAll(durs))
	return nodes
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// banner connects to addr and reads the first line, within timeout.
func banner(addr string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line), err
}

// waitBanner polls banner until it answers want (bounded).
func waitBanner(addr, want string, limit time.Duration) (time.Duration, error) {
	t0 := time.Now()
	var last error
	for time.Since(t0) < limit {
		got, err := banner(addr, 500*time.Millisecond)
		if err == nil && got == want {
			return time.Since(t0), nil
		}
		last = fmt.Errorf("got %q, %w", got, err)
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(t0), last
}

type dialResult struct {
	OK    bool   `json:"ok"`
	Reply string `json:"reply"`
	Error string `json:"error"`
}

// dialFrom asks node from (through its published HTTP port) to connect to
// target ("node2:7000") from inside the container network.
func dialFrom(from *Node, target string) (dialResult, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + from.Addr("8080") + "/dial?timeout=500ms&host=" + target)
	if err != nil {
		return dialResult{}, err
	}
	defer resp.Body.Close()
	var r dialResult
	err = json.NewDecoder(resp.Body).Decode(&r)
	return r, err
}

func expectReach(t *testing.T, from *Node, target string, want bool) {
	t.Helper()
	r, err := dialFrom(from, target)
	if err != nil {
		t.Errorf("%s -> %s: asking the node: %v", from.Name(), target, err)
		return
	}
	if r.OK != want {
		t.Errorf("%s -> %s: reachable=%v (%s%s), want %v", from.Name(), target, r.OK, r.Reply, r.Error, want)
	}
	if want && r.OK && strings.HasPrefix(target, "node") && !strings.HasPrefix(target, r.Reply+":") {
		t.Errorf("%s -> %s: answered by %q", from.Name(), target, r.Reply)
	}
}
