package redis

import (
	"github.com/evalrun/evalrun/internal/driverkit"
)

// Option names accepted in drivers.ClusterSpec.Options.
const (
	OptReplicas    = "replicas"             // replicas per master (default 1)
	OptNodeTimeout = "cluster-node-timeout" // ms (default 5000; Redis's own default is 15000)
	OptAppendOnly  = "appendonly"           // yes | no (default no)
)

// Defaults of the options.
const (
	DefaultReplicas      = 1
	DefaultNodeTimeoutMs = 5000
	maxReplicas          = 5
	maxNodes             = 60 // masters plus replicas plus added nodes, a sanity bound
)

// options are the tunables a scenario may set (cluster.options).
type options struct {
	replicas      int
	nodeTimeoutMs int
	appendOnly    bool
}

// table is the option table over o's fields.
func (o *options) table() driverkit.Options {
	return driverkit.Options{
		driverkit.Int(OptReplicas, &o.replicas, 0, maxReplicas),
		driverkit.Int(OptNodeTimeout, &o.nodeTimeoutMs, 100, 600000),
		driverkit.Bool(OptAppendOnly, &o.appendOnly),
	}
}

// parseOptions validates the scenario options (*drivers.OptionError).
func parseOptions(in map[string]string) (options, error) {
	o := options{replicas: DefaultReplicas, nodeTimeoutMs: DefaultNodeTimeoutMs}
	if err := o.table().Parse("redis", in); err != nil {
		return options{}, err
	}
	return o, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// config is what the report shows of the options.
func (o options) config() map[string]string { return o.table().Config() }
