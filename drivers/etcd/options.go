package etcd

import (
	"fmt"
	"strconv"

	"go.etcd.io/etcd/server/v3/etcdserver"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/driverkit"
)

// Option names accepted in drivers.ClusterSpec.Options.
const (
	optHeartbeat     = "heartbeat-interval-ms"
	optElection      = "election-timeout-ms"
	optSnapshotCount = "snapshot-count"
)

// options are the tunables a scenario may set (cluster.options).
type options struct {
	heartbeatMs   int
	electionMs    int
	snapshotCount int
}

func (o *options) table() driverkit.Options {
	return driverkit.Options{
		driverkit.Int(optHeartbeat, &o.heartbeatMs, 1, 10000),
		driverkit.Int(optElection, &o.electionMs, 1, 50000),
		driverkit.Int(optSnapshotCount, &o.snapshotCount, 1, 1<<40),
	}
}

// parseOptions validates the scenario options (*drivers.OptionError).
func parseOptions(in map[string]string) (options, error) {
	o := options{heartbeatMs: 100, electionMs: 1000, snapshotCount: int(etcdserver.DefaultSnapshotCount)}
	if err := o.table().Parse("etcd", in); err != nil {
		return options{}, err
	}
	if o.heartbeatMs > o.electionMs/5 {
		return options{}, &drivers.OptionError{Driver: "etcd", Name: optElection, Value: strconv.Itoa(o.electionMs),
			Want: fmt.Sprintf("must be at least 5 times %s (%d)", optHeartbeat, o.heartbeatMs)}
	}
	return o, nil
}

func (o options) config() map[string]string { return o.table().Config() }
