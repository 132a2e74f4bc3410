// Package docker is the machinery of the Docker provider: it runs the
// containers of a cluster, injects faults into them (kill, stop, pause,
// partition) and cleans up after itself, crash or not. It knows nothing
// about databases; a driver (Redis Cluster, etcd in Docker…) brings the
// image, the command lines and the readiness check.
//
// # How a driver uses it
//
//	e, err := docker.Connect(ctx)          // *UnreachableError: print it, exit
//	e.Logf = spec.Logf
//	e.Sweep(ctx, false)                    // remove what crashed runs left behind
//	img, _, err := e.EnsureDebianImage(ctx, d) // d: DebianImage{Repo: "evalrun/redis", Packages: {"redis-server"}, …}
//	c, err := e.NewCluster(ctx, spec.RunID)
//	defer-on-error c.Close(ctx)
//	n1, err := c.StartNode(ctx, docker.NodeSpec{
//		Name: "node1", Image: img, Cmd: []string{…, "--port", "6379"},
//		Ports: []string{"6379/tcp"}, Ready: pingRedis, ReadyTimeout: 30 * time.Second,
//	})
//	client dials n1.Addr("6379")           // "127.0.0.1:<host port>", stable for the node's life
//	peers are configured with "node2:6379" or n2.IP()   // never dialled from the host
//	faults: n.Kill, n.Stop, n.Start, n.Pause, n.Unpause, c.Partition, c.Heal
//	c.Close(ctx)                           // always; idempotent, bounded, survives a cancelled ctx
//
// # Networks
//
// Each cluster has a run network, evalrun-<run-id>, where nodes reach each
// other by name (their Name is the container hostname and DNS alias) at a
// fixed IP (Node.IP: the network is created with an explicit subnet, so a
// node keeps its address across stop/start and partition/heal). Host ports
// are published on 127.0.0.1 only, chosen up front, so they too survive
// stop/start; the host reaches a node only through Node.Addr.
//
// Docker attaches published ports to the container's gateway network, and
// drops them when the container leaves it. So every node is also on a
// harness network, evalrun-<run-id>-h, on which inter-container traffic is
// disabled (com.docker.network.bridge.enable_icc=false): it carries nothing
// but the published ports and the node's way out. While a node is on the
// run network, that network is its gateway (Docker picks the first by name
// among non-internal networks); when Partition takes it off, Docker moves
// the published ports to the next one: the group network
// (evalrun-<run-id>-g<k>, which sorts before "-h") or, for a node alone, the
// harness network. Heal moves them back. Moving the ports restarts Docker's
// port proxy for that node: connections the host had open to a node that
// changes network (a node outside the first group, at Partition and at
// Heal) end with EOF, new ones work as soon as the call returns; nodes of
// the first group are not touched. Traffic between networks is dropped by
// Docker's isolation rules, so a cut-off node cannot reach a run-network IP
// either.
//
// Inside a non-first group, nodes reach each other by name but at the
// group network's addresses, not their run-network IPs: a database that
// gossips IPs (Redis Cluster) sees its group mates as unreachable too.
// Name-based peers (etcd's advertise URLs with node names) keep working.
//
// # What a driver author must know
//
//   - Docker's port proxy accepts a TCP connection on a published port even
//     when nothing listens inside, or the node is paused: a Ready check must
//     exchange data (ReadyHTTP, ReadyExec, a protocol ping), and a client
//     sees a dead node as EOF/reset or a timeout, not only "connection
//     refused" (which it gets while the container is stopped).
//   - A run id names networks and containers: use a new one for a second
//     cluster of the same run (a restore: RunID+"-restore").
//   - Everything created carries the labels of Labels (LabelRun…); label
//     what you create through Client() the same way.
//   - Exec cannot kill what it started when ctx ends; bound long commands
//     inside (timeout 5 …).
//   - Data lives in the container (its writable layer) unless NodeSpec.Binds
//     puts it on the host: Kill/Stop/Start keep it (same container, same IP,
//     same host ports), Node.Remove and Close drop it.
//   - A program that runs as PID 1 without a SIGTERM handler ignores
//     SIGTERM, so Stop waits the whole grace and then kills it: set
//     NodeSpec.Init (docker-init becomes PID 1 and forwards signals).
//   - Docker serialises much of container start: nodes started in parallel
//     are not ready sooner than one after the other (~1.2 s each here).
//   - Images: EnsureImage uses a local image, else tries a pull (bounded),
//     else builds. EnsureDebianImage reuses a local image of the same
//     recipe (LabelRecipe), else builds one from Debian packages with
//     internal/debian (no root, no debootstrap: ~10 s cold, the .debs and
//     root filesystems cached under ~/.cache/evalrun); the tag carries the
//     database's version and LabelPackages every package's.
//
// # Gray failures: resources and shaping
//
// NodeSpec.Resources sets a CPU quota (CpuQuota/CpuPeriod, 100 ms period)
// and a memory limit (with MemorySwap equal: no swap) at creation;
// Node.SetCPUs changes the quota live (0: CpuQuota -1, no limit). Docker
// refuses CpuQuota updates on a container created with NanoCpus (--cpus),
// so evalrun never uses NanoCpus.
//
// Node.SetShaping runs a helper container from evalrun/nettools (Debian's
// iproute2 and iptables, built offline like the database images) in the
// node's network namespace with NET_ADMIN, auto-removed and labelled with
// the run (Close and Sweep remove it if evalrun dies while it runs). It
// costs one container start (about half a second here) per call. What it
// sets, and its limits:
//
//   - bandwidth: a tbf qdisc (handle e7a1:) on every interface but lo, so
//     the cap is on what the node sends (egress), to peers and to the
//     harness alike; what it receives is capped only by the sender's cap.
//     Burst 10 ms of traffic (at least 4 KiB), queue 100 ms (then drops).
//   - loss: a chain EVALRUN-LOSS hooked first in INPUT, dropping each
//     inbound packet but lo's with the given probability (iptables
//     statistic); IPv4 only; what the node sends is not dropped. The
//     nf_tables backend is used where it works, else the legacy one.
//   - delay: netem (root, with the tbf under it) only where the kernel has
//     it (Engine.HasNetem, checked once per Engine); elsewhere ErrNoNetem.
//
// Shaping lives in the network namespace: Kill or Stop loses it, so Start
// re-applies what SetShaping last set; Partition and Heal change a node's
// interfaces, so they re-apply the cap and delay (the loss chain stays).
// A paused node is shaped like a running one. Node.NetState prints what
// the namespace holds (tc qdisc show, iptables -S).
package docker
