package model

// Capacity is what `evalrun capacity` found: the offered rate raised in
// stages on one cluster until the service-level objective broke. A report
// of an ordinary run has none (Report.Capacity is nil).
type Capacity struct {
	SLO SLO `json:"slo"`
	// The search as configured: the first stage's offered rate, the factor
	// between stages, each stage's measured length and the settle before
	// it (not counted), the bounds, and how many stages may bisect.
	StartRate float64 `json:"start_rate"`
	Factor    float64 `json:"factor"`
	StageMs   int64   `json:"stage_ms"`
	SettleMs  int64   `json:"settle_ms"`
	MaxRate   float64 `json:"max_rate,omitempty"` // 0: no bound but MaxStages
	MaxStages int     `json:"max_stages"`
	Bisect    int     `json:"bisect"`
	// Stages in the order they ran.
	Stages []CapacityStage `json:"stages"`
	// Result says how to read the numbers: CapacityFound, CapacityBelowStart,
	// CapacityNotReached or CapacityIncomplete.
	Result string `json:"result"`
	// MaxHeldRate is the highest offered rate of a stage that held; absent
	// when no stage held (the capacity is unknown, below the start rate).
	MaxHeldRate *float64 `json:"max_held_rate,omitempty"`
	// FirstBrokenRate is the lowest offered rate of a stage that broke
	// above MaxHeldRate; absent when none broke.
	FirstBrokenRate *float64 `json:"first_broken_rate,omitempty"`
	// Notes say what is worth knowing about the numbers (the load
	// generator's concurrency as the limit, a stage that held above one
	// that broke).
	Notes []string `json:"notes,omitempty"`
}

// Results of a capacity search.
const (
	// CapacityFound: a stage held and a higher one broke: the capacity
	// lies between MaxHeldRate and FirstBrokenRate.
	CapacityFound = "found"
	// CapacityBelowStart: the first stage already broke: the capacity is
	// unknown, below the start rate.
	CapacityBelowStart = "below-start"
	// CapacityNotReached: no stage broke up to the max rate or the max
	// number of stages: the capacity is at least MaxHeldRate.
	CapacityNotReached = "not-reached"
	// CapacityIncomplete: the run stopped (Ctrl-C, an error) before a
	// stage broke: at least MaxHeldRate, when one held.
	CapacityIncomplete = "incomplete"
)

// SLO is what a stage must meet to hold: corrected-latency p99 at most
// P99Us, a share of failed and missed operations at most ErrorShare, and
// an achieved throughput of at least MinAchieved of the offered rate.
type SLO struct {
	Text        string  `json:"text"` // as given: "p99=20ms,errors=1%"
	P99Us       int64   `json:"p99_us"`
	ErrorShare  float64 `json:"error_share"`  // a fraction: 0.01 is 1%
	MinAchieved float64 `json:"min_achieved"` // a fraction of the offered rate: 0.95
}

// CapacityStage is one stage: a named phase at one offered rate.
type CapacityStage struct {
	N       int     `json:"n"`     // 1-based, in the order run
	Phase   string  `json:"phase"` // the phase its numbers are (the settle before it is not)
	Bisect  bool    `json:"bisect,omitempty"`
	Offered float64 `json:"offered"` // ops/s the schedule made due
	// Achieved is the successful operations per second over the phase.
	Achieved float64 `json:"achieved"`
	StartMs  int64   `json:"start_ms"`
	EndMs    int64   `json:"end_ms"`
	Count    int64   `json:"count"` // operations recorded: completed, failed and missed
	Errors   int64   `json:"errors"`
	Missed   int64   `json:"missed"`
	Late     int64   `json:"late"`
	P50Us    int64   `json:"p50_us"`
	P99Us    int64   `json:"p99_us"`
	// ServiceP50Us is the median from the actual start: with P50Us it says
	// whether operations waited for the load generator.
	ServiceP50Us int64 `json:"service_p50_us"`
	// ErrorShare is (errors + missed) / count; LateShare late / count.
	ErrorShare float64 `json:"error_share"`
	LateShare  float64 `json:"late_share"`
	Held       bool    `json:"held"`
	// Broke says which part of the SLO the stage missed ("" when it held).
	Broke string `json:"broke,omitempty"`
}
