// Package riak is the evalrun driver for Riak KV (https://github.com/OpenRiak),
// on the "docker" provider (internal/docker), with
// github.com/basho/riak-go-client over Protocol Buffers.
//
// # Cluster shape
//
// Node i is a container node<i> on the run network whose Erlang node is
// riak@node<i>.riak (riak@ the container's hostname: Erlang long names
// want a dot), with a cookie of the cluster's
// own, Protocol Buffers on 8087 and HTTP on 8098 (both published on
// 127.0.0.1) and its data directory bind-mounted from the work directory,
// so it survives kill, stop and start. Our entrypoint (entrypoint.sh, run
// through /bin/sh -c on any image) writes these settings into riak.conf and
// execs Riak in the foreground, so container signals reach the Erlang VM.
// The cluster forms with `cluster join riak@node1.riak` on every other node,
// then `cluster plan` and `cluster commit`, and counts as formed when
// member-status shows no pending ownership, transfers shows nothing
// waiting and ringready is true.
//
// Admin commands are `riak admin …` on Riak 3.x and `riak-admin …` on Riak
// 2.x: the driver uses riak-admin when the image has it. Their output is
// parsed by the parsers of package admin (one file per command), which fail with an *admin.ParseError on
// output they do not recognise.
//
// # Options (cluster.options)
//
//   - bucket-type (default evalrun, created and activated at formation with
//     `bucket-type create`; "default" sets the bucket's properties instead),
//     bucket (default evalrun), n_val (3), allow_mult (false), notfound_ok
//     (true): the bucket's properties.
//   - r, w (quorum), pr, pw (0): sent with every request (one, quorum, all,
//     default or a count).
//   - ring-size (64), storage-backend (bitcask), transfer-limit (Riak's
//     default, 2): riak.conf of every node.
//   - vnode-inactivity-timeout (Riak's default, 60s): how long a vnode must
//     be idle before it hands off; lower it to shorten handoff in tests.
//   - admin: auto, "riak admin" or riak-admin.
//
// # Reads, siblings and safety
//
// Puts are blind (no vector clock). A Get that returns siblings (allow_mult
// true) is counted (drivers.SiblingCounter) and resolved to the most
// recently modified value. Not-found reads of acknowledged keys while a node
// is down show in the report's data-safety section.
//
// # Faults, membership and handoff
//
// kill, stop, start, pause and partition act on containers. Riak has no
// leader: "leader" names the claimant. add-node starts node<k> and joins
// it; remove-node makes a running node leave (it hands off its partitions,
// then shuts down; its container is removed once member-status no longer
// lists it) and marks a node that is down as down (it may be the claimant)
// before it force-removes it. Handoff (hinted after a
// node returns, ownership after a membership change) is reported through
// drivers.HandoffReporter from `riak admin transfers`.
//
// # Backup and restore
//
// A rolling cold copy of each node's data directory (backup.go says what it
// does and does not guarantee); restore starts a fresh cluster with the same
// node names on the copies.
//
// # Images
//
// The default image is the official basho/riak-kv (Riak 2.2) when it is
// present or can be pulled, else the newest local evalrun/riak image that
// `evalrun images build riak --release DIR` (or --deb FILE) made; --image
// overrides both.
package riak

import (
	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/driverkit"
)

// Driver is the Riak KV driver. It is stateless: everything it starts lives
// in the Cluster it returns. Use New.
type Driver struct {
	driverkit.DockerDriver[options, *cluster]
}

// New returns the Riak KV driver. StartCluster returns once the cluster
// has formed and settled.
func New() drivers.Driver {
	return Driver{driverkit.DockerDriver[options, *cluster]{DB: "riak",
		About: "Riak KV (Dynamo-style, n_val replicas, hinted handoff); docker: one container per node, " +
			OfficialImage + " or an evalrun/riak image built from a release",
		Options: parseOptions, Topology: topology, Open: open, Form: (*cluster).form}}
}

var _ drivers.Driver = Driver{}
