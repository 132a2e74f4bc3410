package model

import "time"

// RunsSchema is the value of RunSet.Schema, versioned like Schema.
const RunsSchema = "evalrun.runs/v1"

// RunSet is the summary of one scenario run several times (evalrun run
// --repeat N), each run on a fresh cluster into its own report directory:
// per metric the value of every run and their median, min, max and the
// confidence interval of the median. A failed or incomplete run is listed
// and counted, never dropped. Written as runs.json next to run-1 … run-N.
type RunSet struct {
	Schema     string `json:"schema"`
	ID         string `json:"id"`
	Complete   bool   `json:"complete"`                    // every requested run ran and completed
	Incomplete string `json:"incomplete_reason,omitempty"` // why Complete is false
	Scenario   string `json:"scenario"`
	// ScenarioSHA256 is the scenario text's hash when every run had the same.
	ScenarioSHA256 string    `json:"scenario_sha256,omitempty"`
	Driver         string    `json:"driver"`
	Provider       string    `json:"provider"`
	DB             string    `json:"db"`
	DBVersion      string    `json:"db_version"`
	TargetRate     float64   `json:"target_rate"`
	Start          time.Time `json:"start"` // the first run's start
	End            time.Time `json:"end"`
	Requested      int       `json:"requested"` // runs asked for (--repeat)
	// Environment of the first run that reported one (see RunInfo).
	CPUModel string `json:"cpu_model,omitempty"`
	CPUs     int    `json:"cpus,omitempty"`
	Kernel   string `json:"kernel,omitempty"`
	ImageID  string `json:"image_id,omitempty"`
	Docker   string `json:"docker_server,omitempty"`
	// LoadAvgMin and LoadAvgMax: the lowest and highest 1-minute load
	// average at the start of a run of the set (RunInfo.LoadAvg).
	LoadAvgMin *float64 `json:"load_avg_1m_min,omitempty"`
	LoadAvgMax *float64 `json:"load_avg_1m_max,omitempty"`
	// Confidence is the level of every metric's interval (0.95).
	Confidence float64     `json:"confidence"`
	Runs       []RunEntry  `json:"runs"`
	Metrics    []SetMetric `json:"metrics"`
}

// RunEntry is one run of the set.
type RunEntry struct {
	Dir        string    `json:"dir"` // relative to runs.json
	ID         string    `json:"id,omitempty"`
	Start      time.Time `json:"start,omitzero"`
	End        time.Time `json:"end,omitzero"`
	Complete   bool      `json:"complete"`
	Incomplete string    `json:"incomplete_reason,omitempty"`
	// Error says why the run failed; a run that failed before writing a
	// report has only this, and null metrics.
	Error string `json:"error,omitempty"`
}

// Metric groups.
const (
	GroupPhase       = "phase"
	GroupOperational = "operational"
	GroupSafety      = "safety"
)

// SetMetric is one metric across the runs. It is identified by Group,
// Phase and Op (phase metrics; Op "all" is the phase total), Step and
// Occurrence (operational metrics: the n-th entry of that step, whatever
// node it hit: "kill leader" hits another node in each run), and Metric.
// Node is kept for other tools' sets; evalrun leaves it 0.
type SetMetric struct {
	Group      string `json:"group"`
	Phase      string `json:"phase,omitempty"`
	Op         string `json:"op,omitempty"`
	Step       string `json:"step,omitempty"`
	Node       int    `json:"node,omitempty"`
	Occurrence int    `json:"occurrence,omitempty"`
	// Metric: p50, p90, p99, p999, max, throughput, error rate;
	// unavailable_ms, recovery_to_baseline_ms, time_to_first_error_ms,
	// handoff_ms, duration_ms, bytes; lost, stale, unreadable,
	// quorum_notfound, notfound_reads, stale_reads.
	Metric string `json:"metric"`
	// Kind: latency (µs), rate (ops/s), percent, ms (-1 = never
	// recovered), bytes, keys.
	Kind string `json:"kind"`
	// Values has one entry per run, in run order; null when that run has
	// no such metric (it failed before, or the step did not happen).
	Values []*float64 `json:"values"`
	N      int        `json:"n"` // runs with a value
	Median float64    `json:"median"`
	Min    float64    `json:"min"`
	Max    float64    `json:"max"`
	// CILo, CIHi: the confidence interval of the median; null when N is
	// too small for one (fewer than 6 runs at 95 %).
	CILo *float64 `json:"ci_lo"`
	CIHi *float64 `json:"ci_hi"`
	// CV is the coefficient of variation (stddev/mean) across the runs;
	// null when undefined.
	CV *float64 `json:"cv"`
}

// Metric kinds (SetMetric.Kind, and the comparison's), which say how a
// value is formatted and compared.
const (
	KindCount   = "count"   // plain count, never a regression
	KindLatency = "latency" // µs, higher is worse, relative change
	KindRate    = "rate"    // ops/s, lower is worse, relative change
	KindPercent = "percent" // %, higher is worse, change in points
	KindMs      = "ms"      // a duration in ms, -1 = never (not recovered)
	KindKeys    = "keys"    // key count, absolute change
	KindBytes   = "bytes"   // a size in bytes (a backup), higher is not worse
)
