package model

// Consistency is the history check of a run: a sample of keys whose every
// operation was recorded (history.jsonl), checked for linearizability key
// by key, and session guarantees per client; with what the database
// promises in the run's mode. Absent when the run recorded no history.
type Consistency struct {
	// Promised is the driver's stated model ("linearizable", "eventual",
	// "none"; empty when the driver states none), PromisedLinearizable and
	// PromisedSessions what it promises, PromiseDetail why.
	Promised             string `json:"promised,omitempty"`
	PromisedLinearizable bool   `json:"promised_linearizable"`
	PromisedSessions     bool   `json:"promised_sessions"`
	PromiseDetail        string `json:"promise_detail,omitempty"`
	// Checked is false when the run ended before the check (then Verdict
	// is "unknown").
	Checked bool `json:"checked"`
	// Verdict over the sampled keys: "linearizable", "not_linearizable"
	// or "unknown" (some key's check ran out of its budget, or was not
	// done).
	Verdict string `json:"verdict"`
	// SafetyFailure: not linearizable although linearizability (or, for
	// the session counts, session guarantees) was promised.
	SafetyFailure   bool `json:"safety_failure"`
	Keys            int  `json:"keys"`
	Ops             int  `json:"ops"`
	Linearizable    int  `json:"linearizable_keys"`
	NotLinearizable int  `json:"not_linearizable_keys"`
	Unknown         int  `json:"unknown_keys"`
	// Truncated: the history reached its bound (max ops) and holds the
	// operations invoked before TruncatedAtMs only.
	Truncated     bool  `json:"truncated,omitempty"`
	TruncatedAtMs int64 `json:"truncated_at_ms,omitempty"`
	// TruncatedKeys: keys that reached the per-key bound
	// (MaxOpsPerKey); each holds the operations invoked before its own
	// cutoff, a prefix that is still checked.
	TruncatedKeys int `json:"truncated_keys,omitempty"`
	MaxOpsPerKey  int `json:"max_ops_per_key,omitempty"`
	// BudgetPerKeyMs is each key's check budget.
	BudgetPerKeyMs int64 `json:"budget_per_key_ms"`
	// Findings: the keys not linearizable or unknown.
	Findings []ConsistencyFinding `json:"findings,omitempty"`
	Sessions SessionGuarantees    `json:"sessions"`
	// The check's own cost: CPU time, wall time, peak Go heap.
	CheckCPUMs     int64  `json:"check_cpu_ms"`
	CheckWallMs    int64  `json:"check_wall_ms"`
	CheckPeakHeapB uint64 `json:"check_peak_heap_bytes"`
	// What the run spent before the check, to put the check's cost in
	// proportion: evalrun's CPU time (with an embedded cluster, the
	// database's too) and the process's peak resident memory, the check
	// included (0 when unknown).
	RunCPUMs   int64  `json:"run_cpu_ms,omitempty"`
	RunMaxRSSB uint64 `json:"run_max_rss_bytes,omitempty"`
}

// ConsistencyFinding is one key not linearizable, or unknown.
type ConsistencyFinding struct {
	Key     string `json:"key"`
	KeyIdx  int    `json:"key_index"`
	Ops     int    `json:"ops"`
	Verdict string `json:"verdict"` // not_linearizable or unknown
	Reason  string `json:"reason,omitempty"`
	// Anomaly: the operations that cannot be ordered (see linearize.KeyResult).
	Anomaly []HistoryOp `json:"anomaly,omitempty"`
	// Visualization: porcupine's HTML view, relative to the run directory.
	Visualization string `json:"visualization,omitempty"`
}

// HistoryOp is one operation of a history, as a report shows it.
type HistoryOp struct {
	Client   int     `json:"client"`
	Op       string  `json:"op"`
	InvokeMs float64 `json:"invoke_ms"`
	ReturnMs float64 `json:"return_ms"`
	Value    uint64  `json:"value,omitempty"`
	// Foreign: a get returned a value no write of this run made for the key.
	Foreign bool   `json:"foreign,omitempty"`
	Outcome string `json:"outcome"`
	Node    int    `json:"node,omitempty"`
}

// SessionGuarantees counts, per client, violations of monotonic reads and
// read your writes on the sampled keys.
type SessionGuarantees struct {
	Clients        int                `json:"clients"`
	Reads          int                `json:"reads"`
	MonotonicReads int                `json:"monotonic_reads_violations"`
	ReadYourWrites int                `json:"read_your_writes_violations"`
	Examples       []SessionViolation `json:"examples,omitempty"`
}

// SessionViolation is one violation, with the two operations involved.
type SessionViolation struct {
	Guarantee string    `json:"guarantee"`
	Client    int       `json:"client"`
	Key       string    `json:"key"`
	First     HistoryOp `json:"first"`
	Then      HistoryOp `json:"then"`
}
