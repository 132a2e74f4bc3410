// Package drivers defines what evalrun needs from a database: a small
// required interface (Driver, Cluster, Client) and optional capability
// interfaces that scenario steps type-assert. It also holds the Registry
// that maps a --driver name to a Driver. It never imports a concrete driver.
package drivers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/evalrun/evalrun/internal/errext"
)

// Errors a Client returns so that the recorder can classify failures
// without knowing the database. Drivers wrap their own errors with these
// (fmt.Errorf("...: %w", drivers.ErrUnavailable)).
var (
	// ErrNotFound: the key does not exist. A Get returns it; it is not a failure.
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: the database refused or could not serve the operation
	// (no quorum, connection refused, node down).
	ErrUnavailable = errors.New("unavailable")
	// ErrNotSupported: the driver lacks a capability or provider.
	ErrNotSupported = errors.New("not supported by this driver")
)

// Provider names: where a cluster runs.
const (
	ProviderEmbedded = "embedded" // in this process (etcd only)
	ProviderDocker   = "docker"   // containers on a private network
)

// Capability is something a cluster may be able to do, named as the
// scenario action that needs it ("kill", "wait-settled"): the scenario
// format takes these names from here (scenarios.ActKill is CapKill), so
// they are written once. CapabilitiesOf says which a cluster type has.
type Capability string

const (
	CapKill      Capability = "kill"
	CapStop      Capability = "stop"
	CapStart     Capability = "start"
	CapPause     Capability = "pause"
	CapResume    Capability = "resume"
	CapAddNode   Capability = "add-node"
	CapRemove    Capability = "remove-node"
	CapSettled   Capability = "wait-settled"
	CapBackup    Capability = "backup"
	CapRestore   Capability = "restore"
	CapPartition Capability = "partition"
	CapHeal      Capability = "heal"
	CapPromote   Capability = "promote"
	CapSwitch    Capability = "switchover"
)

// ClusterSpec is what a Driver needs to start a cluster.
type ClusterSpec struct {
	Provider string            // ProviderEmbedded or ProviderDocker
	Nodes    int               // initial number of nodes (members)
	WorkDir  string            // a private directory for data dirs and logs; the driver owns it
	RunID    string            // labels every resource the cluster creates
	Options  map[string]string // driver-specific options from the scenario (cluster.options)
	Image    string            // container image override (docker provider)
	// Resources limit every node (cluster.resources); PerNode overrides
	// them for the nodes it names (1-based). Only a cluster type that is
	// a ResourceLimiter applies them; validation refuses them elsewhere.
	Resources Resources
	PerNode   map[int]Resources
	// Swept: the caller already removed what crashed runs left behind
	// (evalrun run sweeps once before a run); a docker driver does not
	// sweep again.
	Swept bool
	// Logf reports progress and diagnostics (one line each). Never nil.
	Logf func(format string, args ...any)
}

// Driver is one database. It is stateless: everything it starts lives in
// the Cluster it returns.
type Driver interface {
	// Name is the --driver name ("etcd").
	Name() string
	// Description is one line for `evalrun drivers`.
	Description() string
	// Providers lists the providers this driver supports, default first.
	Providers() []string
	// Plan checks a cluster's size and options for provider without
	// starting anything and says what the cluster will be, so that a
	// scenario is validated before anything starts. A bad option is an
	// *OptionError.
	Plan(provider string, nodes int, options map[string]string) (Topology, error)
	// StartCluster starts a cluster and returns once every node is ready.
	// On error it must leave nothing running.
	StartCluster(ctx context.Context, spec ClusterSpec) (Cluster, error)
}

// Topology is what a cluster will be, known before it starts.
type Topology struct {
	// Nodes is how many nodes the cluster starts with: indexes 1..Nodes
	// are addressable from the first step (Redis with replicas starts more
	// nodes than cluster.nodes counts masters).
	Nodes int
	// Roles are the role names a step may target (kill: leader, pause:
	// replica); the cluster resolves them with Roles.
	Roles []string
	// Capabilities are what the cluster's type implements
	// (CapabilitiesOf): never a second, hand-written list.
	Capabilities []Capability
	// BackupMethods are the ways the cluster can take a backup, default
	// first (BackupMethodsOf); empty when it has one way only.
	BackupMethods []string
	// Primary is the node that takes the writes when the cluster starts
	// (1-based), for a cluster with one primary and replicas; 0 otherwise.
	// Validation refuses to promote or remove it (while no step has made
	// another node the primary).
	Primary int
	// Resources: the cluster applies cluster.resources to its nodes
	// (LimitsResources of its type); validation refuses them otherwise.
	Resources bool
}

// OptionError is a cluster option the driver refuses: an unknown name or
// a value it cannot use. Name lets the caller point at the option's line.
type OptionError struct {
	Driver string
	Name   string
	Value  string   // as given; "" for an unknown option
	Want   string   // what the value must be
	Known  []string // for an unknown option: the names the driver knows
}

// ExitCode implements errext.HasExitCode: the scenario's options are the
// user's to fix.
func (e *OptionError) ExitCode() errext.ExitCode { return errext.ExitBadInput }

func (e *OptionError) Error() string {
	if e.Known != nil {
		return fmt.Sprintf("%s: unknown option %q (known: %s)", e.Driver, e.Name, strings.Join(e.Known, ", "))
	}
	return fmt.Sprintf("%s: option %s=%q: %s", e.Driver, e.Name, e.Value, e.Want)
}

// NodeInfo describes one node of a cluster, as the report shows it.
type NodeInfo struct {
	Index   int    `json:"index"` // 1-based, stable for the life of the cluster
	Name    string `json:"name"`
	Address string `json:"address"` // the client address the harness uses (127.0.0.1:port)
	Up      bool   `json:"up"`
	// CPUs and MemoryBytes are the node's limits (cluster.resources);
	// absent when it has none.
	CPUs        float64 `json:"cpus,omitempty"`
	MemoryBytes int64   `json:"memory_bytes,omitempty"`
}

// ClusterInfo is what a cluster says about itself.
type ClusterInfo struct {
	DB        string            `json:"db"`                 // "etcd"
	DBVersion string            `json:"db_version"`         // "3.7.3"
	Image     string            `json:"image,omitempty"`    // container image the nodes run (docker provider)
	ImageID   string            `json:"image_id,omitempty"` // its ID or digest, so runs say exactly what they ran
	Nodes     []NodeInfo        `json:"nodes"`
	Config    map[string]string `json:"config,omitempty"` // settings worth reporting
}

// Cluster is a running cluster. Close tears everything down and must be
// safe to call more than once and after a failed step.
type Cluster interface {
	Info(ctx context.Context) (ClusterInfo, error)
	// NewClient opens a client that spreads operations over the nodes.
	NewClient(ctx context.Context) (Client, error)
	Close(ctx context.Context) error
}

// Client performs key-value operations. It must be safe for concurrent use.
// Every call honours ctx's deadline. Put must not keep value after it
// returns: the caller reuses the buffer.
type Client interface {
	Put(ctx context.Context, key string, value []byte) error
	// Get returns ErrNotFound (wrapped or not) when the key does not exist.
	Get(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
	Close() error
}

// NodeController stops and starts nodes. Index is 1-based.
type NodeController interface {
	// KillNode stops a node abruptly: no hand-over, no flush beyond what
	// the database itself guarantees (SIGKILL for a process). It returns
	// once the node is dead, even if cleanup of its resources goes on.
	KillNode(ctx context.Context, index int) error
	// StopNode stops a node gracefully.
	StopNode(ctx context.Context, index int) error
	// StartNode starts a stopped or killed node on its existing data.
	StartNode(ctx context.Context, index int) error
}

// Pauser freezes and thaws a node (SIGSTOP/SIGCONT, docker pause).
type Pauser interface {
	PauseNode(ctx context.Context, index int) error
	ResumeNode(ctx context.Context, index int) error
}

// Partitioner cuts groups of nodes off from each other and heals.
type Partitioner interface {
	// Partition isolates the nodes of each group from the nodes of the
	// other groups. Nodes in no group stay with the first group.
	Partition(ctx context.Context, groups [][]int) error
	Heal(ctx context.Context) error
}

// Membership changes the set of nodes. A database may refuse membership
// changes for a few seconds after a start or restart (etcd: about 5 s);
// implementations retry within ctx.
type Membership interface {
	// AddNode starts a new node, joins it and returns its index. It returns
	// once the join is accepted, not when data has moved: use Settler.
	AddNode(ctx context.Context) (int, error)
	// RemoveNode takes a node out of the cluster and stops it.
	RemoveNode(ctx context.Context, index int) error
}

// Settler says whether a cluster is at rest (membership agreed, every
// node serving, no data in transit), for wait-settled.
type Settler interface {
	// Settled reports whether the cluster is at rest. detail says why
	// not, for the report.
	Settled(ctx context.Context) (settled bool, detail string, err error)
}

// Roles is optional: a cluster whose nodes play roles (leader, follower,
// master, replica, claimant) says which node plays which now, so a step
// can target a role ("kill: leader", "pause: replica"). The role names it
// can return are Topology.Roles.
type Roles interface {
	// NodeRoles maps each role to the nodes playing it now, ascending. A
	// node may play several roles (a Redis master of slot 0 is "master"
	// and "leader"); a role nobody plays now is absent or empty.
	NodeRoles(ctx context.Context) (map[string][]int, error)
}

// Role names of a cluster with one writable primary and replicas that a
// Promoter can promote. A step that promotes "replica" leaves the choice
// to the cluster (Promoter.Candidate), not to "the lowest replica up".
const (
	RolePrimary = "primary"
	RoleReplica = "replica"
)

// Promoter is optional: a cluster of one primary and replicas that can
// make a replica the primary. Both calls return once the client's writes
// go to the new primary; writes fail while they run. A call refuses (with
// an error that says why) a node that is not a replica replicating now.
type Promoter interface {
	// Candidate is the replica a failover should promote now: the most
	// advanced one (it holds the most of the old primary's transactions).
	Candidate(ctx context.Context) (int, error)
	// Promote makes replica index the primary after the primary died
	// (failover): it applies what it has received, stops replicating,
	// becomes writable, and the other replicas replicate from it. What
	// the old primary acknowledged and no replica received is lost.
	Promote(ctx context.Context, index int) error
	// Switchover hands the primary role to replica index while the
	// primary runs (planned): the primary stops taking writes, index
	// applies everything it wrote, index is promoted and the old primary
	// replicates from it. No acknowledged write is lost.
	Switchover(ctx context.Context, index int) error
}

// Gauge is one named value a cluster reports while the load runs
// (partitions waiting for handoff; a replica's lag in seconds).
type Gauge struct {
	Name  string  `json:"name"`  // "handoff_partitions", "lag_s.node2"
	Value float64 `json:"value"` // in the unit its name says
}

// GaugeReporter is optional: the runner polls it while the load runs and
// writes each value into the report's window of the second it was taken.
type GaugeReporter interface {
	// GaugeInterval is how often the runner asks (asking costs the
	// database work that the latency figures carry: Riak's admin commands
	// want seconds, a replica's heartbeat row a fraction of one).
	GaugeInterval() time.Duration
	// Gauges returns the current values. An error skips one sample.
	Gauges(ctx context.Context) ([]Gauge, error)
}

// Notice is something that went wrong in the cluster by itself while the
// load ran, not as a step's doing: a replica whose replication stopped on
// an error. Text is the database's own words.
type Notice struct {
	Node int    // 1-based; 0 for the cluster as a whole
	What string // "replication stopped"
	Text string // the server's error text
}

// NoticeReporter is optional beside GaugeReporter: after each gauge poll
// the runner takes the notices the cluster collected since the last take
// and writes each into the report's events, so that a broken replica is
// reported in its own words instead of as a gauge that merely stops.
type NoticeReporter interface {
	// TakeNotices returns the notices since the last call and forgets them.
	TakeNotices() []Notice
}

// Backup describes a backup that BackupRestorer took.
type Backup struct {
	Path  string            `json:"path"`
	Bytes int64             `json:"bytes"`
	Meta  map[string]string `json:"meta,omitempty"`
}

// BackupRestorer takes a backup of a running cluster and restores one into
// a fresh cluster.
type BackupRestorer interface {
	// Backup writes a backup under dir while the cluster serves load. It
	// must hold every write acknowledged before the call (the runner
	// verifies the restored data against exactly that).
	Backup(ctx context.Context, dir string) (Backup, error)
	// Restore starts a fresh cluster (same size and layout) from b. The
	// caller closes the returned cluster.
	Restore(ctx context.Context, b Backup, spec ClusterSpec) (Cluster, error)
}

// Well-known keys of Backup.Meta, which the report shows when present.
const (
	MetaMethod   = "method"   // how the backup was taken ("mariabackup")
	MetaSource   = "source"   // the node it was taken from ("node3")
	MetaPosition = "position" // the point of the database's history it holds (a GTID position, a revision)
	// MetaFreezeMs is how long the source was frozen (milliseconds, an
	// integer) while a snapshot copied its files: what the backup cost the
	// running node. Only backups that freeze a node set it.
	MetaFreezeMs = "freeze_ms"
)

// BackupMethods is optional on a BackupRestorer that can take a backup
// more than one way (a hot physical copy, a logical dump, a cold copy of a
// stopped node). A scenario picks one by name (backup: {method: dump});
// Backup takes the default, the first of BackupMethods.
type BackupMethods interface {
	// BackupMethods names the methods, default first. It must not depend
	// on the receiver's state: BackupMethodsOf calls it on a nil pointer.
	BackupMethods() []string
	// BackupWith is Backup by one of BackupMethods. The Backup's Meta
	// names the method (MetaMethod), so that Restore knows how to
	// restore it.
	BackupWith(ctx context.Context, dir, method string) (Backup, error)
}

// BackupMethodsOf lists the backup methods of cluster (a value of a
// driver's cluster type; a nil pointer will do), default first; nil when
// it has no choice of method.
func BackupMethodsOf(cluster any) []string {
	if bm, ok := cluster.(BackupMethods); ok {
		return bm.BackupMethods()
	}
	return nil
}

// Handoff is what a HandoffReporter says about data moving between nodes.
type Handoff struct {
	// Done: nothing waits to be handed off and nothing is moving.
	Done bool `json:"done"`
	// Partitions counts the partitions (shards, vnodes) still waiting or
	// moving; 0 when the database does not say.
	Partitions int `json:"partitions"`
	// Planned counts the partitions the last membership change moves, as
	// the database planned it (Riak's `cluster plan`); 0 when unknown.
	Planned int `json:"planned,omitempty"`
	// Detail says what is in flight, one line, for the report.
	Detail string `json:"detail,omitempty"`
}

// HandoffReporter is optional: the cluster reports whether data it owes a
// node (hinted handoff after a node returns) or moves for a membership
// change (ownership handoff) is still in flight. The runner polls it after
// a node returns and after a membership change, and reports how long the
// handoff took.
type HandoffReporter interface {
	Handoff(ctx context.Context) (Handoff, error)
}

// SiblingCounter is optional on a Client: a database that keeps concurrent
// versions of a key (Riak with allow_mult) counts the reads that returned
// more than one. The count is a data-safety figure of the report.
type SiblingCounter interface {
	SiblingReads() int64
}

// ReadDescriber is optional on a Client: it states in one line how Get
// reads ("r=quorum, pr=0, notfound_ok=true"; "linearizable"), so that the
// report says with which settings acknowledged writes were read back.
type ReadDescriber interface {
	ReadSettings() string
}

// StrictReader is optional on a Client whose Get may answer not found
// while a replica still holds the key (a quorum that counts not-found
// replies, as Riak's notfound_ok does). Before the read-back counts a key
// as lost, it reads the key again with GetStrict; a key found then is
// counted apart (quorum not-found: what applications reading with Get
// see), not as lost.
type StrictReader interface {
	// GetStrict asks every replica of key and returns ErrNotFound only
	// when all of them answered that they hold nothing.
	GetStrict(ctx context.Context, key string) ([]byte, error)
	// StrictReadSettings states how GetStrict reads, in one line.
	StrictReadSettings() string
}

// ReplicaRead is what one replica of a key holds, read from that replica
// alone (no quorum, no read repair).
type ReplicaRead struct {
	Partition string `json:"partition"`        // shard, vnode or slot that holds the replica
	Node      string `json:"node"`             // node that owns it
	Primary   bool   `json:"primary"`          // a primary owner, not a fallback
	Found     bool   `json:"found"`            // the replica holds a value
	Tombstone bool   `json:"tombstone"`        // the value is a delete's tombstone
	Values    int    `json:"values,omitempty"` // siblings held (0 or 1 when none)
	Header    []byte `json:"header,omitempty"` // the newest value's first bytes (evalrun's identity header)
	Error     string `json:"error,omitempty"`  // the replica could not be read
}

// KeyReplicas is every replica of one key.
type KeyReplicas struct {
	Key      string        `json:"key"`
	Replicas []ReplicaRead `json:"replicas"`
}

// ReplicaInspector is optional on a Cluster: it reads each replica of a
// key directly, so that a key judged lost can be shown to be nowhere (or
// found where the reads did not look) without quorum arithmetic. The
// runner asks it about a sample of the lost keys before teardown.
type ReplicaInspector interface {
	InspectReplicas(ctx context.Context, keys []string) ([]KeyReplicas, error)
}

// ImageSource is what a SourceImageBuilder builds an image from: exactly
// one of its fields is set.
type ImageSource struct {
	// ReleaseDir is a built release directory (for Riak, rel/riak with its
	// bundled ERTS).
	ReleaseDir string
	// Package is a package file (for Riak, a .deb).
	Package string
}

// SourceImageBuilder is optional: a driver whose offline image is built
// from a release or package the user supplies, because no Debian package
// ships the database.
type SourceImageBuilder interface {
	BuildImageFrom(ctx context.Context, src ImageSource, progress func(string)) (ref string, err error)
}

// ImageBuilder is optional: a driver whose docker provider names an
// official image and can build an equivalent one offline (from Debian
// packages) when that image cannot be pulled.
type ImageBuilder interface {
	// DefaultImage is the official image used when --image is not given,
	// e.g. "redis:7.2".
	DefaultImage() string
	// BuildImage builds the offline image and returns its reference, e.g.
	// "evalrun/redis:7.0.15". progress gets one line at a time.
	BuildImage(ctx context.Context, progress func(string)) (ref string, err error)
}

// DefaultOpTimeout is used when a scenario names no timeout.
const DefaultOpTimeout = 2 * time.Second

// CapabilitiesOf lists what cluster (a value of a driver's cluster type;
// a nil pointer will do) implements, in the order of the step table.
func CapabilitiesOf(cluster any) []Capability {
	var caps []Capability
	add := func(ok bool, cs ...Capability) {
		if ok {
			caps = append(caps, cs...)
		}
	}
	_, nc := cluster.(NodeController)
	add(nc, CapKill, CapStop, CapStart)
	_, p := cluster.(Pauser)
	add(p, CapPause, CapResume)
	_, pt := cluster.(Partitioner)
	add(pt, CapPartition, CapHeal)
	_, m := cluster.(Membership)
	add(m, CapAddNode, CapRemove)
	_, st := cluster.(Settler)
	add(st, CapSettled)
	_, b := cluster.(BackupRestorer)
	add(b, CapBackup, CapRestore)
	_, pr := cluster.(Promoter)
	add(pr, CapPromote, CapSwitch)
	_, dg := cluster.(Degrader)
	add(dg, CapDegrade, CapRepair)
	return caps
}

// Supports reports whether caps contains c.
func Supports(caps []Capability, c Capability) bool {
	for _, x := range caps {
		if x == c {
			return true
		}
	}
	return false
}
