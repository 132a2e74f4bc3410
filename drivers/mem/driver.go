// Package mem is an in-memory reference store with fault knobs, for
// trying scenarios quickly and for proving evalrun's own checks: it is
// not a database. Like hashicorp/raft's in-memory transport and store, a
// cluster lives in the evalrun process (provider "embedded"), needs no
// Docker and opens no listener.
//
// # Model
//
// A cluster is N nodes node1..nodeN and one replicated log of writes
// (puts and deletes), under one lock:
//
//   - the leader orders the writes: it appends each to the log and applies
//     it to its own key-value map at once;
//   - every other node (a follower) receives the log's entries from the
//     leader and applies them, in order, to its own map;
//   - a write is acknowledged once a majority of the members (the nodes
//     not removed, running or not) hold it; honest clusters never
//     acknowledge less;
//   - a read goes to the leader, which answers from its map: reads are
//     linearizable;
//   - the leader is valid while it runs, is not paused and can reach a
//     majority of the members that run and are not paused. When it stops
//     being valid, the members that can reach such a majority elect a new
//     leader after election-timeout: the one that holds the most of the log
//     (which, since every acknowledged write is on a majority and any two
//     majorities meet, holds every acknowledged write). A graceful stop or
//     a removal hands the leadership over at once;
//   - a node that returns (start, resume, heal) catches up at once from the
//     leader: the entries it lacks, or a copy of the leader's map when the
//     log no longer has them (like raft's snapshot install).
//
// The client spreads operations over the nodes round-robin, as a client
// given every endpoint does. A node that does not run is skipped (its
// connection is refused and the client tries the next); an operation sent
// to a paused node blocks until the node resumes or the operation's
// context ends; a node that cannot reach a valid leader (an election is
// under way, or a partition cut it off from the majority) answers at once
// with an error that wraps drivers.ErrUnavailable.
//
// # Fault knobs
//
// Clusters implement drivers.NodeController (kill: the node stops at once;
// stop: a leader first hands over; start: it returns on its own data,
// losing nothing acknowledged), drivers.Pauser (pause: operations sent to
// the node block; a paused leader is replaced after election-timeout),
// drivers.Partitioner (the nodes of each group reach only each other; the
// harness, as with Docker, still reaches every node), drivers.Membership
// (add-node joins a node with a copy of the leader's data; remove-node
// takes a node out, the majority shrinks with it), drivers.Settler
// (settled: every member runs, is not paused, no partition, a leader,
// every node caught up), drivers.Roles (leader, follower),
// drivers.BackupRestorer (a backup is the leader's map written to a file;
// a restore starts a fresh cluster of the same size from it),
// drivers.GaugeReporter (lag_s.nodeK: how old the oldest entry a node has
// not applied is), drivers.ReplicaInspector (each node's value of a
// key) and drivers.Degrader (degrade: a node that stays up but serves
// slowly, see degrade.go). The client is a drivers.ReadDescriber and a drivers.StrictReader
// (its strict read always goes through the leader).
//
// # Options (cluster.options)
//
//   - election-timeout (default 300ms): how long the cluster has no
//     leader after it lost one (kill, pause, partition);
//   - op-latency (default none): added to every operation, so that
//     latency figures look like a network's;
//   - bug (default none): a deliberate defect, so that a run shows what
//     the safety checks catch:
//     lose-acked-writes acknowledges a fraction (bug-rate, default 0.01) of
//     the writes and drops them (never appended to the log): the read-back
//     finds lost or stale keys;
//     stale-reads serves every read from the node the client sent it to,
//     and followers apply the log bug-lag (default 500ms) late: reads
//     during the run return superseded values (stale reads), the
//     read-back's follower reads too (read_stale: the strict read through
//     the leader has the acknowledged value);
//     ack-before-replicate acknowledges a write once the leader holds it;
//     followers receive it bug-lag later, so a leader that is killed loses
//     the acknowledged writes of its last bug-lag (a graceful stop still
//     hands them over);
//   - bug-seed (default 1): seeds the choice of the writes lose-acked-writes
//     drops.
package mem

import (
	"context"
	"fmt"

	"github.com/evalrun/evalrun/drivers"
)

// Name is the driver's --driver name and the database name its clusters
// report.
const Name = "mem"

// Role names of a mem cluster.
const (
	RoleLeader   = "leader"
	RoleFollower = "follower"
)

// maxNodes bounds a cluster's size.
const maxNodes = 15

// Driver is the mem driver. It is stateless; the zero value is ready.
type Driver struct{}

// New returns the mem driver.
func New() drivers.Driver { return Driver{} }

// Name implements drivers.Driver.
func (Driver) Name() string { return Name }

// Description implements drivers.Driver.
func (Driver) Description() string {
	return "in-memory reference store (not a database): raft-like leader and followers in process, for trying scenarios quickly; bug modes (cluster.options bug: lose-acked-writes, stale-reads, ack-before-replicate) show what the safety checks catch"
}

// Providers implements drivers.Driver.
func (Driver) Providers() []string { return []string{drivers.ProviderEmbedded} }

// Plan implements drivers.Driver.
func (Driver) Plan(provider string, nodes int, options map[string]string) (drivers.Topology, error) {
	if provider != drivers.ProviderEmbedded && provider != "" {
		return drivers.Topology{}, fmt.Errorf("mem: provider %q: %w", provider, drivers.ErrNotSupported)
	}
	if nodes < 1 || nodes > maxNodes {
		return drivers.Topology{}, fmt.Errorf("mem: %d nodes: want 1 to %d", nodes, maxNodes)
	}
	if _, err := parseOptions(options); err != nil {
		return drivers.Topology{}, err
	}
	return drivers.Topology{Nodes: nodes, Roles: []string{RoleLeader, RoleFollower},
		Capabilities: drivers.CapabilitiesOf((*cluster)(nil))}, nil
}

// StartCluster implements drivers.Driver: the nodes are ready at once.
func (d Driver) StartCluster(ctx context.Context, spec drivers.ClusterSpec) (drivers.Cluster, error) {
	c, err := start(ctx, spec, nil)
	if err != nil {
		return nil, err // an untyped nil: a typed one would look like a cluster
	}
	return c, nil
}
