package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	dc "github.com/ory/dockertest/v3/docker"
)

func TestConnectUnreachable(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Connect(ctx)
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("Connect to a missing socket: %v (%T), want *UnreachableError", err, err)
	}
	msg := err.Error()
	t.Logf("message: %s", msg)
	want := "Docker is not reachable (dial unix /nonexistent/docker.sock: connect: no such file or directory); start it (e.g. 'sudo systemctl start docker') or use --provider embedded"
	if msg != want {
		t.Errorf("message:\n got %s\nwant %s", msg, want)
	}
}

func TestNodeLifecycle(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	img := nodeServerImage(t, e)
	t.Logf("nodeserver scratch image built (go build + import) in %s", imgBuild.Round(time.Millisecond))
	c := newTestCluster(t, e)
	nodes := startNodes(t, c, img, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	_, subnet, _ := net.ParseCIDR(c.Subnet())
	seen := map[string]bool{}
	for _, n := range nodes {
		addr := n.Addr("7000/tcp")
		if !strings.HasPrefix(addr, "127.0.0.1:") || n.Addr("7000") != addr {
			t.Fatalf("%s: Addr = %q", n.Name(), addr)
		}
		if seen[addr] {
			t.Fatalf("%s: host address %s used twice", n.Name(), addr)
		}
		seen[addr] = true
		if got, err := banner(addr, 2*time.Second); err != nil || got != n.Name() {
			t.Fatalf("%s: banner on %s = %q, %v", n.Name(), addr, got, err)
		}
		if ip := net.ParseIP(n.IP()); ip == nil || !subnet.Contains(ip) {
			t.Errorf("%s: IP %q not in %s", n.Name(), n.IP(), c.Subnet())
		}
		if got, ok := c.HostAddr(n.Name() + ":7000"); !ok || got != addr {
			t.Errorf("HostAddr(%s:7000) = %q, %v", n.Name(), got, ok)
		}
		if got, ok := c.HostAddr(n.IP() + ":7000"); !ok || got != addr {
			t.Errorf("HostAddr(%s:7000) = %q, %v", n.IP(), got, ok)
		}
	}
	if n := c.Node("node2"); n != nodes[1] {
		t.Errorf("Node(node2) = %v", n)
	}
	if n := nodes[0].Addr("9999/tcp"); n != "" {
		t.Errorf("Addr of an unpublished port = %q", n)
	}
	expectReach(t, nodes[0], "node2:7000", true)
	expectReach(t, nodes[1], "node3:7000", true)
	expectReach(t, nodes[2], nodes[0].IP()+":7000", true)

	// Exec: exit code and both streams.
	r, err := nodes[0].Exec(ctx, []string{"/nodeserver", "exit", "3", "to stdout", "to stderr"})
	if err != nil || r.ExitCode != 3 || r.Stdout != "to stdout" || r.Stderr != "to stderr" {
		t.Errorf("Exec = %+v, %v", r, err)
	}
	r, err = nodes[0].Exec(ctx, []string{"/nodeserver", "exit", "0", "", ""})
	if err != nil || r.ExitCode != 0 {
		t.Errorf("Exec exit 0 = %+v, %v", r, err)
	}
	r, err = nodes[0].Exec(ctx, []string{"/no/such/binary"})
	t.Logf("Exec of a missing binary: %+v, %v", r, err)
	if err == nil && r.ExitCode == 0 {
		t.Errorf("Exec of a missing binary succeeded")
	}
	// Exec honours ctx's deadline.
	short, cancelShort := context.WithTimeout(ctx, time.Second)
	t0 := time.Now()
	_, err = nodes[0].Exec(short, []string{"/nodeserver", "sleep", "20s"})
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) > 3*time.Second {
		t.Errorf("Exec past its deadline: %v after %s", err, time.Since(t0))
	}

	// Kill and Start: same host port, same IP.
	n2 := nodes[1]
	port, ip := n2.HostPort("7000"), n2.IP()
	t0 = time.Now()
	if err := n2.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	killDur := time.Since(t0)
	if st, err := n2.State(ctx); err != nil || st.Running || st.ExitCode != 137 {
		t.Errorf("after Kill: %+v, %v", st, err)
	}
	if _, err := banner(n2.Addr("7000"), 500*time.Millisecond); err == nil {
		t.Errorf("killed node answers")
	} else {
		t.Logf("killed node: %v", err)
	}
	if err := n2.Kill(ctx); err != nil {
		t.Errorf("Kill of a killed node: %v", err)
	}
	t0 = time.Now()
	if err := n2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	startDur := time.Since(t0)
	if n2.HostPort("7000") != port || n2.IP() != ip {
		t.Errorf("after Kill/Start: port %d ip %s, want %d %s", n2.HostPort("7000"), n2.IP(), port, ip)
	}
	assertInspectedIP(t, e, c, n2)
	if got, err := banner(n2.Addr("7000"), 2*time.Second); err != nil || got != "node2" {
		t.Errorf("after Kill/Start: banner %q, %v", got, err)
	}
	expectReach(t, nodes[0], "node2:7000", true)
	expectReach(t, n2, "node3:7000", true)
	t.Logf("Kill took %s, Start to ready %s", killDur.Round(time.Millisecond), startDur.Round(time.Millisecond))

	// Stop (graceful) and Start.
	n3 := nodes[2]
	t0 = time.Now()
	if err := n3.Stop(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	stopDur := time.Since(t0)
	st, err := n3.State(ctx)
	if err != nil || st.Running || st.ExitCode != 0 {
		t.Errorf("after Stop: %+v, %v (want exit code 0: SIGTERM handled)", st, err)
	}
	if logs, _ := n3.Logs(ctx, 5); !strings.Contains(logs, "nodeserver: terminated") {
		t.Errorf("Stop: log does not show SIGTERM handling:\n%s", logs)
	}
	if err := n3.Stop(ctx, time.Second); err != nil {
		t.Errorf("Stop of a stopped node: %v", err)
	}
	t0 = time.Now()
	if err := n3.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Stop took %s, Start to ready %s", stopDur.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	if got, err := banner(n3.Addr("7000"), 2*time.Second); err != nil || got != "node3" {
		t.Errorf("after Stop/Start: banner %q, %v", got, err)
	}
	if err := n3.Start(ctx); err != nil {
		t.Errorf("Start of a running node: %v", err)
	}

	// Pause: no answer within 500 ms; Unpause: answers again.
	n1 := nodes[0]
	t0 = time.Now()
	if err := n1.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	pauseDur := time.Since(t0)
	if st, _ := n1.State(ctx); !st.Paused {
		t.Errorf("after Pause: %+v", st)
	}
	if got, err := banner(n1.Addr("7000"), 500*time.Millisecond); err == nil {
		t.Errorf("paused node answered %q", got)
	} else {
		t.Logf("paused node: %v", err)
	}
	if err := n1.Pause(ctx); err != nil {
		t.Errorf("Pause of a paused node: %v", err)
	}
	pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
	r, err = n1.Exec(pctx, []string{"/nodeserver", "exit", "0", "", ""})
	pcancel()
	t.Logf("Exec in a paused node: %+v, %v", r, err)
	if err == nil {
		t.Errorf("Exec in a paused node succeeded")
	}
	t0 = time.Now()
	if err := n1.Unpause(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := waitBanner(n1.Addr("7000"), "node1", 5*time.Second); err != nil {
		t.Errorf("after Unpause: %v", err)
	} else {
		t.Logf("Pause took %s; Unpause to first answer %s", pauseDur.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	}
	if err := n1.Unpause(ctx); err != nil {
		t.Errorf("Unpause of a running node: %v", err)
	}

	// Stop and Kill of a paused node.
	for _, kill := range []bool{false, true} {
		if err := n1.Pause(ctx); err != nil {
			t.Fatal(err)
		}
		t0 = time.Now()
		if kill {
			err = n1.Kill(ctx)
		} else {
			err = n1.Stop(ctx, time.Second)
		}
		if err != nil {
			t.Fatalf("stop (kill=%v) of a paused node: %v", kill, err)
		}
		t.Logf("stop (kill=%v) of a paused node took %s", kill, time.Since(t0).Round(time.Millisecond))
		if err := n1.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// Restart.
	t0 = time.Now()
	if err := n1.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Restart took %s", time.Since(t0).Round(time.Millisecond))
	if got, err := banner(n1.Addr("7000"), 2*time.Second); err != nil || got != "node1" {
		t.Errorf("after Restart: banner %q, %v", got, err)
	}
	logs, err := n1.Logs(ctx, 3)
	if err != nil || !strings.Contains(logs, "listening on") || strings.Count(strings.TrimSpace(logs), "\n") > 2 {
		t.Errorf("Logs(3) = %q, %v", logs, err)
	}

	// Remove (remove-node) and a new node in its place.
	if err := n3.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Node("node3") != nil || len(c.Nodes()) != 2 {
		t.Errorf("node3 still listed after Remove")
	}
	n4, err := c.StartNode(ctx, serverSpec(img, "node4"))
	if err != nil {
		t.Fatal(err)
	}
	expectReach(t, n4, "node1:7000", true)
	if _, err := c.StartNode(ctx, serverSpec(img, "node4")); err == nil {
		t.Errorf("a second node4 was accepted")
	}

	// A second cluster with the same run id is refused and harms nothing.
	if _, err := e.NewCluster(ctx, c.RunID()); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("NewCluster with a live run id: %v", err)
	}
	if _, err := e.NewCluster(ctx, "bad id"); err == nil {
		t.Errorf("NewCluster accepted a bad run id")
	}
	// The run network and one harness network per node (node3's went
	// with it).
	if nets, _ := e.listNetworks(ctx, LabelRun+"="+c.RunID()); len(nets) != 1+len(c.Nodes()) {
		t.Errorf("the run has %d networks, want %d", len(nets), 1+len(c.Nodes()))
	}
	expectReach(t, n4, "node2:7000", true)

	// Close, and nothing works afterwards.
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	assertNoLeftovers(t, e, c.RunID())
	if err := c.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.StartNode(ctx, serverSpec(img, "node5")); err == nil {
		t.Errorf("StartNode after Close succeeded")
	}
}

// assertInspectedIP checks Docker's view of the node's run-network address.
func assertInspectedIP(t *testing.T, e *Engine, c *Cluster, n *Node) {
	t.Helper()
	ci, err := e.client.InspectContainerWithContext(n.ContainerID(), context.Background())
	if err != nil {
		t.Fatal(err)
	}
	nw, ok := ci.NetworkSettings.Networks[c.Network()]
	if !ok || nw.IPAddress != n.IP() {
		t.Errorf("%s: on %s with %+v, want IP %s", n.Name(), c.Network(), nw, n.IP())
	}
}

// harnessIP is the node's address on the harness network.
func harnessIP(t *testing.T, e *Engine, c *Cluster, n *Node) string {
	t.Helper()
	ci, err := e.client.InspectContainerWithContext(n.ContainerID(), context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h := harnessNetworkName(c.runID, n.Name())
	nw, ok := ci.NetworkSettings.Networks[h]
	if !ok || nw.IPAddress == "" {
		t.Fatalf("%s: not on %s: %+v", n.Name(), h, ci.NetworkSettings.Networks)
	}
	return nw.IPAddress
}

func TestPartitionHeal(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	img := nodeServerImage(t, e)
	c := newTestCluster(t, e)
	nodes := startNodes(t, c, img, 3)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	hostReachesAll := func(when string) {
		t.Helper()
		for _, n := range nodes {
			if got, err := banner(n.Addr("7000"), 2*time.Second); err != nil || got != n.Name() {
				t.Errorf("%s: host -> %s via %s: %q, %v", when, n.Name(), n.Addr("7000"), got, err)
			}
		}
	}
	allConnected := func(when string) {
		t.Helper()
		for _, a := range nodes {
			for _, b := range nodes {
				if a != b {
					expectReach(t, a, b.Name()+":7000", true)
				}
			}
		}
		hostReachesAll(when)
	}
	allConnected("before")

	// Connections opened before the partition, one to each node (node1
	// stays on the run network, node2 and node3 leave it): the harness's
	// own path must carry them through Partition and Heal.
	kept := make([]net.Conn, len(nodes))
	for i, n := range nodes {
		conn, err := net.DialTimeout("tcp", n.Addr("8080"), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		kept[i] = conn
	}
	keptWork := func(when string) {
		t.Helper()
		for i, n := range nodes {
			if got := httpOnConn(kept[i]); !strings.Contains(got, "ok "+n.Name()) {
				t.Errorf("%s: a connection to %s opened before the partition: %q", when, n.Name(), got)
			}
		}
	}
	keptWork("before")
	// The harness network carries no traffic between nodes.
	harnessUnreachable := func(when string) {
		t.Helper()
		for _, a := range nodes {
			for _, b := range nodes {
				if a != b {
					expectReach(t, a, harnessIP(t, e, c, b)+":7000", false)
				}
			}
		}
	}
	harnessUnreachable("before")

	t0 := time.Now()
	if err := c.Partition(ctx, [][]*Node{{n1}, {n2, n3}}); err != nil {
		t.Fatal(err)
	}
	partDur := time.Since(t0)
	// Published ports right after Partition returns.
	for _, n := range nodes {
		if d, err := waitBanner(n.Addr("7000"), n.Name(), 5*time.Second); err != nil {
			t.Errorf("during partition: host -> %s: %v", n.Name(), err)
		} else if d > 200*time.Millisecond {
			t.Logf("during partition: host -> %s answered after %s", n.Name(), d.Round(time.Millisecond))
		}
	}
	keptWork("during partition")
	harnessUnreachable("during partition")
	expectReach(t, n2, "node3:7000", true)
	expectReach(t, n3, "node2:7000", true)
	expectReach(t, n2, "node1:7000", false)
	expectReach(t, n3, "node1:7000", false)
	expectReach(t, n1, "node2:7000", false)
	expectReach(t, n1, "node3:7000", false)
	expectReach(t, n1, n2.IP()+":7000", false)
	expectReach(t, n2, n1.IP()+":7000", false)
	hostReachesAll("during partition")
	for _, n := range nodes {
		if st, err := n.State(ctx); err != nil || !st.Running {
			t.Errorf("%s during partition: %+v, %v", n.Name(), st, err)
		}
	}

	t0 = time.Now()
	if err := c.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	healDur := time.Since(t0)
	allConnected("after heal")
	keptWork("after heal")
	for _, n := range nodes {
		assertInspectedIP(t, e, c, n)
	}
	if err := c.Heal(ctx); err != nil {
		t.Errorf("Heal of a healed cluster: %v", err)
	}
	t.Logf("Partition([[n1],[n2,n3]]) took %s, Heal %s", partDur.Round(time.Millisecond), healDur.Round(time.Millisecond))

	// A kill and start inside a partition keeps the node off the run network.
	if err := c.Partition(ctx, [][]*Node{{n1, n2}, {n3}}); err != nil {
		t.Fatal(err)
	}
	expectReach(t, n1, "node2:7000", true)
	expectReach(t, n1, "node3:7000", false)
	expectReach(t, n3, "node2:7000", false)
	if err := n3.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n3.Start(ctx); err != nil {
		t.Fatal(err)
	}
	expectReach(t, n3, "node1:7000", false)
	hostReachesAll("partition after kill/start")

	// Re-partitioning heals first; two non-first groups are apart.
	if err := c.Partition(ctx, [][]*Node{{n1}, {n2}, {n3}}); err != nil {
		t.Fatal(err)
	}
	expectReach(t, n2, "node3:7000", false)
	expectReach(t, n3, "node1:7000", false)
	expectReach(t, n1, "node2:7000", false)
	hostReachesAll("three groups")
	// Bad groups.
	if err := c.Partition(ctx, [][]*Node{{n1}, {n1, n2}}); err == nil {
		t.Errorf("a node in two groups was accepted")
	}
	// A paused node can be partitioned and healed; it answers once resumed.
	if err := n2.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Partition(ctx, [][]*Node{{n1}, {n2, n3}}); err != nil {
		t.Fatalf("partition with a paused node: %v", err)
	}
	if err := c.Heal(ctx); err != nil {
		t.Fatalf("heal with a paused node: %v", err)
	}
	if err := n2.Unpause(ctx); err != nil {
		t.Fatal(err)
	}
	expectReach(t, n2, "node1:7000", true)
	expectReach(t, n1, "node2:7000", true)
	// Close while partitioned, with a paused node: the cleanup asserts
	// that the group network and the paused container are gone.
	if err := c.Partition(ctx, [][]*Node{{n1}, {n2, n3}}); err != nil {
		t.Fatal(err)
	}
	if err := n3.Pause(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestReadyTimeout(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	img := nodeServerImage(t, e)
	c := newTestCluster(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec := serverSpec(img, "node9")
	spec.ReadyTimeout = 2 * time.Second
	spec.Ready = func(ctx context.Context, n *Node) error { return errors.New("the check never passes") }
	t0 := time.Now()
	_, err := c.StartNode(ctx, spec)
	d := time.Since(t0)
	var re *ReadyError
	if !errors.As(err, &re) {
		t.Fatalf("StartNode = %v (%T), want *ReadyError", err, err)
	}
	msg := err.Error()
	t.Logf("after %s:\n%s", d.Round(time.Millisecond), msg)
	for _, want := range []string{"node node9", "not ready after 2", "the check never passes", "nodeserver node9 listening on :7000"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if re.After < 2*time.Second || re.After > 4*time.Second {
		t.Errorf("waited %s with a ReadyTimeout of 2s", re.After)
	}
	assertNoNodeContainer(t, e, c, "node9")

	// The name is free again.
	spec = serverSpec(img, "node9")
	if _, err := c.StartNode(ctx, spec); err != nil {
		t.Fatalf("node9 after a failed start: %v", err)
	}
}

func TestReadyExited(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	img := nodeServerImage(t, e)
	c := newTestCluster(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec := serverSpec(img, "node7")
	spec.Cmd = []string{"crash"}
	spec.ReadyTimeout = 30 * time.Second
	t0 := time.Now()
	_, err := c.StartNode(ctx, spec)
	d := time.Since(t0)
	var re *ReadyError
	if !errors.As(err, &re) || !re.Exited || re.ExitCode != 3 {
		t.Fatalf("StartNode = %v, want a *ReadyError with exit code 3", err)
	}
	msg := err.Error()
	t.Logf("after %s:\n%s", d.Round(time.Millisecond), msg)
	if !strings.Contains(msg, "node node7") || !strings.Contains(msg, "crash line 30") ||
		!strings.Contains(msg, "configured to crash") || strings.Contains(msg, "crash line 3\n") {
		t.Errorf("error lacks the node name or the right log tail")
	}
	if n := strings.Count(re.LogTail, "\n"); n < 15 || n > 25 {
		t.Errorf("log tail has %d lines", n)
	}
	if re.After > 5*time.Second {
		t.Errorf("an exited container was noticed after %s", re.After)
	}
	assertNoNodeContainer(t, e, c, "node7")
}

func assertNoNodeContainer(t *testing.T, e *Engine, c *Cluster, name string) {
	t.Helper()
	cs, err := e.client.ListContainers(dc.ListContainersOptions{All: true, Filters: map[string][]string{
		"label": {LabelRun + "=" + c.RunID(), LabelNode + "=" + name}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 0 {
		t.Errorf("container of %s left after a failed start: %v", name, cs[0].Names)
	}
	if c.Node(name) != nil {
		t.Errorf("%s is listed after a failed start", name)
	}
}

func TestSweep(t *testing.T) {
	t.Parallel()
	real := testEngine(t)
	img := nodeServerImage(t, real)
	// This test's engine has a host name of its own: its resources are
	// another host's to every other process's sweep (the test packages run
	// at once, and each cluster start sweeps), so only this test's Sweep
	// judges them, and the counts below are its own.
	tag := randomHex(4)
	e := &Engine{pool: real.pool, client: real.client, base: real.base, owner: real.owner, Logf: real.Logf}
	e.owner.host = "evalrun-test-sweep-" + tag
	live := newTestCluster(t, e)
	liveNode := startNodes(t, live, img, 1)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A pid that no longer exists.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := cmd.ProcessState.Pid()
	if _, err := os.Stat("/proc/" + strconv.Itoa(deadPID)); err == nil {
		t.Skipf("pid %d was reused at once", deadPID)
	}
	host := e.owner.host
	mk := func(runID string, pid int, pidStart, host string, withRun bool) map[string]string {
		l := map[string]string{LabelCreated: "1", LabelPID: strconv.Itoa(pid), LabelPIDStart: pidStart, LabelHost: host,
			"evalrun-test.sweep": tag}
		if withRun {
			l[LabelRun] = runID
		}
		return l
	}
	create := func(name string, labels map[string]string) string {
		t.Helper()
		cont, err := e.client.CreateContainer(dc.CreateContainerOptions{Name: name + "-" + tag, Context: ctx,
			Config: &dc.Config{Image: img, Labels: labels}, HostConfig: &dc.HostConfig{NetworkMode: "none"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.removeContainer(context.Background(), cont.ID) })
		return cont.ID
	}
	deadID := create("evalrun-test-sweep-dead", mk("test-sweep-dead-"+tag, deadPID, "", host, true))
	if err := e.client.StartContainerWithContext(deadID, nil, ctx); err != nil {
		t.Fatal(err)
	}
	reusedID := create("evalrun-test-sweep-reused", mk("test-sweep-reused-"+tag, os.Getppid(), "1", host, true))
	otherHostID := create("evalrun-test-sweep-otherhost", mk("test-sweep-other-"+tag, deadPID, "", host+"-elsewhere", true))
	unlabelledID := create("evalrun-test-sweep-unlabelled", mk("", deadPID, "", host, false))
	net, err := e.client.CreateNetwork(dc.CreateNetworkOptions{Name: "evalrun-test-sweep-" + tag, Driver: "bridge",
		Labels: mk("test-sweep-dead-"+tag, deadPID, "", host, true), Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.removeNetwork(context.Background(), net.ID) })

	sw, err := e.Sweep(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Sweep(false) = %+v", sw)
	if sw.Containers < 2 || sw.Networks < 1 {
		t.Errorf("Sweep(false) = %+v, want at least 2 containers and 1 network", sw)
	}
	exists := func(id string) bool {
		_, err := e.client.InspectContainerWithContext(id, ctx)
		return err == nil
	}
	if exists(deadID) {
		t.Errorf("container of a dead pid survived")
	}
	if exists(reusedID) {
		t.Errorf("container of a reused pid (other start time) survived")
	}
	if !exists(otherHostID) {
		t.Errorf("container of another host was removed")
	}
	if !exists(unlabelledID) {
		t.Errorf("container without %s was removed", LabelRun)
	}
	if _, err := e.inspectNetwork(ctx, net.ID); err == nil {
		t.Errorf("network of a dead pid survived")
	}
	if st, err := liveNode.State(ctx); err != nil || !st.Running {
		t.Errorf("the live run's node: %+v, %v", st, err)
	}
	if got, err := banner(liveNode.Addr("7000"), 2*time.Second); err != nil || got != "node1" {
		t.Errorf("the live run's node after Sweep: %q, %v", got, err)
	}
	nets, _ := e.listNetworks(ctx, LabelRun+"="+live.RunID())
	if len(nets) != 2 {
		t.Errorf("the live run has %d networks after Sweep, want 2", len(nets))
	}
}

func TestIsOrphan(t *testing.T) {
	alive := func(pid int, start string) bool { return pid == 100 && (start == "" || start == "555") }
	l := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"unlabelled", l(LabelPID, "7", LabelHost, "h"), false},
		{"live", l(LabelRun, "r", LabelPID, "100", LabelPIDStart, "555", LabelHost, "h"), false},
		{"live without start", l(LabelRun, "r", LabelPID, "100", LabelHost, "h"), false},
		{"dead", l(LabelRun, "r", LabelPID, "7", LabelHost, "h"), true},
		{"reused", l(LabelRun, "r", LabelPID, "100", LabelPIDStart, "1", LabelHost, "h"), true},
		{"other host", l(LabelRun, "r", LabelPID, "7", LabelHost, "x"), false},
		{"no pid", l(LabelRun, "r", LabelHost, "h"), true},
	} {
		if got := isOrphan(tc.labels, "h", alive); got != tc.want {
			t.Errorf("%s: isOrphan = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !procAlive(os.Getpid(), procStart(os.Getpid())) {
		t.Errorf("this process is not alive")
	}
	if procStart(os.Getpid()) == "" {
		t.Errorf("procStart of this process is empty")
	}
	if procAlive(os.Getppid(), "1") {
		t.Errorf("a pid with another start time is alive")
	}
}

func TestEnsureImage(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	img := nodeServerImage(t, e)
	var logs []string
	e.Logf = func(f string, a ...any) {
		logs = append(logs, strings.TrimSpace(fmt.Sprintf(f, a...)))
		t.Logf(f, a...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id, ok, err := e.ImageID(ctx, img)
	if err != nil || !ok || id != imgID {
		t.Fatalf("ImageID(%s) = %q, %v, %v", img, id, ok, err)
	}
	if _, ok, err := e.ImageID(ctx, "evalrun-test/absent:"+randomHex(4)); ok || err != nil {
		t.Errorf("ImageID of an absent image: %v, %v", ok, err)
	}
	got, err := e.EnsureImage(ctx, img, func(context.Context) error {
		t.Error("build called for a present image")
		return nil
	})
	if err != nil || got != imgID {
		t.Errorf("EnsureImage(present) = %q, %v", got, err)
	}

	ref := "evalrun-test/ensure:" + randomHex(4)
	t.Cleanup(func() { _ = e.client.RemoveImageExtended(ref, dc.RemoveImageOptions{Force: true}) })
	built := 0
	t0 := time.Now()
	id, err = e.EnsureImage(ctx, ref, func(ctx context.Context) error {
		built++
		_, err := e.BuildScratchImage(ctx, ref, map[string]FileSpec{
			"/etc/motd":       {Data: []byte("hi\n")},
			"/usr/bin/hello":  {Mode: 0o755, Data: []byte("#!/bin/sh\n")},
			"/usr/share/x/y":  {Mode: 0o600, Data: nil},
			"/usr/share/x/y2": {Data: []byte("z")},
		}, []string{"/usr/bin/hello", "arg"})
		return err
	})
	if err != nil || built != 1 || id == "" {
		t.Fatalf("EnsureImage(absent) = %q, %v (built %d times)", id, err, built)
	}
	t.Logf("EnsureImage of an absent image (failed pull + scratch build) took %s", time.Since(t0).Round(time.Millisecond))
	if !strings.Contains(strings.Join(logs, "\n"), "cannot pull "+ref) {
		t.Errorf("no 'cannot pull' progress line in %q", logs)
	}
	ii, err := e.client.InspectImage(ref)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ii.Config.Entrypoint, " ") != "/usr/bin/hello arg" || ii.Config.Labels[LabelImage] != "scratch" {
		t.Errorf("image config: entrypoint %q labels %v", ii.Config.Entrypoint, ii.Config.Labels)
	}
	again, err := e.EnsureImage(ctx, ref, func(context.Context) error {
		t.Error("build called again")
		return nil
	})
	if err != nil || again != id {
		t.Errorf("second EnsureImage = %q, %v, want %q", again, err, id)
	}
	if _, err := e.BuildScratchImage(ctx, ref, map[string]FileSpec{"relative": {}}, nil); err == nil {
		t.Errorf("a relative file path was accepted")
	}
}

// httpOnConn sends GET /health on conn and returns the answer's status line
// and body, or the error.
func httpOnConn(conn net.Conn) string {
	if err := conn.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return "error: " + err.Error()
	}
	if _, err := fmt.Fprintf(conn, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return "error: " + err.Error()
	}
	b := make([]byte, 512)
	n, err := io.ReadAtLeast(conn, b, 1)
	if err != nil {
		return "error: " + err.Error()
	}
	time.Sleep(20 * time.Millisecond)
	if m, _ := conn.Read(b[n:]); m > 0 {
		n += m
	}
	return string(b[:n])
}
