package redis

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
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

func defaultOptions() options {
	return options{replicas: DefaultReplicas, nodeTimeoutMs: DefaultNodeTimeoutMs}
}

func knownOptions() string {
	return strings.Join([]string{OptAppendOnly, OptNodeTimeout, OptReplicas}, ", ")
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
		switch k {
		case OptReplicas:
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > maxReplicas {
				return options{}, fmt.Errorf("redis: option %s=%q: want an integer from 0 to %d", k, in[k], maxReplicas)
			}
			o.replicas = n
		case OptNodeTimeout:
			n, err := strconv.Atoi(v)
			if err != nil || n < 100 || n > 600000 {
				return options{}, fmt.Errorf("redis: option %s=%q: want milliseconds from 100 to 600000", k, in[k])
			}
			o.nodeTimeoutMs = n
		case OptAppendOnly:
			switch strings.ToLower(v) {
			case "yes", "true", "1":
				o.appendOnly = true
			case "no", "false", "0":
				o.appendOnly = false
			default:
				return options{}, fmt.Errorf("redis: option %s=%q: want yes or no", k, in[k])
			}
		default:
			return options{}, fmt.Errorf("redis: unknown option %q (known: %s)", k, knownOptions())
		}
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
func (o options) config() map[string]string {
	return map[string]string{
		OptReplicas:    strconv.Itoa(o.replicas),
		OptNodeTimeout: strconv.Itoa(o.nodeTimeoutMs),
		OptAppendOnly:  yesNo(o.appendOnly),
	}
}
