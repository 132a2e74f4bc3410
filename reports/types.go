package reports

import "github.com/evalrun/evalrun/reports/model"

// The report model lives in reports/model (a leaf package); these names
// keep it at hand for the renderers and for callers of this package.
type (
	Report          = model.Report
	RunInfo         = model.RunInfo
	DriverInfo      = model.DriverInfo
	ScenarioInfo    = model.ScenarioInfo
	WorkloadInfo    = model.WorkloadInfo
	LoadInfo        = model.LoadInfo
	Event           = model.Event
	Phase           = model.Phase
	HarnessCPU      = model.HarnessCPU
	GaugeStats      = model.GaugeStats
	OpStats         = model.OpStats
	Window          = model.Window
	Safety          = model.Safety
	KeyEvidence     = model.KeyEvidence
	ReplicaEvidence = model.ReplicaEvidence
	Verification    = model.Verification
	Operational     = model.Operational
	Files           = model.Files
)

// Schema is model.Schema.
const Schema = model.Schema
