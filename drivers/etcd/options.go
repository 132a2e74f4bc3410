package etcd

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.etcd.io/etcd/server/v3/etcdserver"
)

// Option names accepted in drivers.ClusterSpec.Options.
const (
	optHeartbeat     = "heartbeat-interval-ms"
	optElection      = "election-timeout-ms"
	optSnapshotCount = "snapshot-count"
)

// options are the tunables a scenario may set (cluster.options).
type options struct {
	heartbeatMs   uint
	electionMs    uint
	snapshotCount uint64
}

func defaultOptions() options {
	return options{heartbeatMs: 100, electionMs: 1000, snapshotCount: etcdserver.DefaultSnapshotCount}
}

func knownOptions() string {
	return strings.Join([]string{optElection, optHeartbeat, optSnapshotCount}, ", ")
}

// parseOptions validates the scenario options. Unknown names are errors,
// so a typo does not silently run with defaults.
func parseOptions(in map[string]string) (options, error) {
	o := defaultOptions()
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	sort.Strings(names) // deterministic error messages
	for _, k := range names {
		v := strings.TrimSpace(in[k])
		n, err := strconv.ParseUint(v, 10, 64)
		switch k {
		case optHeartbeat, optElection, optSnapshotCount:
			if err != nil || n == 0 {
				return options{}, fmt.Errorf("etcd: option %s=%q: want a positive integer", k, in[k])
			}
		default:
			return options{}, fmt.Errorf("etcd: unknown option %q (known: %s)", k, knownOptions())
		}
		switch k {
		case optHeartbeat:
			o.heartbeatMs = uint(n)
		case optElection:
			o.electionMs = uint(n)
		case optSnapshotCount:
			o.snapshotCount = n
		}
	}
	if o.electionMs > 50000 {
		return options{}, fmt.Errorf("etcd: %s (%d) must be at most 50000", optElection, o.electionMs)
	}
	if o.heartbeatMs > o.electionMs/5 {
		return options{}, fmt.Errorf("etcd: %s (%d) must be at least 5 times %s (%d)", optElection, o.electionMs, optHeartbeat, o.heartbeatMs)
	}
	return o, nil
}

func (o options) config() map[string]string {
	return map[string]string{
		optHeartbeat:     strconv.FormatUint(uint64(o.heartbeatMs), 10),
		optElection:      strconv.FormatUint(uint64(o.electionMs), 10),
		optSnapshotCount: strconv.FormatUint(o.snapshotCount, 10),
	}
}
