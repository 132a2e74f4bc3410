package docker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	dc "github.com/ory/dockertest/v3/docker"
)

// CloseTimeout bounds Cluster.Close.
const CloseTimeout = 15 * time.Second

var (
	runIDRe    = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,99}$`)
	nodeNameRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)
	domainRe   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?)*$`)
)

// Cluster is the set of containers and networks of one run: a run network
// (evalrun-<run-id>, where nodes talk to each other by name), a harness
// network per node (evalrun--<run-id>-<node>, which carries its published
// ports) and, during a partition, one network per isolated group. See the
// package documentation.
type Cluster struct {
	e       *Engine
	runID   string
	netName string
	netID   string
	subnet  *net.IPNet
	gateway net.IP
	// harnessSpace is the half of the subnet Docker gave the run that the
	// run network leaves free: the nodes' harness networks take /29s of
	// it (nil when the subnet was too small to split: they then take
	// subnets from Docker's pools).
	harnessSpace *net.IPNet

	opMu sync.Mutex // serialises Partition, Heal and Close

	mu          sync.Mutex
	nodes       []*Node
	names       map[string]bool
	nextHost    uint32
	nextHarness uint32   // next /29 of harnessSpace
	groupNets   []string // IDs of partition networks
	partitioned bool
	closed      bool
}

// NewCluster creates the networks of run runID. The run id must be unique
// among live clusters (it names the networks and containers); NewCluster
// fails if its network already exists.
func (e *Engine) NewCluster(ctx context.Context, runID string) (*Cluster, error) {
	if !runIDRe.MatchString(runID) {
		return nil, fmt.Errorf("docker: bad run id %q: want [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 100 characters", runID)
	}
	c := &Cluster{e: e, runID: runID, netName: "evalrun-" + runID, names: map[string]bool{}, nextHost: 2}
	if err := c.createRunNetwork(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// harnessNetworkName names the harness network of node node of run runID.
// Each node has one of its own, which it alone is on, and which is its
// gateway network: Docker publishes a container's ports through its
// gateway endpoint and, among non-internal networks of equal priority,
// makes the one first by name the gateway, and the "--" sorts this name
// before the run network (evalrun-<run-id>) and every group network
// (evalrun-<run-id>-g<k>), since a run id starts with a letter or digit.
// So Partition and Heal, which connect and disconnect only those other
// networks, never move the published ports (moving them restarts Docker's
// port proxy, which ends every connection the host had open to the node).
//
// The network is per node because the gateway network is also the first
// one Docker's DNS looks a name up on, and Docker registers each
// container's hostname on every network it joins: on a network shared by
// the nodes, node2 would resolve to its harness address, where peers must
// not reach it. Alone on its network, a node finds no peer there, its
// lookups fall through to the run network, and it cannot send to a peer
// through it either. The cost is one network (and one subnet from
// Docker's address pools) per node.
//
// Two other designs were weighed. Making the run and group networks
// internal (Docker prefers a non-internal gateway) moves DNS the same way.
// Partitioning with iptables inside each node's namespace instead of
// moving networks would keep the ports where they are too, but costs a
// helper container per node and per fault and one more thing to re-apply
// when a node restarts.
func harnessNetworkName(runID, node string) string { return "evalrun--" + runID + "-" + node }

// RunID is the run id the cluster was created with.
func (c *Cluster) RunID() string { return c.runID }

// Network is the name of the run network (evalrun-<run-id>).
func (c *Cluster) Network() string { return c.netName }

// Subnet is the run network's subnet; node IPs are fixed within it.
func (c *Cluster) Subnet() string { return c.subnet.String() }

// Nodes returns the nodes in the order they were started.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Node(nil), c.nodes...)
}

// Node returns the node named name, or nil.
func (c *Cluster) Node(name string) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// HostAddr translates an address that nodes use among themselves
// ("172.20.0.3:6379", "node2:6379") to the published address the host must
// dial ("127.0.0.1:23456"). It is what a client needs when the database
// redirects it to a peer (Redis Cluster's MOVED, member lists).
func (c *Cluster) HostAddr(internal string) (string, bool) {
	host, port, err := net.SplitHostPort(internal)
	if err != nil {
		return "", false
	}
	for _, n := range c.Nodes() {
		if n.ip == host || n.name == host {
			if a := n.Addr(port); a != "" {
				return a, true
			}
		}
	}
	return "", false
}

func (c *Cluster) labels(role string) map[string]string {
	l := c.e.Labels(c.runID)
	if role != "" {
		l[LabelRole] = role
	}
	return l
}

func (c *Cluster) createNetwork(ctx context.Context, name, role string, opts map[string]any, ipam *dc.IPAMOptions) (string, error) {
	n, err := c.e.client.CreateNetwork(dc.CreateNetworkOptions{
		Name: name, Driver: "bridge", Labels: c.labels(role), Options: opts, IPAM: ipam,
		CheckDuplicate: true, Context: ctx,
	})
	if errors.Is(err, dc.ErrNetworkAlreadyExists) {
		return "", fmt.Errorf("docker: network %s already exists: run id %q is in use or was left behind (evalrun clean removes it)", name, c.runID)
	}
	if err != nil {
		return "", fmt.Errorf("docker: create network %s: %w", name, err)
	}
	return n.ID, nil
}

// createRunNetwork creates the run network with an explicit subnet (the one
// Docker picks for it), because only then can nodes have fixed addresses:
// a node keeps its IP across stop/start and partition/heal.
func (c *Cluster) createRunNetwork(ctx context.Context) error {
	var lastErr error
	for range 3 {
		id, err := c.createNetwork(ctx, c.netName, RoleRun, nil, nil)
		if err != nil {
			return err
		}
		n, err := c.e.inspectNetwork(ctx, id)
		rmErr := c.e.removeNetwork(ctx, id)
		if err != nil {
			return fmt.Errorf("docker: inspect network %s: %w", c.netName, err)
		}
		if rmErr != nil {
			return fmt.Errorf("docker: remove network %s: %w", c.netName, rmErr)
		}
		var subnet, gw string
		for _, cfg := range n.IPAM.Config {
			if _, ipn, err := net.ParseCIDR(cfg.Subnet); err == nil && ipn.IP.To4() != nil {
				subnet, gw = cfg.Subnet, cfg.Gateway
				break
			}
		}
		if subnet == "" {
			return fmt.Errorf("docker: network %s got no IPv4 subnet", c.netName)
		}
		_, ipn, _ := net.ParseCIDR(subnet)
		ones, bits := ipn.Mask.Size()
		if bits-ones < 3 {
			return fmt.Errorf("docker: network %s: subnet %s is too small", c.netName, subnet)
		}
		runNet, harness := splitSubnet(ipn, net.ParseIP(gw))
		ipam := &dc.IPAMOptions{Driver: "default", Config: []dc.IPAMConfig{{Subnet: runNet.String(), Gateway: gw}}}
		id, err = c.createNetwork(ctx, c.netName, RoleRun, nil, ipam)
		if err != nil {
			lastErr = err // another network took the subnet meanwhile: try again
			continue
		}
		c.netID, c.subnet, c.harnessSpace = id, runNet, harness
		c.gateway = net.ParseIP(gw).To4()
		return nil
	}
	return lastErr
}

// harnessSlotBits sizes a node's harness network: a /29 holds its
// gateway and the node.
const harnessSlotBits = 3

// splitSubnet splits the subnet Docker gave the run (a /16 or a /20 from
// its default pools) in halves: the run network keeps the half that holds
// gw, and the other is where the nodes' harness networks take their /29s.
// Docker's pools hold about 30 subnets in all, so a network per node that
// took one each would run them out with a few clusters at once (seen: the
// 29th network failed); split so, a run takes one subnet, as it did before
// nodes had harness networks of their own. A subnet smaller than a /24 is
// not split (harness is nil).
func splitSubnet(ipn *net.IPNet, gw net.IP) (run, harness *net.IPNet) {
	ones, bits := ipn.Mask.Size()
	if bits != 32 || bits-ones < 8 {
		return ipn, nil
	}
	mask := net.CIDRMask(ones+1, bits)
	lo := &net.IPNet{IP: ipn.IP.Mask(mask), Mask: mask}
	hiIP := make(net.IP, 4)
	binary.BigEndian.PutUint32(hiIP, binary.BigEndian.Uint32(lo.IP.To4())|uint32(1)<<uint(bits-ones-1))
	hi := &net.IPNet{IP: hiIP, Mask: mask}
	if gw != nil && hi.Contains(gw) {
		return hi, lo
	}
	return lo, hi
}

// harnessIPAM is the address plan of the next node's harness network: the
// next /29 of harnessSpace, nil (Docker's pools) when there is none left.
func (c *Cluster) harnessIPAM() *dc.IPAMOptions {
	if c.harnessSpace == nil {
		return nil
	}
	ones, bits := c.harnessSpace.Mask.Size()
	slots := uint32(1) << uint(bits-ones-harnessSlotBits)
	c.mu.Lock()
	k := c.nextHarness
	c.nextHarness++
	c.mu.Unlock()
	if k >= slots {
		return nil
	}
	base := binary.BigEndian.Uint32(c.harnessSpace.IP.To4()) + k<<harnessSlotBits
	subnet, gw := make(net.IP, 4), make(net.IP, 4)
	binary.BigEndian.PutUint32(subnet, base)
	binary.BigEndian.PutUint32(gw, base+1)
	cidr := &net.IPNet{IP: subnet, Mask: net.CIDRMask(bits-harnessSlotBits, bits)}
	return &dc.IPAMOptions{Driver: "default", Config: []dc.IPAMConfig{{Subnet: cidr.String(), Gateway: gw.String()}}}
}

// allocIP returns the next fixed address of the run network.
func (c *Cluster) allocIP() (string, error) {
	base := binary.BigEndian.Uint32(c.subnet.IP.To4())
	ones, bits := c.subnet.Mask.Size()
	size := uint32(1) << uint(bits-ones)
	for c.nextHost < size-1 {
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, base+c.nextHost)
		c.nextHost++
		if !ip.Equal(c.gateway) {
			return ip.String(), nil
		}
	}
	return "", fmt.Errorf("docker: network %s is full", c.netName)
}

// NodeSpec describes one node (container).
type NodeSpec struct {
	// Name is the node's name (node1…): container hostname, DNS alias on
	// the run network, and suffix of the container name evalrun-<run>-<name>.
	Name string
	// Domain, when set, makes the hostname Name.Domain (a dotted name, for
	// software that insists on one: Erlang long node names) and adds
	// Name.Domain as a DNS alias beside Name on every network of the node.
	Domain     string
	Image      string
	Entrypoint []string // nil: the image's
	Cmd        []string // nil: the image's
	Env        []string // KEY=VALUE
	// Ports are container ports ("6379/tcp", "16379") published on
	// 127.0.0.1 at host ports chosen now and kept for the node's life.
	Ports []string
	// Binds are "host-path:container-path[:ro]" bind mounts.
	Binds []string
	// Tmpfs maps container paths to tmpfs options ("size=64m").
	Tmpfs      map[string]string
	User       string
	WorkingDir string
	CapAdd     []string
	// Init runs docker-init (tini) as PID 1, so that a program that does not
	// handle SIGTERM itself still stops gracefully.
	Init   bool
	Labels map[string]string // extra container labels
	// Resources limits the container (CPU quota, memory); zero: none.
	Resources Resources
	// Ready reports whether the node serves. It is polled (every 100 ms
	// rising to 500 ms) until it returns nil or ReadyTimeout passes; ctx
	// carries that deadline. nil: the container running is enough.
	Ready        func(ctx context.Context, n *Node) error
	ReadyTimeout time.Duration // default 60s
	StopGrace    time.Duration // for Restart; default 10s
}

// ShellEntrypoint is a NodeSpec.Entrypoint that runs a driver's entrypoint
// script with /bin/sh -c, so that it works in any image with a shell (the
// official one and ours alike): the container's Cmd becomes the script's
// "$@", and name its $0 (what ps shows).
func ShellEntrypoint(name, script string) []string {
	return []string{"/bin/sh", "-c", script, name}
}

// StartNode creates, starts and waits for one node. On error (the container
// exited, Ready did not succeed in time) it removes the container; the error
// is a *ReadyError when the container ran, naming the node and carrying the
// end of its log.
func (c *Cluster) StartNode(ctx context.Context, spec NodeSpec) (*Node, error) {
	if !nodeNameRe.MatchString(spec.Name) {
		return nil, fmt.Errorf("docker: bad node name %q: want a hostname like node1", spec.Name)
	}
	if spec.Domain != "" && !domainRe.MatchString(spec.Domain) {
		return nil, fmt.Errorf("docker: node %s: bad domain %q: want DNS labels like riak or evalrun.test", spec.Name, spec.Domain)
	}
	if spec.Image == "" {
		return nil, fmt.Errorf("docker: node %s: no image", spec.Name)
	}
	if err := spec.Resources.Check(); err != nil {
		return nil, fmt.Errorf("docker: node %s: resources: %w", spec.Name, err)
	}
	if spec.ReadyTimeout <= 0 {
		spec.ReadyTimeout = 60 * time.Second
	}
	if spec.StopGrace <= 0 {
		spec.StopGrace = 10 * time.Second
	}
	var ports []string
	for _, p := range spec.Ports {
		np, err := normPort(p)
		if err != nil {
			return nil, fmt.Errorf("docker: node %s: %w", spec.Name, err)
		}
		ports = append(ports, np)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("docker: node %s: cluster %s is closed", spec.Name, c.runID)
	}
	if c.names[spec.Name] {
		c.mu.Unlock()
		return nil, fmt.Errorf("docker: node %s already exists in run %s", spec.Name, c.runID)
	}
	ip, err := c.allocIP()
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	c.names[spec.Name] = true
	c.mu.Unlock()

	n := &Node{c: c, spec: spec, name: spec.Name, cname: c.netName + "-" + spec.Name, ip: ip}
	for attempt := 1; ; attempt++ {
		n.ports = map[string]int{}
		for _, p := range ports {
			hp, err := freePort()
			if err != nil {
				c.forget(n)
				return nil, err
			}
			n.ports[p] = hp
		}
		err = c.createAndStart(ctx, n)
		if err == nil {
			break
		}
		if attempt < 3 && isPortConflict(err) && ctx.Err() == nil {
			continue // someone took a host port between the check and the start
		}
		c.forget(n)
		return nil, err
	}
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	return n, nil
}

func (c *Cluster) forget(n *Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.names, n.name)
	for i, x := range c.nodes {
		if x == n {
			c.nodes = append(c.nodes[:i], c.nodes[i+1:]...)
			break
		}
	}
}

func isPortConflict(err error) bool {
	s := err.Error()
	return strings.Contains(s, "port is already allocated") || strings.Contains(s, "address already in use")
}

func (c *Cluster) createAndStart(ctx context.Context, n *Node) error {
	spec := n.spec
	labels := c.labels("")
	for k, v := range spec.Labels {
		labels[k] = v
	}
	labels[LabelNode] = spec.Name
	exposed := map[dc.Port]struct{}{}
	bindings := map[dc.Port][]dc.PortBinding{}
	for p, hp := range n.ports {
		exposed[dc.Port(p)] = struct{}{}
		bindings[dc.Port(p)] = []dc.PortBinding{{HostIP: "127.0.0.1", HostPort: strconv.Itoa(hp)}}
	}
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), createTimeout)
	cont, err := c.e.client.CreateContainer(dc.CreateContainerOptions{
		Name: n.cname,
		Config: &dc.Config{
			Hostname: n.Hostname(), Image: spec.Image, Entrypoint: spec.Entrypoint, Cmd: spec.Cmd, Env: spec.Env,
			ExposedPorts: exposed, Labels: labels, User: spec.User, WorkingDir: spec.WorkingDir,
		},
		HostConfig: &dc.HostConfig{
			NetworkMode: c.netName, PortBindings: bindings, Binds: spec.Binds, Tmpfs: spec.Tmpfs,
			CapAdd: spec.CapAdd, Init: spec.Init,
			CPUPeriod: spec.Resources.cpuPeriod(), CPUQuota: spec.Resources.cpuQuota(),
			Memory: spec.Resources.MemoryBytes, MemorySwap: spec.Resources.MemoryBytes,
		},
		NetworkingConfig: &dc.NetworkingConfig{EndpointsConfig: map[string]*dc.EndpointConfig{
			c.netName: {Aliases: n.aliases(), IPAMConfig: &dc.EndpointIPAMConfig{IPv4Address: n.ip}},
		}},
		// Not ctx: a create that the daemon completes after the client
		// gave up leaves a container that nothing tracks (seen under
		// load: three etcd containers outlived a start's deadline).
		// Wait for the answer, bounded, and remove what ctx no longer wants.
		Context: cctx,
	})
	ccancel()
	if err == nil && ctx.Err() != nil {
		n.id = cont.ID
		c.removeUnwanted(ctx, n.id)
		return fmt.Errorf("docker: node %s: create container: %w", spec.Name, ctx.Err())
	}
	if err != nil {
		if !errors.Is(err, dc.ErrContainerAlreadyExists) {
			c.removeUnwanted(ctx, n.cname) // the daemon may have created it all the same
		}
		if errors.Is(err, dc.ErrNoSuchImage) {
			return fmt.Errorf("docker: node %s: image %s is not present locally", spec.Name, spec.Image)
		}
		return fmt.Errorf("docker: node %s: create container: %w", spec.Name, err)
	}
	n.id = cont.ID
	cleanup := func() { c.removeUnwanted(ctx, n.id) }
	hName := harnessNetworkName(c.runID, spec.Name)
	hID, err := c.createNetwork(ctx, hName, RoleHarness, nil, c.harnessIPAM())
	if err != nil {
		cleanup()
		return fmt.Errorf("docker: node %s: %w", spec.Name, err)
	}
	cleanup = func() {
		c.removeUnwanted(ctx, n.id)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = c.removeNetworkRetry(rctx, hID)
	}
	if err := c.e.client.ConnectNetwork(hID, dc.NetworkConnectionOptions{Container: n.id, Context: ctx}); err != nil {
		cleanup()
		return fmt.Errorf("docker: node %s: connect to %s: %w", spec.Name, hName, err)
	}
	if err := c.e.client.StartContainerWithContext(n.id, nil, ctx); err != nil {
		cleanup()
		return fmt.Errorf("docker: node %s: start container: %w", spec.Name, err)
	}
	if err := n.WaitReady(ctx); err != nil {
		cleanup()
		return err
	}
	return nil
}

// createTimeout bounds a container create, which StartNode lets finish
// past its caller's deadline so that its outcome is known.
const createTimeout = time.Minute

// removeUnwanted removes a container (by ID or name) that a failed start
// leaves, whatever ctx's state; a container that does not exist is fine.
func (c *Cluster) removeUnwanted(ctx context.Context, idOrName string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = c.e.removeContainer(rctx, idOrName)
}

// Partition cuts the cluster into groups. The first group, and every node
// in no group, stays on the run network; each node of another group leaves
// it, and a group of several nodes gets a network of its own where its
// members keep their names (but not their run-network IPs). Published
// ports keep working throughout. A partition in place is healed first.
func (c *Cluster) Partition(ctx context.Context, groups [][]*Node) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	seen := map[*Node]bool{}
	for _, g := range groups {
		for _, n := range g {
			if n == nil || n.c != c {
				return fmt.Errorf("docker: partition: a node is not of run %s", c.runID)
			}
			if seen[n] {
				return fmt.Errorf("docker: partition: node %s is in two groups", n.name)
			}
			seen[n] = true
		}
	}
	c.mu.Lock()
	closed, partitioned := c.closed, c.partitioned
	c.mu.Unlock()
	if closed {
		return fmt.Errorf("docker: partition: cluster %s is closed", c.runID)
	}
	if partitioned {
		if err := c.heal(ctx); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.partitioned = true
	c.mu.Unlock()
	// First give multi-node groups their networks, then cut everyone off
	// the run network, so each group is whole when the cut happens.
	var cut []*Node
	for gi := 1; gi < len(groups); gi++ {
		g := groups[gi]
		if len(g) >= 2 {
			id, err := c.createNetwork(ctx, fmt.Sprintf("%s-g%d", c.netName, gi), RolePartition, nil, nil)
			if err != nil {
				return fmt.Errorf("docker: partition: %w", err)
			}
			c.mu.Lock()
			c.groupNets = append(c.groupNets, id)
			c.mu.Unlock()
			err = parallel(len(g), func(i int) error {
				n := g[i]
				err := c.e.client.ConnectNetwork(id, dc.NetworkConnectionOptions{Container: n.id, Context: ctx,
					EndpointConfig: &dc.EndpointConfig{Aliases: n.aliases()}})
				if err != nil {
					return fmt.Errorf("node %s: connect to its group network: %w", n.name, err)
				}
				n.setGroup(id)
				return nil
			})
			if err != nil {
				return fmt.Errorf("docker: partition: %w", err)
			}
		}
		cut = append(cut, g...)
	}
	err := parallel(len(cut), func(i int) error {
		n := cut[i]
		err := c.e.client.DisconnectNetwork(c.netID, dc.NetworkConnectionOptions{Container: n.id, Context: ctx})
		if err != nil && !isNotConnected(err) {
			return fmt.Errorf("node %s: disconnect from %s: %w", n.name, c.netName, err)
		}
		n.setOffRun(true)
		return nil
	})
	if err != nil {
		return fmt.Errorf("docker: partition: %w", err)
	}
	return c.reshape(ctx) // the cut nodes have new interfaces
}

// Heal puts every node back on the run network (same alias, same IP) and
// removes the partition networks. Healing an unpartitioned cluster is a
// no-op.
func (c *Cluster) Heal(ctx context.Context) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if err := c.heal(ctx); err != nil {
		return err
	}
	return c.reshape(ctx) // the healed nodes have new interfaces
}

func (c *Cluster) heal(ctx context.Context) error {
	nodes := c.Nodes()
	err := parallel(len(nodes), func(i int) error {
		n := nodes[i]
		off, _ := n.partitionState()
		if !off {
			return nil
		}
		err := c.e.client.ConnectNetwork(c.netID, dc.NetworkConnectionOptions{Container: n.id, Context: ctx,
			EndpointConfig: &dc.EndpointConfig{Aliases: n.aliases(), IPAMConfig: &dc.EndpointIPAMConfig{IPv4Address: n.ip}}})
		if err != nil && !isAlreadyConnected(err) {
			return fmt.Errorf("node %s: reconnect to %s: %w", n.name, c.netName, err)
		}
		n.setOffRun(false)
		return nil
	})
	if err != nil {
		return fmt.Errorf("docker: heal: %w", err)
	}
	err = parallel(len(nodes), func(i int) error {
		n := nodes[i]
		_, g := n.partitionState()
		if g == "" {
			return nil
		}
		err := c.e.client.DisconnectNetwork(g, dc.NetworkConnectionOptions{Container: n.id, Context: ctx})
		if err != nil && !isNotConnected(err) && !isNotFound(err) {
			return fmt.Errorf("node %s: disconnect from its group network: %w", n.name, err)
		}
		n.setGroup("")
		return nil
	})
	if err != nil {
		return fmt.Errorf("docker: heal: %w", err)
	}
	c.mu.Lock()
	nets := c.groupNets
	c.mu.Unlock()
	var errs []error
	var left []string
	for _, id := range nets {
		if err := c.removeNetworkRetry(ctx, id); err != nil && !isNotFound(err) {
			errs = append(errs, err)
			left = append(left, id)
		}
	}
	c.mu.Lock()
	c.groupNets = left
	c.partitioned = len(left) > 0
	c.mu.Unlock()
	if len(errs) > 0 {
		return fmt.Errorf("docker: heal: %w", errors.Join(errs...))
	}
	return nil
}

func isNotConnected(err error) bool {
	s := err.Error()
	return strings.Contains(s, "is not connected")
}

func isAlreadyConnected(err error) bool {
	s := err.Error()
	return strings.Contains(s, "already exists in network") || strings.Contains(s, "already attached")
}

// removeNetworkRetry removes a network, retrying briefly while Docker still
// sees endpoints of containers just removed or disconnected.
func (c *Cluster) removeNetworkRetry(ctx context.Context, id string) error {
	var err error
	for i := range 20 {
		err = c.e.removeNetwork(ctx, id)
		if err == nil || isNotFound(err) || apiStatus(err) != http.StatusForbidden && !strings.Contains(err.Error(), "active endpoints") {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(50*(i+1)) * time.Millisecond):
		}
	}
	return err
}

// Close removes every container of the run (forcibly, with anonymous
// volumes) and every network of the run, found by label, so leftovers of a
// failed StartNode go too. It is idempotent, works after ctx was cancelled,
// and takes at most CloseTimeout.
func (c *Cluster) Close(ctx context.Context) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CloseTimeout)
	defer cancel()
	var errs []error
	cs, err := c.e.client.ListContainers(dc.ListContainersOptions{
		All: true, Filters: map[string][]string{"label": {LabelRun + "=" + c.runID}}, Context: ctx,
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("list containers: %w", err))
	}
	err = parallel(len(cs), func(i int) error {
		if err := c.e.removeContainer(ctx, cs[i].ID); err != nil && !isNotFound(err) &&
			!strings.Contains(err.Error(), "is already in progress") {
			return fmt.Errorf("remove container %s: %w", strings.Join(cs[i].Names, ","), err)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if err := c.removeNetworks(ctx); err != nil {
		errs = append(errs, err)
	}
	c.mu.Lock()
	c.nodes, c.groupNets, c.partitioned = nil, nil, false
	c.mu.Unlock()
	if len(errs) > 0 {
		return fmt.Errorf("docker: close run %s: %w", c.runID, errors.Join(errs...))
	}
	return nil
}

func (c *Cluster) removeNetworks(ctx context.Context) error {
	nets, err := c.e.listNetworks(ctx, LabelRun+"="+c.runID)
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	var errs []error
	for _, n := range nets {
		if err := c.removeNetworkRetry(ctx, n.ID); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}

// parallel runs f(0..n-1) concurrently and joins their errors.
func parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
