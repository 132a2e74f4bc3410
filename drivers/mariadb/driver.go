// Package mariadb is the evalrun driver for MariaDB 10.11
// (https://mariadb.org) with asynchronous or semi-synchronous primary/replica
// replication, on the "docker" provider (internal/docker).
//
// # Cluster shape
//
// ClusterSpec.Nodes servers, containers node1..nodeN on the run network.
// node1 is the primary; nodes 2..N replicate from it by GTID
// (CHANGE MASTER TO MASTER_HOST='node1', MASTER_USE_GTID=slave_pos) and run
// read_only. Every server has server-id = its index, a binary log in ROW
// format with log_slave_updates and gtid_strict_mode, and its data
// directory bind-mounted from the run's work directory (WorkDir/node<i>),
// so that synced writes do not pay for the container's overlay file
// system. Our entrypoint (entrypoint.sh, run with /bin/sh -c in either
// image) initialises an empty directory once and execs mariadbd in the
// foreground, so docker stop and kill reach the server itself.
//
// With shards S > 1 (several primaries, shards.go) the cluster is S
// independent groups of ClusterSpec.Nodes servers each, S × Nodes in all
// (at most 15): group g, "shard<g>", is nodes (g-1)×Nodes+1 .. g×Nodes, its
// first node its primary and the others replicating from it only. Every
// group is formed as a cluster of one group is, all at once; the client
// sends each key to its group (FNV-1a of the key modulo S) and the
// group's primary or replicas serve it. Heartbeat, lag gauges, Settled
// and failover work within each group; add-node, remove-node and backups
// are refused.
//
// The harness reaches every node only through its port 3306 published on
// 127.0.0.1; replicas reach the primary by name on the run network. It
// logs in as "evalrun" with a password made for each cluster and passed
// to the containers in their environment (visible to whoever can inspect
// them): the account may administer replication, take backups and use
// the evalrun schema, but cannot bypass read_only. A second account,
// evalrun_admin (same password), may switch read_only, semi-sync's primary
// side and gtid_slave_pos; only role changes use it, never the data.
// root@localhost authenticates by unix_socket only (docker exec ...
// mariadb).
//
// The formed cluster has database evalrun with table kv (k VARBINARY(255)
// PRIMARY KEY, v LONGBLOB) and table heartbeat, created on the primary and
// replicated, and every replica's IO and SQL threads running and caught up.
//
// Options (cluster.options, strings): semi-sync (default off),
// semi-sync-timeout (10s), sync-binlog (1), innodb-flush-log-at-trx-commit
// (1), parallel-workers (slave_parallel_threads, 0), read-from (primary |
// replicas | any, default primary), buffer-pool (128M) and
// slave-net-timeout (seconds, 10; MariaDB's default is 60, lowered to keep
// runs short, as the report's config says); see options.go.
//
// # Client
//
// go-sql-driver/mysql, one connection pool per node (64 connections).
// Put is INSERT ... ON DUPLICATE KEY UPDATE on the primary, Delete a
// DELETE on the primary, Get a SELECT where read-from says: the primary,
// the live replicas in turn, or every live node in turn. Reads from
// replicas may be stale: the report counts what that costs.
//
// # Replication lag, roles, faults
//
// While the cluster runs, a heartbeat (as pt-heartbeat does) writes the
// primary's UTC_TIMESTAMP(6) into evalrun.heartbeat every 100 ms. Gauges
// report each replica's lag_s.node<i>, the age of the newest heartbeat it
// has applied (all containers share the host's clock), and
// seconds_behind_master.node<i> from SHOW SLAVE STATUS, and
// replicating.node<i>: 1 while both replication threads run, 0 when not.
// A replica whose SQL thread stops on an error (a row it should not hold)
// is a notice in the report's events with the server's error text
// (drivers.NoticeReporter, notices.go); its lag_s then only grows, and
// Seconds_Behind_Master is absent, as the server says. Roles: "primary"
// (the node the driver writes to; every group's with shards) and
// "replica", and with shards "shard<g>.primary" and "shard<g>.replica"
// (drivers.NodeGrouper gives the report each node's group). Kill, stop, pause,
// partition and heal come from driverkit; a restarted replica resumes
// replication by itself (GTID), a restarted primary stays primary: nothing
// fails over by itself.
//
// # Failover, switchover, rejoin (failover.go)
//
// Promote (the promote step, after the primary died) and Switchover
// (planned) make a replica the primary: it applies what it has (Promote:
// what it received, at most 30 s; Switchover: everything the read-only
// primary logged), STOP SLAVE, RESET SLAVE ALL, read_only=0 and, with
// semi-sync, the primary's side on; the other live replicas CHANGE MASTER
// to it (MASTER_USE_GTID=slave_pos, and after a switchover the old primary
// too); then the client's writes and the heartbeat move to it. Candidate,
// what "promote: replica" means, is the replica that received the most
// (Gtid_IO_Pos); with shards a step names the group ("promote:
// shard2.replica", drivers.GroupPromoter), and a promotion, a rejoin and a
// node's return stay within the node's group. The cluster records where each promotion forked the
// history of primaries (lineage); a node that comes back (StartNode,
// ResumeNode) after the primary changed follows the current one, unless
// its binary log holds transactions that history lacks (errant GTIDs):
// then it is left read-only and out of replication, the step's error
// names the ranges ("node1 has errant transactions 0-1-1235..1240 (6
// transactions) that node2 (the primary) lacks; left out of
// replication"), it plays no role, serves no reads and Settled says why.
//
// # Backups and restore
//
// Four methods (drivers.BackupMethods; backup: {method: M} in a scenario),
// each from the live replica of the highest index (the primary when there
// is none): mariabackup (the default; hot, physical, --backup then
// --prepare, run in the node's container into a transfer directory every
// node mounts from the run's work directory), dump (mariadb-dump
// --single-transaction --gtid --master-data=2 --hex-blob of evalrun.kv)
// and cold (STOP SLAVE, a graceful stop, a copy of the replica's
// bind-mounted data directory, a start and its catch-up: a disk snapshot
// of a stopped replica) and snapshot (the running replica's container
// frozen with docker pause while its data directory is copied, then
// thawed, always: a volume snapshot of a running server; Meta's freeze_ms
// is how long it was frozen). Each holds every write acknowledged before the
// call: the primary's gtid_binlog_pos is read first and the source replica
// must have applied it (bounded) before it is copied, and the backup's
// GTID position is checked against it. Meta records the method, the source
// node and the GTID position. Restore starts a fresh cluster: physical
// copies seed every node (replica state removed; the primary continues the
// source's GTID history, the replicas start from the backup's position;
// a snapshot's primary runs InnoDB's crash recovery first, and the
// replicas start from the position it recovered), a dump is loaded into a freshly formed primary and reaches the replicas
// by replication. A cluster of several groups (shards > 1) takes no
// backup. See backup.go.
//
// # Membership
//
// AddNode clones a replica from a hot mariabackup of a running replica
// (the primary if there is none), starts it at the backup's GTID position
// replicating by GTID, and returns once its heartbeat lag is under a
// second. RemoveNode stops a replica's replication, stops it and removes
// its container; the primary cannot be removed (a run-time error). See
// membership.go.
//
// Clusters implement drivers.Cluster, NodeController, Pauser, Partitioner,
// Settler, Roles, GaugeReporter, NoticeReporter, BackupRestorer,
// BackupMethods, Membership, Promoter, NodeGrouper and GroupPromoter.
package mariadb

import (
	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/driverkit"
)

// driverName is the --driver name; every error starts with it.
const driverName = "mariadb"

// Driver is the MariaDB driver. It is stateless: everything it starts
// lives in the Cluster it returns. Use New.
type Driver struct {
	driverkit.DockerDriver[options, *cluster]
	driverkit.OfflineImage
}

// New returns the MariaDB driver: nodes servers, node1 the primary.
// StartCluster returns once every replica replicates and has caught up
// with the primary.
func New() drivers.Driver {
	return Driver{
		DockerDriver: driverkit.DockerDriver[options, *cluster]{DB: driverName,
			About: "MariaDB 10.11 primary + replicas, or several primary+replica groups (option shards: roles shard<g>.primary and shard<g>.replica, nodes (g-1)*nodes+1..g*nodes) (GTID replication, async or semi-sync; promote and switchover); docker: one container per node, " +
				OfficialImage + " or an offline Debian build",
			Options: parseOptions, Topology: topology, Open: open, Form: (*cluster).form},
		OfflineImage: images(),
	}
}

var (
	_ drivers.Driver       = Driver{}
	_ drivers.ImageBuilder = Driver{}
)
