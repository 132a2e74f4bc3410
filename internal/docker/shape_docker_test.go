package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dc "github.com/ory/dockertest/v3/docker"
)

// getJSON GETs http://<node's 8080>/<path> and decodes the answer.
func getJSON(n *Node, path string, timeout time.Duration, out any) error {
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get("http://" + n.Addr("8080") + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

type sendResult struct {
	OK      bool    `json:"ok"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error"`
}

// transfer has from send size bytes to to's sink over the run network.
func transfer(t *testing.T, from, to *Node, size int64) time.Duration {
	t.Helper()
	var r sendResult
	if err := getJSON(from, fmt.Sprintf("/send?host=%s:7002&bytes=%d", to.Name(), size), 2*time.Minute, &r); err != nil {
		t.Fatalf("transfer %s -> %s: %v", from.Name(), to.Name(), err)
	}
	if !r.OK || r.Bytes != size {
		t.Fatalf("transfer %s -> %s: %+v, want %d bytes", from.Name(), to.Name(), r, size)
	}
	return time.Duration(r.Seconds * float64(time.Second))
}

func mustShape(t *testing.T, ctx context.Context, n *Node, s Shaping) {
	t.Helper()
	t0 := time.Now()
	if err := n.SetShaping(ctx, s); err != nil {
		t.Fatalf("SetShaping(%+v): %v", s, err)
	}
	t.Logf("%s: SetShaping(%+v) took %s", n.Name(), s, time.Since(t0).Round(time.Millisecond))
}

func mustNetState(t *testing.T, ctx context.Context, n *Node) string {
	t.Helper()
	st, err := n.NetState(ctx)
	if err != nil {
		t.Fatalf("NetState: %v", err)
	}
	return st
}

// rootQdiscs maps each interface but lo to the start of its root qdisc
// line ("tbf e7a1:"), from `tc qdisc show`; interfaces that are down
// (qdisc noop: tunnel fallback devices) are left out, as SetShaping
// leaves them.
func rootQdiscs(state string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(state, "\n") {
		f := strings.Fields(line)
		// qdisc KIND HANDLE dev DEV root|parent …
		if len(f) >= 6 && f[0] == "qdisc" && f[3] == "dev" && f[5] == "root" && f[4] != "lo" && f[1] != "noop" {
			out[f[4]] = f[1] + " " + f[2]
		}
	}
	return out
}

// expectRootQdisc checks that every interface but lo has want as its root
// qdisc ("tbf e7a1:"), or, with want "", that none has evalrun's.
func expectRootQdisc(t *testing.T, state, want string) {
	t.Helper()
	roots := rootQdiscs(state)
	if len(roots) < 2 {
		t.Fatalf("want the run and harness interfaces in:\n%s", state)
	}
	for dev, q := range roots {
		if want != "" && q != want || want == "" && strings.Contains(q, shapeHandle) {
			t.Errorf("%s: root qdisc %q, want %q; state:\n%s", dev, q, want, state)
		}
	}
}

var dropRule = regexp.MustCompile(`-A ` + shapeChain + ` -m statistic --mode random --probability ([0-9.]+) -j DROP`)

// dropProbability is the probability of evalrun's drop rule in a NetState
// (iptables prints 0.2 as 0.20000000019), or -1.
func dropProbability(state string) float64 {
	m := dropRule.FindStringSubmatch(state)
	if m == nil {
		return -1
	}
	p, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return p
}

// expectNoHelpers checks that no helper container of c's run is left
// (SetShaping and NetState wait for their removal).
func expectNoHelpers(t *testing.T, e *Engine, c *Cluster) {
	t.Helper()
	cs, err := e.client.ListContainers(dc.ListContainersOptions{All: true, Filters: map[string][]string{
		"label": {LabelRun + "=" + c.RunID(), LabelRole + "=" + RoleNettools}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range cs {
		t.Errorf("helper container %v left", h.Names)
	}
}

// twoNodes starts a cluster of two nodeserver nodes.
func twoNodes(t *testing.T) (*Engine, *Cluster, *Node, *Node) {
	t.Helper()
	e := testEngine(t)
	img := nodeServerImage(t, e)
	c := newTestCluster(t, e)
	nodes := startNodes(t, c, img, 2)
	return e, c, nodes[0], nodes[1]
}

// TestShapeBandwidth: a 2 mbit cap on node1 slows its transfer to node2
// to the cap, survives a partition and heal (re-applied on the new
// interface), and is gone after SetShaping(Shaping{}).
func TestShapeBandwidth(t *testing.T) {
	t.Parallel()
	e, c, n1, n2 := twoNodes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	const size, rate = 1_000_000, 2_000_000
	ideal := time.Duration(float64(size*8) / rate * float64(time.Second))
	t.Logf("unshaped: %d bytes in %s", size, transfer(t, n1, n2, size).Round(time.Millisecond))

	mustShape(t, ctx, n1, Shaping{BandwidthBitsPerSec: rate})
	mustShape(t, ctx, n1, Shaping{BandwidthBitsPerSec: rate}) // idempotent
	st := mustNetState(t, ctx, n1)
	t.Logf("state:\n%s", st)
	expectRootQdisc(t, st, "tbf "+shapeHandle)
	if n := strings.Count(st, "qdisc tbf"); n != len(rootQdiscs(st)) {
		t.Errorf("%d tbf qdiscs after applying twice, want one per interface", n)
	}
	took := transfer(t, n1, n2, size)
	t.Logf("capped at %d bit/s: %d bytes in %s (ideal %s, %.0f%%)", rate, size, took.Round(time.Millisecond), ideal, 100*took.Seconds()/ideal.Seconds())
	if took < ideal*7/10 || took > 3*ideal {
		t.Errorf("capped transfer took %s, want %s to %s", took, ideal*7/10, 3*ideal)
	}

	// Heal reconnects node1 to the run network: a new interface, capped too.
	if err := c.Partition(ctx, [][]*Node{{n2}, {n1}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	st = mustNetState(t, ctx, n1)
	expectRootQdisc(t, st, "tbf "+shapeHandle)
	took = transfer(t, n1, n2, size/2)
	t.Logf("after partition and heal: %d bytes in %s", size/2, took.Round(time.Millisecond))
	if took < ideal*7/20 {
		t.Errorf("after heal, the transfer took %s: the cap is gone", took)
	}

	mustShape(t, ctx, n1, Shaping{})
	st = mustNetState(t, ctx, n1)
	expectRootQdisc(t, st, "")
	if took := transfer(t, n1, n2, size); took > ideal*7/10 {
		t.Errorf("after clearing, the transfer took %s", took)
	}
	expectNoHelpers(t, e, c)
}

// TestShapeLoss: 20% inbound loss on node2, set while it is paused; the
// share of 500 datagrams from node1 it receives is within 5 sigma of 80%,
// and the chain is gone after clearing.
func TestShapeLoss(t *testing.T) {
	t.Parallel()
	e, c, n1, n2 := twoNodes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	const sent, loss = 500, 20.0
	received := func() int {
		var r struct{ Count int }
		if err := getJSON(n2, "/udpcount", 10*time.Second, &r); err != nil {
			t.Fatal(err)
		}
		return r.Count
	}
	send := func() {
		var r struct {
			OK   bool
			Sent int
		}
		if err := getJSON(n1, fmt.Sprintf("/udpsend?host=%s:7001&n=%d&gap=2ms", n2.Name(), sent), time.Minute, &r); err != nil || !r.OK || r.Sent != sent {
			t.Fatalf("udpsend: %+v, %v", r, err)
		}
		time.Sleep(200 * time.Millisecond) // the last datagrams' way
	}
	before := received()
	send()
	base := received() - before
	t.Logf("unshaped: %d of %d datagrams received", base, sent)
	if base < sent-5 {
		t.Fatalf("only %d of %d datagrams arrive without loss: the measure below would mean nothing", base, sent)
	}

	if err := n2.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	mustShape(t, ctx, n2, Shaping{LossPercent: loss})
	if err := n2.Unpause(ctx); err != nil {
		t.Fatal(err)
	}
	st := mustNetState(t, ctx, n2)
	t.Logf("state:\n%s", st)
	if !strings.Contains(st, "-A INPUT -j "+shapeChain) || math.Abs(dropProbability(st)-loss/100) > 1e-6 {
		t.Errorf("no loss chain hooked in INPUT:\n%s", st)
	}
	before = received()
	send()
	mustShape(t, ctx, n2, Shaping{}) // before asking n2: its answers lose packets too
	got := received() - before
	p := 1 - loss/100
	mean, sigma := sent*p, math.Sqrt(sent*p*(1-p))
	t.Logf("%.0f%% loss: %d of %d datagrams received (%.1f%%; expected %.0f ± %.1f)", loss, got, sent, 100*float64(got)/sent, mean, sigma)
	if math.Abs(float64(got)-mean) > 5*sigma {
		t.Errorf("received %d of %d, want %.0f ± %.0f (5 sigma)", got, sent, mean, 5*sigma)
	}

	st = mustNetState(t, ctx, n2)
	if strings.Contains(st, "EVALRUN") {
		t.Errorf("evalrun's chain left after clearing:\n%s", st)
	}

	// A stopped node has no namespace: the shaping waits for Start.
	if err := n2.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	mustShape(t, ctx, n2, Shaping{LossPercent: 5})
	if err := n2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if st = mustNetState(t, ctx, n2); math.Abs(dropProbability(st)-0.05) > 1e-6 {
		t.Errorf("the loss set while the node was down is not applied at Start:\n%s", st)
	}
	mustShape(t, ctx, n2, Shaping{})
	expectNoHelpers(t, e, c)
}

// TestSetCPUs: Resources show in the container's HostConfig (and cgroup),
// and SetCPUs changes the quota live, to no limit and back.
func TestSetCPUs(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	img := nodeServerImage(t, e)
	c := newTestCluster(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := serverSpec(img, "node1")
	spec.Resources = Resources{CPUs: 0.5, MemoryBytes: 64 << 20}
	limited, err := c.StartNode(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	free, err := c.StartNode(ctx, serverSpec(img, "node2"))
	if err != nil {
		t.Fatal(err)
	}
	if got := limited.Resources(); got != spec.Resources {
		t.Errorf("Resources() = %+v", got)
	}
	hc := inspectHost(t, ctx, limited)
	if hc.CPUQuota != 50000 || hc.CPUPeriod != 100000 || hc.NanoCPUs != 0 || hc.Memory != 64<<20 || hc.MemorySwap != 64<<20 {
		t.Errorf("created with quota %d/%d, nano %d, memory %d, swap %d", hc.CPUQuota, hc.CPUPeriod, hc.NanoCPUs, hc.Memory, hc.MemorySwap)
	}
	expectCgroupQuota(t, limited, 50000)
	for _, step := range []struct {
		n     *Node
		cpus  float64
		quota int64
	}{
		{limited, 0.05, 5000}, {limited, 0, -1}, {limited, limited.Resources().CPUs, 50000},
		{free, 0.1, 10000}, {free, 0, -1},
	} {
		t0 := time.Now()
		if err := step.n.SetCPUs(ctx, step.cpus); err != nil {
			t.Fatalf("%s: SetCPUs(%v): %v", step.n.Name(), step.cpus, err)
		}
		t.Logf("%s: SetCPUs(%v) took %s", step.n.Name(), step.cpus, time.Since(t0).Round(time.Millisecond))
		if hc := inspectHost(t, ctx, step.n); hc.CPUQuota != step.quota {
			t.Errorf("%s: after SetCPUs(%v), CpuQuota %d, want %d", step.n.Name(), step.cpus, hc.CPUQuota, step.quota)
		}
		expectCgroupQuota(t, step.n, step.quota)
	}
	if err := free.SetCPUs(ctx, 0.001); err == nil || !strings.Contains(err.Error(), "at least 0.01") {
		t.Errorf("SetCPUs(0.001): %v", err)
	}
	spec = serverSpec(img, "node3")
	spec.Resources = Resources{CPUs: -1}
	if _, err := c.StartNode(ctx, spec); err == nil || !strings.Contains(err.Error(), "resources: cpus -1") {
		t.Errorf("StartNode with cpus -1: %v", err)
	}
	if _, err := banner(limited.Addr("7000"), 2*time.Second); err != nil {
		t.Errorf("node1 after the updates: %v", err)
	}
}

// hostResources are the resource fields of a container's HostConfig, as
// the daemon reports them (go-dockerclient's HostConfig lacks NanoCpus).
type hostResources struct {
	CPUQuota   int64 `json:"CpuQuota"`
	CPUPeriod  int64 `json:"CpuPeriod"`
	NanoCPUs   int64 `json:"NanoCpus"`
	Memory     int64 `json:"Memory"`
	MemorySwap int64 `json:"MemorySwap"`
}

func inspectHost(t *testing.T, ctx context.Context, n *Node) hostResources {
	t.Helper()
	var ct struct{ HostConfig hostResources }
	if err := n.c.e.doJSON(ctx, http.MethodGet, "/containers/"+n.ContainerID()+"/json", nil, &ct); err != nil {
		t.Fatal(err)
	}
	return ct.HostConfig
}

// expectCgroupQuota checks the node's cgroup v1 cpu.cfs_quota_us when the
// host shows it (cgroupfs driver, this test on the Docker host).
func expectCgroupQuota(t *testing.T, n *Node, want int64) {
	t.Helper()
	f := filepath.Join("/sys/fs/cgroup/cpu/docker", n.ContainerID(), "cpu.cfs_quota_us")
	b, err := os.ReadFile(f)
	if errors.Is(err, os.ErrNotExist) {
		t.Logf("no %s here: the cgroup is not checked", f)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	got, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || got != want {
		t.Errorf("%s: cpu.cfs_quota_us = %q, want %d", n.Name(), b, want)
	}
}

// TestHasNetem: the answer is cached per Engine; without netem, a delay
// is refused with ErrNoNetem and nothing is applied.
func TestHasNetem(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	img := nodeServerImage(t, e)
	c := newTestCluster(t, e)
	n := startNodes(t, c, img, 1)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t0 := time.Now()
	has, err := e.HasNetem(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HasNetem = %v, checked in %s", has, time.Since(t0).Round(time.Millisecond))
	if again, err := e.HasNetem(ctx); again != has || err != nil || e.gray.netem == nil {
		t.Errorf("second HasNetem = %v, %v (cached: %v)", again, err, e.gray.netem != nil)
	}
	err = n.SetShaping(ctx, Shaping{Delay: 50 * time.Millisecond})
	if has {
		if err != nil {
			t.Fatalf("delay where netem exists: %v", err)
		}
		st := mustNetState(t, ctx, n)
		expectRootQdisc(t, st, "netem "+shapeHandle)
		mustShape(t, ctx, n, Shaping{})
		return
	}
	t.Logf("delay without netem: %v", err)
	if !errors.Is(err, ErrNoNetem) || !strings.Contains(err.Error(), "node1: delay 50ms: this kernel has no netem qdisc") {
		t.Errorf("delay without netem: %v, want ErrNoNetem naming the node and the delay", err)
	}
	if n.Shaping() != (Shaping{}) {
		t.Errorf("a refused shaping was recorded: %+v", n.Shaping())
	}
}

// BenchmarkSetShaping measures one SetShaping: a helper container's
// create, start, run and removal in the node's namespace.
func BenchmarkSetShaping(b *testing.B) {
	e := testEngine(b)
	img := nodeServerImage(b, e)
	c := newTestCluster(b, e)
	n := startNodes(b, c, img, 1)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	shapes := []Shaping{{BandwidthBitsPerSec: 10_000_000, LossPercent: 1}, {}}
	i := 0
	for b.Loop() {
		if err := n.SetShaping(ctx, shapes[i%2]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
