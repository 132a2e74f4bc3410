// Package model is the evalrun report model (schema evalrun.report/v1)
// and the run set (evalrun.runs/v1): plain types, their JSON names and the
// metric kinds, nothing else, so that what records a run (internal/measure,
// internal/runner) does not pull in the renderers and their plotting
// libraries. Package reports reads and writes it, reports/judge judges it
// and reports/render renders it.
package model

import (
	"strings"
	"time"
)

// Schema is the value of Report.Schema. Readers accept any minor addition
// within the same major version ("evalrun.report/v1").
const Schema = "evalrun.report/v1"

// Report is everything one run produced. Field names are the contract
// other tools read: add fields, never rename or remove them within v1.
type Report struct {
	Schema     string       `json:"schema"`
	Complete   bool         `json:"complete"`
	Incomplete string       `json:"incomplete_reason,omitempty"` // why Complete is false
	Run        RunInfo      `json:"run"`
	Driver     DriverInfo   `json:"driver"`
	Scenario   ScenarioInfo `json:"scenario"`
	Workload   WorkloadInfo `json:"workload"`
	Load       LoadInfo     `json:"load"`
	Events     []Event      `json:"events"`
	Phases     []Phase      `json:"phases"`
	WindowMs   int64        `json:"window_ms"` // length of each window
	Windows    []Window     `json:"windows"`
	Safety     Safety       `json:"safety"`
	// Consistency is the history check (linearizability, session
	// guarantees); nil when the run recorded no history.
	Consistency *Consistency  `json:"consistency,omitempty"`
	Operational []Operational `json:"operational"`
	Files       Files         `json:"files"`
	// Capacity is the stage search of `evalrun capacity`; nil for a run.
	Capacity *Capacity `json:"capacity,omitempty"`
}

// RunInfo identifies the run.
type RunInfo struct {
	ID        string    `json:"id"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Version   string    `json:"evalrun_version"`
	Seed      int64     `json:"seed"`
	Host      string    `json:"host"`
	GoVersion string    `json:"go_version"`
	CPUs      int       `json:"cpus"`
	// CPUModel and Kernel say on what the run ran (with CPUs and the
	// driver's image ID and docker-server config), so that compare can say
	// when two runs ran on different machines.
	CPUModel string `json:"cpu_model,omitempty"`
	Kernel   string `json:"kernel,omitempty"`
	// LoadAvg is the machine's 1-minute load average when the run began
	// (/proc/loadavg; absent where there is none): a busy shared machine
	// slows a run as surely as a regression, and compare says so.
	LoadAvg    *float64 `json:"load_avg_1m,omitempty"`
	DurationMs int64    `json:"duration_ms"` // workload duration actually run
}

// DriverInfo says what database ran and where.
type DriverInfo struct {
	Name      string            `json:"name"`
	Provider  string            `json:"provider"`
	DB        string            `json:"db"`
	DBVersion string            `json:"db_version"`
	Nodes     int               `json:"nodes"`
	Image     string            `json:"image,omitempty"`
	ImageID   string            `json:"image_id,omitempty"`
	Config    map[string]string `json:"config,omitempty"`
	// NodeNames are the names of the nodes the cluster started with
	// (NodeNames[i] is node i+1), for the per-node tables.
	NodeNames []string `json:"node_names,omitempty"`
}

// ScenarioInfo names the scenario and pins its exact text.
type ScenarioInfo struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Source      string `json:"source"` // "builtin:node-loss" or a file path
	SHA256      string `json:"sha256"`
	// TimeScale is --duration divided by the scenario's own duration (1 when not scaled).
	TimeScale float64 `json:"time_scale"`
}

// WorkloadInfo is the workload as run (after command-line overrides).
type WorkloadInfo struct {
	Mix          map[string]int `json:"mix"` // op type -> weight
	Keys         int            `json:"keys"`
	Distribution string         `json:"distribution"`
	ValueSize    int            `json:"value_size"`
	TargetRate   float64        `json:"target_rate"` // ops/s
	Concurrency  int            `json:"concurrency"`
	// MaxConcurrency bounds the worker pool, which grows from Concurrency
	// when an operation is due and every worker is busy (0: a report from
	// before the pool grew).
	MaxConcurrency int   `json:"max_concurrency,omitempty"`
	TimeoutMs      int64 `json:"timeout_ms"`
	Preload        bool  `json:"preload"`
}

// LoadInfo says how well the load generator kept the schedule. An operation
// is late when it started more than LateThresholdUs after its intended start;
// it is missed when it was still waiting for a free slot MaxLagMs after its
// intended start and was given up (recorded with that latency, never sent).
type LoadInfo struct {
	Intended        int64 `json:"intended"` // operations the schedule called for
	Issued          int64 `json:"issued"`
	Late            int64 `json:"late"`
	Missed          int64 `json:"missed"`
	MaxStartLagUs   int64 `json:"max_start_lag_us"`
	LateThresholdUs int64 `json:"late_threshold_us"`
	MaxLagMs        int64 `json:"max_lag_ms"`
	PreloadOps      int64 `json:"preload_ops"`
	PreloadMs       int64 `json:"preload_ms"`
	// FirstLateMs and FirstMissedMs: the intended start of the first late
	// and the first missed operation; absent when there was none.
	FirstLateMs   *int64 `json:"first_late_ms,omitempty"`
	FirstMissedMs *int64 `json:"first_missed_ms,omitempty"`
	// PeakInFlight is the most operations in flight at once, Workers the
	// size the pool grew to, BoundWaits the operations that waited for a
	// worker because the pool was at workload.max-concurrency.
	PeakInFlight int64 `json:"peak_in_flight,omitempty"`
	Workers      int64 `json:"workers,omitempty"`
	BoundWaits   int64 `json:"bound_waits,omitempty"`
}

// LagStats is the distribution of start lag: how long after its intended
// start each operation that was sent started (the harness's own timing
// error, plus any wait for a free worker).
type LagStats struct {
	P50Us int64 `json:"p50_us"`
	P99Us int64 `json:"p99_us"`
	MaxUs int64 `json:"max_us"`
}

// Event is one executed step of the timeline.
type Event struct {
	Step string `json:"step"`
	// Kind is fault, recovery, membership, backup or restore; empty for a
	// step that changes nothing (sleep, verify, wait-settled).
	Kind string `json:"kind,omitempty"`
	// Ends names the fault steps this step ends (start ends kill and
	// stop): the plots shade from the fault to its end.
	Ends    []string `json:"ends,omitempty"`
	Node    int      `json:"node,omitempty"` // 1-based; 0 when the step names none
	Phase   string   `json:"phase,omitempty"`
	StartMs int64    `json:"start_ms"` // since the workload started
	EndMs   int64    `json:"end_ms"`
	Outcome Outcome  `json:"outcome"`
	Detail  string   `json:"detail,omitempty"`
	Line    int      `json:"line,omitempty"` // line of the step in the scenario
}

// Outcome is how a step ended: OutcomeOK, OutcomeError(err),
// OutcomeNotSupported, or OutcomeObserved for a notice the cluster raised
// by itself. It is written as the string it is (schema v1), so reports of
// any version read back: an old report's "skipped: …" or empty outcome
// too.
type Outcome string

// Outcomes without a detail.
const (
	OutcomeOK           Outcome = "ok"
	OutcomeNotSupported Outcome = "not supported by this driver"
)

// OutcomeError is the outcome of a step that failed with err.
func OutcomeError(err error) Outcome { return Outcome("error: " + err.Error()) }

// OutcomeObserved is the outcome of a notice: what the cluster did by
// itself ("replication stopped").
func OutcomeObserved(what string) Outcome { return Outcome("observed: " + what) }

// OK reports whether the step did what it was asked (an outcome an old
// report left empty counts).
func (o Outcome) OK() bool { return o == OutcomeOK || o == "" }

// Word is the outcome up to its first colon ("error"), for a short label.
func (o Outcome) Word() string {
	w, _, _ := strings.Cut(string(o), ":")
	return w
}

// Phase is a named stretch of the timeline.
type Phase struct {
	Name    string             `json:"name"`
	StartMs int64              `json:"start_ms"`
	EndMs   int64              `json:"end_ms"`
	Ops     map[string]OpStats `json:"ops"` // keyed by op type: read, write, delete
	Total   OpStats            `json:"total"`
	// HarnessCPU is the CPU time evalrun's own process used in the phase.
	HarnessCPU *HarnessCPU `json:"harness_cpu,omitempty"`
	// StartLag is the start lag of the phase's operations that were sent.
	StartLag *LagStats `json:"start_lag,omitempty"`
	// Gauges summarises, per gauge the cluster reported, the samples
	// taken in the phase (every sample, not the one a window keeps):
	// a replica's worst and p99 lag while a spike lasted.
	Gauges map[string]GaugeStats `json:"gauges,omitempty"`
	// Nodes is what each node served in the phase, by node index (node 0,
	// unknown, first when there is one): only when the driver's client
	// says which node served each operation (drivers.ServingClient).
	Nodes []NodeStats `json:"nodes,omitempty"`
	// Groups is what each group of nodes served in the phase (MariaDB
	// shards: a primary and its replicas), by group name: only when the
	// cluster groups its nodes (drivers.NodeGrouper) and Nodes is known.
	Groups []GroupStats `json:"groups,omitempty"`
}

// GaugeStats summarises the samples of one gauge in one phase.
type GaugeStats struct {
	Samples int     `json:"samples"`
	Min     float64 `json:"min"`
	Max     float64 `json:"max"`
	P99     float64 `json:"p99"` // nearest rank
	Last    float64 `json:"last"`
}

// HarnessCPU is what the harness spent: the evalrun process's CPU time
// (load generator, driver client, recorder; getrusage), split user/sys,
// and per operation sent. A harness that needs much CPU takes it from the
// database under test when both share a machine.
type HarnessCPU struct {
	UserUs  int64   `json:"user_us"`
	SysUs   int64   `json:"sys_us"`
	PerOpUs float64 `json:"per_op_us"` // (user + sys) / operations sent in the phase
}

// OpStats summarises one op type in one phase. Latencies are from the
// intended start (coordinated-omission corrected); Service* are from the
// actual start. Errors counts operations the database failed;
// ErrorsByClass splits them (timeout, unavailable, other). Missed counts
// the operations the load generator gave up because they were more than
// max_lag behind schedule: never sent, so not the database's errors (their
// latency, the lag when given up, is in the percentiles). Not-found reads
// are not errors.
type OpStats struct {
	Count         int64            `json:"count"` // operations recorded: completed, failed and missed
	Errors        int64            `json:"errors"`
	ErrorsByClass map[string]int64 `json:"errors_by_class,omitempty"`
	Missed        int64            `json:"missed,omitempty"`
	Late          int64            `json:"late,omitempty"` // sent, but more than late_threshold after the intended start
	NotFound      int64            `json:"not_found,omitempty"`
	// NotFoundAcked counts the not-found reads of keys whose write had
	// been acknowledged before the read began: per phase, the data-safety
	// cost of a fault while it lasts.
	NotFoundAcked int64 `json:"notfound_acknowledged,omitempty"`
	// StaleReads counts the reads that returned a value superseded by a
	// write acknowledged before the read began (a replica behind, a quorum
	// that missed the write); MaxStalenessUs is the most out of date one
	// (at least: since the superseding write was acknowledged).
	StaleReads     int64   `json:"stale_reads,omitempty"`
	MaxStalenessUs int64   `json:"max_staleness_us,omitempty"`
	P50Us          int64   `json:"p50_us"`
	P90Us          int64   `json:"p90_us"`
	P99Us          int64   `json:"p99_us"`
	P999Us         int64   `json:"p999_us"`
	MaxUs          int64   `json:"max_us"`
	MeanUs         float64 `json:"mean_us"`
	Throughput     float64 `json:"throughput"` // successful ops/s over the phase
	ServiceP50Us   int64   `json:"service_p50_us"`
	ServiceP99Us   int64   `json:"service_p99_us"`
	ServiceMaxUs   int64   `json:"service_max_us"`
}

// Window is one second of the run, all op types together.
type Window struct {
	StartMs int64   `json:"start_ms"`
	Count   int64   `json:"count"`  // operations recorded, missed ones included
	Errors  int64   `json:"errors"` // failed by the database
	Missed  int64   `json:"missed,omitempty"`
	Late    int64   `json:"late,omitempty"`
	P50Us   int64   `json:"p50_us"`
	P99Us   int64   `json:"p99_us"`
	MaxUs   int64   `json:"max_us"`
	Rate    float64 `json:"rate"` // successful ops/s in the window
	// TargetRate is the operations per second the schedule made due in the
	// window (rate and ramp steps change it).
	TargetRate float64 `json:"target_rate,omitempty"`
	Phase      string  `json:"phase"`
	// Gauges are the values the cluster reported in this second (the last
	// sample of each), by name: "handoff_partitions", a replica's lag.
	// A second without a sample has none.
	Gauges map[string]float64 `json:"gauges,omitempty"`
}

// Safety is the data-safety verdict: every acknowledged write read back.
// Counts are of keys, except AcknowledgedWrites and NotFoundReads.
type Safety struct {
	AcknowledgedWrites int64    `json:"acknowledged_writes"`
	Acknowledged       int64    `json:"acknowledged"` // keys with an acknowledged write or delete
	Verified           int64    `json:"verified"`
	Lost               int64    `json:"lost"`
	Stale              int64    `json:"stale"`
	Unreadable         int64    `json:"unreadable"`            // read-back failed (error), so neither verified nor lost
	NotFoundReads      int64    `json:"notfound_reads"`        // reads during the run that missed an acknowledged key
	StaleReads         int64    `json:"stale_reads,omitempty"` // reads during the run that returned a superseded value
	Siblings           int64    `json:"siblings,omitempty"`    // reads that returned siblings (Riak allow_mult), the final verify's included
	Checked            bool     `json:"checked"`               // false when the run ended before the final verify
	LostKeys           []string `json:"lost_keys,omitempty"`   // the first few, for a human
	StaleKeys          []string `json:"stale_keys,omitempty"`  // the first few
	// ReadSettings says how the read-back read (the driver's words, e.g.
	// "r=quorum, pr=0, notfound_ok=true"); StrictReadSettings how a key it
	// found missing was read again before it counted as lost (empty when
	// the driver has no stricter read: then the read-back's answer is the
	// verdict).
	ReadSettings       string `json:"read_settings,omitempty"`
	StrictReadSettings string `json:"strict_read_settings,omitempty"`
	// QuorumNotFound: keys the read-back found missing whose acknowledged
	// value the strict read found on a replica: not lost, but what an
	// application reading with the same settings sees.
	QuorumNotFound     int64    `json:"quorum_notfound"`
	QuorumNotFoundKeys []string `json:"quorum_notfound_keys,omitempty"`
	// Unconfirmed: keys the read-back found missing whose strict read
	// failed, so their loss is not proven (not counted in Lost).
	Unconfirmed     int64    `json:"unconfirmed,omitempty"`
	UnconfirmedKeys []string `json:"unconfirmed_keys,omitempty"`
	// ReadStale: keys the read-back read as stale whose acknowledged
	// value the strict read found (a replica the read went to was behind):
	// not lost, not counted in Stale, but what an application reading with
	// the same settings sees.
	ReadStale     int64    `json:"read_stale,omitempty"`
	ReadStaleKeys []string `json:"read_stale_keys,omitempty"`
	// Evidence shows, for a sample of the keys above, how each was judged
	// and what each of its replicas held, read one replica at a time
	// before teardown (drivers that can read replicas directly).
	Evidence []KeyEvidence `json:"evidence,omitempty"`
	// Verifications lists every verify step (the final one included).
	Verifications []Verification `json:"verifications,omitempty"`
}

// KeyEvidence is how one key the read-back did not verify was judged, and
// where its data is.
type KeyEvidence struct {
	Key     string `json:"key"`
	Verdict string `json:"verdict"` // lost, quorum_notfound, unconfirmed, stale
	// Judged names the reads that judged the key and what each returned.
	Judged   string            `json:"judged"`
	Replicas []ReplicaEvidence `json:"replicas,omitempty"`
	// InspectError says why the replicas could not be read.
	InspectError string `json:"inspect_error,omitempty"`
}

// ReplicaEvidence is what one replica of a key held.
type ReplicaEvidence struct {
	Partition string `json:"partition"`
	Node      string `json:"node"`
	Primary   bool   `json:"primary"`
	// Holds: "the acknowledged value (write 123)", "an older value (write
	// 100)", "nothing", "a tombstone", "error: …".
	Holds string `json:"holds"`
}

// Verification is one read-back of acknowledged writes.
type Verification struct {
	Step       string `json:"step"`   // "verify", "verify-restore", "final"
	Target     string `json:"target"` // "cluster" or "restored"
	AtMs       int64  `json:"at_ms"`
	DurationMs int64  `json:"duration_ms"`
	Checked    int64  `json:"checked"`
	Verified   int64  `json:"verified"`
	Lost       int64  `json:"lost"`
	Stale      int64  `json:"stale"`
	Unreadable int64  `json:"unreadable"`
	// QuorumNotFound, Unconfirmed and ReadStale: see Safety.
	QuorumNotFound int64 `json:"quorum_notfound,omitempty"`
	Unconfirmed    int64 `json:"unconfirmed,omitempty"`
	ReadStale      int64 `json:"read_stale,omitempty"`
}

// Operational numbers: one entry per fault, membership, backup or restore step.
// For a fault: TimeToFirstErrorMs (-1 when no error followed), UnavailableMs
// (the longest stretch of windows with errors and no success... see README),
// RecoveryToBaselineMs (-1 when p99 never came back within the run).
// A failover (promote, switchover) has a fault's numbers and FailoverMs.
// For the others: DurationMs, Bytes for a backup, and PeakP99Us, what the
// step cost the load (beside BaselineP99Us).
type Operational struct {
	Step string `json:"step"`
	Node int    `json:"node,omitempty"`
	AtMs int64  `json:"at_ms"`
	Kind string `json:"kind"` // fault, recovery, failover, membership, backup, restore
	// Method is how a backup was taken ("mariabackup", "dump", "cold"),
	// for a restore the method of the backup it restored; empty when the
	// driver has one way only.
	Method             string `json:"method,omitempty"`
	TimeToFirstErrorMs *int64 `json:"time_to_first_error_ms,omitempty"`
	// FailoverMs (failover steps): from the step's start to the
	// acknowledgement of the first write sent after it began (by the new
	// primary), at the timeline's resolution (100 ms; never less than the
	// truth); -1 when no write was acknowledged before the next
	// operational step.
	FailoverMs           *int64 `json:"failover_ms,omitempty"`
	UnavailableMs        *int64 `json:"unavailable_ms,omitempty"`
	RecoveryToBaselineMs *int64 `json:"recovery_to_baseline_ms,omitempty"`
	BaselineP99Us        int64  `json:"baseline_p99_us,omitempty"`
	DurationMs           *int64 `json:"duration_ms,omitempty"`
	Bytes                *int64 `json:"bytes,omitempty"`
	// FreezeMs (a snapshot backup): how long the source node was frozen
	// while its files were copied, as the driver measured it
	// (drivers.MetaFreezeMs); the latency the load paid meanwhile is in
	// PeakP99Us.
	FreezeMs *int64 `json:"freeze_ms,omitempty"`
	// PeakP99Us: the highest p99 of the one-second windows the step
	// overlapped (membership, backup, restore steps): the latency cost
	// while it ran. 0 when no window overlapped.
	PeakP99Us int64 `json:"peak_p99_us,omitempty"`
	// HandoffMs: from the step's start until the cluster reported nothing
	// left to hand off (hinted handoff after a node returns, ownership
	// handoff after a membership change); absent when the driver does not
	// report handoff or it was not done by the end of the run.
	HandoffMs *int64 `json:"handoff_ms,omitempty"`
	// HandoffPartitions: partitions the change moved (as planned), else
	// the most seen waiting or moving.
	HandoffPartitions *int64 `json:"handoff_partitions,omitempty"`
	Detail            string `json:"detail,omitempty"`
}

// Files names the files of the run directory, relative to it.
type Files struct {
	JSON     string `json:"json"`
	Markdown string `json:"markdown"`
	HTML     string `json:"html"`
	HdrLog   string `json:"hdrlog"`
	// History is the recorded history of the sampled keys (history.jsonl),
	// Linearizability the directory of porcupine's views of violations.
	History         string `json:"history,omitempty"`
	Linearizability string `json:"linearizability,omitempty"`
	// HdrLogError says why the interval log is missing or incomplete
	// (a write, close or rename failed); empty when it is whole.
	HdrLogError string `json:"hdrlog_error,omitempty"`
}
