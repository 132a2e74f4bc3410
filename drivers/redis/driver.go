// Package redis is the evalrun driver for Redis Cluster (https://redis.io),
// on the "docker" provider (internal/docker).
//
// # Cluster shape
//
// ClusterSpec.Nodes is the number of masters; option "replicas" (default 1)
// adds that many replicas per master. Nodes 1..N are the initial masters,
// N+1..N*(1+replicas) the replicas; added nodes take the next indexes
// (indexes are never reused). Every node is a container node<i> on the run
// network, running redis-server in the foreground with cluster-enabled yes,
// cluster-announce-ip its run-network IP, protected-mode no and its data in
// /data inside the container (kept across kill/stop/start). The cluster is
// formed with `redis-cli --cluster create` run inside node1.
//
// Options (cluster.options, strings):
//
//   - replicas: replicas per master, 0..5 (default 1).
//   - cluster-node-timeout: milliseconds (default 5000, to keep runs short;
//     Redis's own default is 15000). A master is failed over about this long
//     after it dies.
//   - appendonly: yes | no (default no). RDB snapshots keep Redis's
//     defaults (save 3600 1 300 100 60 10000; a graceful stop saves);
//     backups take their own BGSAVE.
//
// # Images
//
// The default image is the official redis:7.2 when it is present or can be
// pulled; otherwise the driver builds evalrun/redis:<version>-<recipe hash>
// from Debian's redis-server package (7.0 in bookworm) with internal/debian
// (BuildImage; `evalrun images build redis`). --image overrides both; the
// report names the image and its ID.
//
// # Clients
//
// Nodes announce run-network addresses (MOVED/ASK redirects and CLUSTER
// SLOTS name 172.x.y.z:6379), which the host cannot reach: the client's
// dialer maps them to the ports published on 127.0.0.1 and never dials a
// container IP. Reads and writes go to masters. After a failure the client
// reloads the slot map itself (go-redis does so only on MOVED/ASK, which a
// dead master never sends). go-redis reports failed dials through its
// process-wide logger (redis.SetLogger); the driver leaves it alone.
//
// # Faults and membership
//
// Kill, stop, start and pause act on the node's container; a node keeps
// its data directory (nodes.conf, dump.rdb, the AOF), IP and host port. A
// stopped node saved an RDB file on its way down; a killed one restarts from
// its last snapshot (or AOF). A former master that was failed over rejoins
// as a replica of the node that replaced it.
//
// Partition keeps the largest group (nodes in no group join the first) on
// the run network: Redis gossips IPs, so nodes moved off it cannot reach
// anyone, their own group included. With the built-in [[1],[2,3]] and
// replicas 4..6, masters 2 and 3 are each alone and no side holds a
// majority of masters: the whole cluster reports CLUSTERDOWN until the heal.
//
// add-node joins an empty master with redis-cli --cluster add-node and
// moves its share of slots to it; remove-node moves a master's slots to the
// others and runs redis-cli --cluster del-node. Slots move with the
// protocol redis-cli --cluster rebalance uses, a batch of slots per round
// trip (see migrate.go); ClusterInfo.Config reports the last move
// (last-rebalance-slots-moved, -keys-moved, -ms).
//
// Backups are one BGSAVE'd RDB file per master plus a manifest of the slots
// each served; a restore starts one master per file and gives it the same
// slots (CLUSTER ADDSLOTSRANGE + MEET), then fresh replicas.
//
// Clusters implement drivers.Cluster, NodeController, Pauser, Partitioner,
// Membership, Leader (the master serving slot 0) and BackupRestorer.
package redis

import (
	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/driverkit"
)

// Driver is the Redis Cluster driver. It is stateless: everything it starts
// lives in the Cluster it returns. Use New.
type Driver struct {
	driverkit.DockerDriver[options, *cluster]
	driverkit.OfflineImage
}

// New returns the Redis Cluster driver: nodes masters, each with the
// replicas option's replicas; every node is addressable. StartCluster
// returns once the cluster is formed (every node reports cluster_state:ok
// and all 16384 slots are covered).
func New() drivers.Driver {
	return Driver{
		DockerDriver: driverkit.DockerDriver[options, *cluster]{DB: "redis",
			About:   "Redis Cluster (masters + replicas, async replication); docker: one container per node, " + OfficialImage + " or an offline Debian build",
			Options: parseOptions, Topology: topology, Open: open, Form: (*cluster).form},
		OfflineImage: images(),
	}
}

var (
	_ drivers.Driver       = Driver{}
	_ drivers.ImageBuilder = Driver{}
)
