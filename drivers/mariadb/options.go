package mariadb

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/evalrun/evalrun/internal/driverkit"
)

// Option names accepted in drivers.ClusterSpec.Options (cluster.options of
// a scenario). Every effective value is reported in ClusterInfo.Config.
const (
	// OptSemiSync: semi-synchronous replication (on | off, default off).
	// On: the primary acknowledges a commit once a replica has the
	// transaction in its relay log (rpl_semi_sync_master_wait_point
	// AFTER_SYNC), or after OptSemiSyncTimeout without an answer, when it
	// falls back to asynchronous replication.
	OptSemiSync        = "semi-sync"
	OptSemiSyncTimeout = "semi-sync-timeout"              // rpl_semi_sync_master_timeout (default 10s)
	OptSyncBinlog      = "sync-binlog"                    // sync_binlog (default 1: every commit)
	OptFlushLog        = "innodb-flush-log-at-trx-commit" // 0 | 1 | 2 (default 1)
	OptParallel        = "parallel-workers"               // slave_parallel_threads on replicas (default 0)
	OptReadFrom        = "read-from"                      // primary | replicas | any (default primary)
	OptBufferPool      = "buffer-pool"                    // innodb_buffer_pool_size (default 128M)
	// OptNetTimeout is slave_net_timeout in seconds (default 10; MariaDB's
	// own default is 60): how long a replica waits for its primary before
	// it reconnects, and how long one connection attempt may take. It
	// decides how soon replication resumes after a partition or a frozen
	// primary; the report's config says which value ran.
	OptNetTimeout = "slave-net-timeout"
	// OptShards is how many independent primary+replica groups the
	// cluster has (default 1). With S > 1, cluster.nodes is each group's
	// size (its primary and nodes-1 replicas) and the cluster has S ×
	// nodes nodes: group g (shard<g>) is nodes (g-1)×nodes+1 .. g×nodes,
	// the first its primary. The client routes each key to its group by a
	// stable hash, as an application that split its primary does.
	OptShards = "shards"
	// OptMaxLag bounds how far behind a replica a read may go to with
	// read-from replicas|any (default 0s: no bound; --option max-lag=0s
	// turns a scenario's bound off): a read goes to a
	// replica whose measured heartbeat lag, plus the time since it was
	// measured, is under the bound, else to its group's primary, as
	// ProxySQL's max_replication_lag does. A lag not measured recently
	// is over the bound.
	OptMaxLag = "max-lag"
)

// readFrom is where a client's Get goes.
type readFrom string

const (
	readPrimary  readFrom = "primary"
	readReplicas readFrom = "replicas" // round robin over the live replicas
	readAny      readFrom = "any"      // round robin over every live node
)

// Defaults and bounds of the options.
const (
	DefaultSemiSyncTimeout = 10 * time.Second
	DefaultBufferPool      = 128 << 20
	DefaultNetTimeoutS     = 10
	minBufferPool          = 8 << 20
	maxBufferPool          = 64 << 30
	maxNodes               = 15 // scenarios start 1..15 nodes (all groups together)
	maxShards              = 8
)

// options are the tunables a scenario may set (cluster.options).
type options struct {
	semiSync        bool
	semiSyncTimeout time.Duration
	syncBinlog      int
	flushLog        int
	parallel        int
	readFrom        readFrom
	bufferPool      int64 // bytes
	netTimeoutS     int
	shards          int           // primary+replica groups (>= 1)
	maxLag          time.Duration // 0: reads go to replicas whatever their lag
}

func defaultOptions() options {
	return options{semiSyncTimeout: DefaultSemiSyncTimeout, syncBinlog: 1, flushLog: 1,
		readFrom: readPrimary, bufferPool: DefaultBufferPool, netTimeoutS: DefaultNetTimeoutS, shards: 1}
}

// table is the option table over o's fields.
func (o *options) table() driverkit.Options {
	const poolWant = "want a size such as 128M or 1G, from 8M to 64G"
	return driverkit.Options{
		driverkit.Bool(OptSemiSync, &o.semiSync),
		driverkit.Duration(OptSemiSyncTimeout, &o.semiSyncTimeout, time.Millisecond, time.Hour, "0s"),
		driverkit.Int(OptSyncBinlog, &o.syncBinlog, 0, 1_000_000),
		driverkit.Int(OptFlushLog, &o.flushLog, 0, 2),
		driverkit.Int(OptParallel, &o.parallel, 0, 256),
		driverkit.OneOf(OptReadFrom, &o.readFrom, readPrimary, readReplicas, readAny),
		driverkit.Func(OptBufferPool, poolWant, func(v string) error {
			n, err := parseSize(v)
			if err != nil || n < minBufferPool || n > maxBufferPool {
				return errors.New(poolWant)
			}
			o.bufferPool = n
			return nil
		}, func() string { return formatSize(o.bufferPool) }),
		driverkit.Int(OptNetTimeout, &o.netTimeoutS, 2, 3600),
		driverkit.Int(OptShards, &o.shards, 1, maxShards),
		driverkit.Duration(OptMaxLag, &o.maxLag, 0, time.Hour, "0s"),
	}
}

// parseOptions validates the scenario options (*drivers.OptionError).
func parseOptions(in map[string]string) (options, error) {
	o := defaultOptions()
	if err := o.table().Parse(driverName, in); err != nil {
		return options{}, err
	}
	return o, nil
}

// config is what the report shows of the options.
func (o options) config() map[string]string { return o.table().Config() }

// parseSize reads a byte count with an optional K, M or G suffix (powers
// of 1024, as MariaDB reads them): "134217728", "128M", "1g".
func parseSize(v string) (int64, error) {
	mult := int64(1)
	if v != "" {
		switch strings.ToUpper(v[len(v)-1:]) {
		case "K":
			mult = 1 << 10
		case "M":
			mult = 1 << 20
		case "G":
			mult = 1 << 30
		}
		if mult > 1 {
			v = v[:len(v)-1]
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size", v)
	}
	return n * mult, nil
}

// formatSize writes n with the largest suffix that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
