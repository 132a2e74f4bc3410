package scenarios

import "github.com/evalrun/evalrun/drivers"

// Kind is what a step does to the cluster, for the report's operational
// numbers and the plots.
type Kind string

const (
	KindNone       Kind = ""           // sleep, verify, wait-settled: changes nothing
	KindFault      Kind = "fault"      // takes something away (a node, the network)
	KindRecovery   Kind = "recovery"   // gives it back
	KindMembership Kind = "membership" // changes the set of nodes
	KindBackup     Kind = "backup"
	KindRestore    Kind = "restore"
	KindLoad       Kind = "load" // changes the target rate
	// KindFailover moves the primary role to another node (promote,
	// switchover): it gets a fault's numbers and failover_ms, the time
	// until writes are acknowledged again.
	KindFailover Kind = "failover"
)

// argument is the shape of an action's value in the scenario.
type argument int

const (
	argNone              argument = iota // verify: {}, heal:
	argDuration                          // sleep: 5s
	argNode                              // kill: 2 | kill: leader
	argNodeTimeout                       // remove-node: 2 | {node: 2, timeout: 5m}
	argTimeout                           // backup: {timeout: 5m}
	argTimeoutOrDuration                 // wait-settled: 2m | {timeout: 2m}
	argGroups                            // partition: [[1], [2, 3]]
	argRate                              // rate: 5000
	argRamp                              // ramp: {to: 5000, over: 30s}
	argBackup                            // backup: {method: dump, timeout: 5m}
	argDegrade                           // degrade: {node: 2, cpu: 0.05, loss: 3%}
)

// Action is one step action, defined once: the parser, the validation,
// the runner, the report and the plots all read this table.
type Action struct {
	Name string
	// Needs is the capability the cluster must have: the one the action
	// is named by (ActKill is drivers.CapKill), or the one it is a case
	// of (isolate is a partition); "" for an action the runner does
	// alone (sleep, verify, rate).
	Needs  drivers.Capability
	Cannot string // what a driver without Needs cannot do
	Kind   Kind
	// Ends is the fault action this one ends (start ends kill and stop),
	// for the shaded stretches of the plots.
	Ends []string
	// Timeout: the step takes a timeout.
	Timeout bool
	// Downs: the node it names serves nothing afterwards (killed, stopped
	// or paused): "down" names the most recent one not back yet.
	Downs bool
	// Members: how it changes the number of members (+1, -1).
	Members int
	// Promotes: the node it names becomes the primary; it must be a
	// replica then (validation refuses the primary, the runner asks the
	// cluster which replica "replica" means).
	Promotes bool
	arg      argument
}

// actionTable lists every action; it is never written.
var actionTable = [...]Action{
	{Name: ActSleep, arg: argDuration},
	{Name: ActKill, Needs: drivers.CapKill, Cannot: "kill nodes", Kind: KindFault, Downs: true, arg: argNode},
	{Name: ActStop, Needs: drivers.CapStop, Cannot: "stop nodes", Kind: KindFault, Downs: true, arg: argNode},
	{Name: ActStart, Needs: drivers.CapStart, Cannot: "start nodes", Kind: KindRecovery, Ends: []string{ActKill, ActStop}, arg: argNode},
	{Name: ActPause, Needs: drivers.CapPause, Cannot: "pause", Kind: KindFault, Downs: true, arg: argNode},
	{Name: ActResume, Needs: drivers.CapResume, Cannot: "resume paused nodes", Kind: KindRecovery, Ends: []string{ActPause}, arg: argNode},
	{Name: ActAddNode, Needs: drivers.CapAddNode, Cannot: "add nodes", Kind: KindMembership, Timeout: true, Members: +1, arg: argTimeout},
	{Name: ActRemoveNode, Needs: drivers.CapRemove, Cannot: "remove nodes", Kind: KindMembership, Timeout: true, Members: -1, arg: argNodeTimeout},
	{Name: ActSettled, Needs: drivers.CapSettled, Cannot: "tell when the cluster has settled", Timeout: true, arg: argTimeoutOrDuration},
	{Name: ActBackup, Needs: drivers.CapBackup, Cannot: "take backups", Kind: KindBackup, Timeout: true, arg: argBackup},
	{Name: ActRestore, Needs: drivers.CapRestore, Cannot: "restore backups", Kind: KindRestore, Timeout: true, arg: argTimeout},
	{Name: ActVerify, arg: argNone},
	{Name: ActPartition, Needs: drivers.CapPartition, Cannot: "partition the network", Kind: KindFault, arg: argGroups},
	{Name: ActIsolate, Needs: drivers.CapPartition, Cannot: "partition the network", Kind: KindFault, arg: argNode},
	{Name: ActHeal, Needs: drivers.CapHeal, Cannot: "heal partitions", Kind: KindRecovery, Ends: []string{ActPartition, ActIsolate}, arg: argNone},
	{Name: ActPromote, Needs: drivers.CapPromote, Cannot: "promote replicas", Kind: KindFailover, Promotes: true, arg: argNode},
	{Name: ActSwitchover, Needs: drivers.CapSwitch, Cannot: "switch the primary over to a replica", Kind: KindFailover, Promotes: true, arg: argNode},
	{Name: ActRate, Kind: KindLoad, arg: argRate},
	{Name: ActRamp, Kind: KindLoad, arg: argRamp},
	{Name: ActDegrade, Needs: drivers.CapDegrade, Cannot: "degrade nodes", Kind: KindFault, arg: argDegrade},
	{Name: ActRepair, Needs: drivers.CapRepair, Cannot: "repair degraded nodes", Kind: KindRecovery, Ends: []string{ActDegrade}, arg: argNode},
}

// ActionOf returns the action called name.
func ActionOf(name string) (Action, bool) {
	for _, a := range actionTable {
		if a.Name == name {
			return a, true
		}
	}
	return Action{}, false
}

// ActionNames lists the actions in table order.
func ActionNames() []string {
	out := make([]string, len(actionTable))
	for i, a := range actionTable {
		out[i] = a.Name
	}
	return out
}
