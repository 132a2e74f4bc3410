// Package runner runs a scenario Plan against a driver: it starts the
// cluster, preloads keys, drives the open-loop workload while it executes
// the timeline of steps on the same clock, verifies every acknowledged
// write, tears everything down, and returns the report model. It renders
// nothing: the command writes the report.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/history"
	"github.com/evalrun/evalrun/internal/measure"
	"github.com/evalrun/evalrun/internal/safety"
	"github.com/evalrun/evalrun/internal/workload"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/scenarios"
)

// Options configure a run.
type Options struct {
	Plan      *scenarios.Plan // already scaled and overridden
	TimeScale float64         // how Plan was scaled (for the report)
	Driver    drivers.Driver
	Provider  string
	Image     string
	RunID     string
	Version   string
	// HdrLog receives the HdrHistogram interval log; may be nil.
	HdrLog io.Writer
	// Progress is called about once a second; may be nil.
	Progress func(Status)
	// Logf prints one line of diagnostics; may be nil.
	Logf func(format string, args ...any)
	// TeardownTimeout bounds cluster teardown after the run (default 15s).
	TeardownTimeout time.Duration
	// Swept: Docker was swept before the run; drivers need not sweep
	// (drivers.ClusterSpec.Swept).
	Swept bool
	// OutDir, when set, is the run directory: the runner writes the
	// recorded history there (history.jsonl) and porcupine's views of the
	// keys found not linearizable (linearizability/), and names them in
	// the report's Files. Empty: the history is checked, not written.
	OutDir string
	// checker replaces the history check (the runner's own tests; zero:
	// package linearize's).
	checker historyChecker
	// Capacity, when set, makes the run a capacity search: after the
	// scenario's steps, the offered rate rises in stages (capacity.go).
	Capacity *CapacityOptions
}

// Status is what the progress line shows.
type Status struct {
	Phase            string
	Elapsed, Planned time.Duration
	Rate             float64 // successful ops/s in the last window
	P99              time.Duration
	Errors           int64 // in the last window
	TotalErrors      int64
	Step             string // the step in progress
}

// Run executes the plan. It always returns a report (marked incomplete with
// the reason when something went wrong or ctx was cancelled) unless the
// options themselves are invalid; err says why the run did not complete.
func Run(ctx context.Context, o Options) (rep *model.Report, err error) {
	if o.Plan == nil || o.Driver == nil {
		return nil, errors.New("runner: plan and driver are required")
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.TeardownTimeout <= 0 {
		o.TeardownTimeout = 15 * time.Second
	}
	if o.TimeScale == 0 {
		o.TimeScale = 1
	}
	r := &run{o: o, plan: o.Plan, checker: o.checker, cpu0: measure.ProcessCPU()}
	if r.checker.check == nil || r.checker.sessions == nil {
		r.checker = defaultChecker()
	}
	r.rep = r.skeleton()
	r.recordResources()
	if o.Capacity != nil {
		if err := o.Capacity.Check(); err != nil {
			return nil, fmt.Errorf("runner: %w", err)
		}
		r.rep.Capacity = o.Capacity.skeleton()
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("internal error: %v (please report it)", p)
				o.Logf("%s", debug.Stack())
			}
		}()
		err = r.execute(ctx)
	}()
	r.teardown()
	r.checkHistory(ctx)
	r.finish(err)
	return r.rep, err
}

type run struct {
	cpu0 measure.CPUTime // the process's CPU time when the run began
	o    Options
	plan *scenarios.Plan
	rep  *model.Report

	workDir  string
	cluster  drivers.Cluster
	client   drivers.Client
	restored []drivers.Cluster
	keyNames []string
	ledger   *safety.Ledger
	// hist records the operations on the sampled keys (nil: none),
	// checker checks them, promised is what the cluster promises
	// (consistency.go).
	hist     *history.Recorder
	checker  historyChecker
	promised drivers.Consistency
	// preHist holds the preload's operations until the load's clock
	// starts, preT0 the preload clock's zero.
	preHist  *history.Recorder
	preT0    time.Time
	rec      *measure.Recorder
	load     *workload.Load
	schedule *workload.RateSchedule // rate and ramp steps change it
	loadT0   time.Time
	loadEnd  time.Duration
	started  bool // the load started

	nodes    nodeBook      // what the steps did to the nodes (nodes.go)
	progress progressLine  // what the progress line shows
	backups  []takenBackup // in the order taken
	log      stepLog       // what the timeline did, for the report

	gauges gaugeLog // what a drivers.GaugeReporter said (gauges.go)

	// loadCtx ends when the load stops (stopBeside), and with it what
	// runs beside the timeline (goBeside): the progress ticker, the gauge
	// poller, the handoff trackers (handoff.go).
	loadCtx    context.Context
	stopBeside context.CancelFunc
	beside     sync.WaitGroup
	// abort ends the timeline early with its cause: a panic in a load
	// operation or beside the timeline.
	abort context.CancelCauseFunc
}

// progressLine is the step under way and the errors so far, which the
// ticker shows while the timeline goroutine moves on.
type progressLine struct {
	mu          sync.Mutex
	step        string
	totalErrors int64
}

// takenBackup is a backup and the checkpoint of what was acknowledged
// before it began, which its restore is verified against.
type takenBackup struct {
	backup     drivers.Backup
	checkpoint *safety.Checkpoint
	method     string // the method asked for ("" when the driver has one way only)
}

// stepLog is what the timeline did: every event, the operational steps
// waiting for their numbers, the verifications. Only the timeline and,
// after it, the report touch it.
type stepLog struct {
	events  []model.Event
	opSteps []opStep
	verifs  []model.Verification
}

// opStep is an operational step waiting for its numbers.
type opStep struct {
	ev       model.Event
	kind     scenarios.Kind
	duration time.Duration // membership: until settled when a wait-settled follows
	bytes    int64
	hasBytes bool
	method   string // backup and restore: the backup's method
	freezeMs *int64 // backup: how long the driver froze the source (MetaFreezeMs)
	detail   string
	handoff  *handoffTrack // nil unless the cluster reports handoff
}

func (r *run) skeleton() *model.Report {
	host, _ := os.Hostname()
	p := r.plan
	mix := map[string]int{}
	for k, v := range p.Workload.Mix {
		mix[k] = v
	}
	return &model.Report{
		Schema:     model.Schema,
		Incomplete: "the run did not finish",
		Run: model.RunInfo{
			ID: r.o.RunID, Start: time.Now().UTC(), Version: r.o.Version, Seed: p.Workload.Seed,
			Host: host, GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
			CPUModel: cpuModel(), Kernel: kernelRelease(), LoadAvg: loadAverage(),
		},
		Driver: model.DriverInfo{Name: r.o.Driver.Name(), Provider: r.o.Provider, Nodes: p.Cluster.Nodes, Image: r.o.Image, Config: copyMap(p.Cluster.Options)},
		Scenario: model.ScenarioInfo{
			Name: p.Name, Description: p.Description, Source: p.Source, SHA256: p.SHA256, TimeScale: r.o.TimeScale,
		},
		Workload: model.WorkloadInfo{
			Mix: mix, Keys: p.Workload.Keys, Distribution: p.Workload.Distribution, ValueSize: p.Workload.ValueSize,
			TargetRate: p.Workload.Rate, Concurrency: p.Workload.Concurrency, MaxConcurrency: p.Workload.MaxConcurrency, TimeoutMs: p.Workload.Timeout.Milliseconds(),
			Preload: p.Workload.Preload,
		},
		Events:      []model.Event{},
		Phases:      []model.Phase{},
		Windows:     []model.Window{},
		Operational: []model.Operational{},
	}
}

func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (r *run) clock() time.Duration { return time.Since(r.loadT0) }

func (r *run) spec(workDir string) drivers.ClusterSpec {
	return drivers.ClusterSpec{
		Provider: r.o.Provider, Nodes: r.plan.Cluster.Nodes, WorkDir: workDir, RunID: r.o.RunID,
		Options: copyMap(r.plan.Cluster.Options), Image: r.o.Image, Logf: r.o.Logf, Swept: r.o.Swept,
		Resources: r.plan.Cluster.Resources, PerNode: maps.Clone(r.plan.Cluster.PerNode),
	}
}

// execute is the run's pipeline; Run tears down after it, whatever
// happened.
func (r *run) execute(ctx context.Context) error {
	if err := r.checkDegrades(ctx); err != nil {
		return err
	}
	if err := r.startCluster(ctx); err != nil {
		return err
	}
	if err := r.preload(ctx); err != nil {
		return err
	}
	if err := r.loadAndTimeline(ctx); err != nil {
		return err
	}
	return r.finalVerify(ctx)
}

// startCluster starts the cluster in a work directory of its own and
// opens the client.
func (r *run) startCluster(ctx context.Context) error {
	var err error
	r.workDir, err = os.MkdirTemp("", "evalrun-"+r.o.RunID+"-")
	if err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	r.setStep("starting cluster")
	r.o.Logf("starting %s cluster of %d nodes (provider %s)", r.o.Driver.Name(), r.plan.Cluster.Nodes, r.o.Provider)
	// Keep the cluster only on success: a driver may return a typed nil
	// with its error, which teardown must not Close.
	cluster, err := r.o.Driver.StartCluster(ctx, r.spec(r.workDir+"/cluster"))
	if err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	r.cluster = cluster
	r.promised = promiseOf(cluster)
	r.describeCluster(ctx)
	r.client, err = r.cluster.NewClient(ctx)
	if err != nil {
		return fmt.Errorf("open client: %w", err)
	}
	r.rep.Safety.ReadSettings, r.rep.Safety.StrictReadSettings = readSettings(r.client)
	return nil
}

// describeCluster writes what the cluster says about itself into the
// report and the node book. A cluster that cannot say is logged: the run
// goes on, and the report lacks the database's version and image.
func (r *run) describeCluster(ctx context.Context) {
	info, err := r.cluster.Info(ctx)
	r.nodes.started(info.Nodes, r.plan.Cluster.Nodes)
	if err != nil {
		r.o.Logf("cluster info: %v (the report lacks the database's version and image)", err)
		return
	}
	d := &r.rep.Driver
	d.DB, d.DBVersion = info.DB, info.DBVersion
	if len(info.Nodes) > 0 {
		d.Nodes = len(info.Nodes) // all it started: Redis's replicas too
	}
	d.NodeNames = nodeNames(info.Nodes)
	if info.Image != "" {
		d.Image, d.ImageID = info.Image, info.ImageID
	}
	for k, v := range info.Config {
		if d.Config == nil {
			d.Config = map[string]string{}
		}
		if _, set := d.Config[k]; !set {
			d.Config[k] = v
		}
	}
}

// preload opens the ledger of acknowledged writes and, when the workload
// asks, writes every key once before the load's clock starts.
func (r *run) preload(ctx context.Context) error {
	w := r.plan.Workload
	r.keyNames = make([]string, w.Keys)
	for i := range r.keyNames {
		r.keyNames[i] = workload.KeyName(i)
	}
	r.ledger = safety.New(w.Keys, 4*w.Timeout)
	r.startHistory()
	if !w.Preload {
		return nil
	}
	r.setStep("preload")
	const preloadLimit = 10 * time.Minute
	pctx, cancel := context.WithTimeout(ctx, preloadLimit)
	defer cancel()
	t0 := time.Now()
	// Preload happens before the load's clock starts: its times are negative.
	clock := func() time.Duration { return time.Since(t0) - preloadLimit }
	// Its history waits for the load's clock (adoptPreloadHistory).
	if r.hist != nil {
		r.preHist = history.NewRecorder(w.Keys, r.hist.Keys(), w.History.MaxOps)
		r.preT0 = t0.Add(preloadLimit) // clock() is 0 then
	}
	n, err := workload.Preload(pctx, r.client, r.ledger, r.preHist, r.keyNames, w.ValueSize, w.Concurrency, w.Timeout, clock)
	r.rep.Load.PreloadOps, r.rep.Load.PreloadMs = n, time.Since(t0).Milliseconds()
	if err != nil {
		return err
	}
	r.o.Logf("preloaded %d keys in %v", w.Keys, time.Since(t0).Round(time.Millisecond))
	return nil
}

// loadAndTimeline runs the open-loop load and, on the same clock, the
// timeline of steps. A panic in a load operation or in a goroutine beside
// the timeline (a driver's bug) ends the timeline early and is the run's
// error; a panic in a step stops the load and everything beside it before
// Run turns it into an incomplete report and tears down.
func (r *run) loadAndTimeline(ctx context.Context) error {
	stepCtx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	r.abort = abort
	if err := r.startLoad(ctx); err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			r.stopLoad()
			panic(p)
		}
	}()
	stepErr := r.timelineAndStages(stepCtx)
	r.stopLoad()
	if cause := context.Cause(stepCtx); ctx.Err() == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		stepErr = cause // a load operation or a goroutine beside the timeline panicked
	}
	if stepErr != nil {
		return stepErr
	}
	return ctx.Err()
}

// keyChooser is the workload's key distribution.
func keyChooser(w scenarios.Workload) (workload.KeyChooser, error) {
	if w.Distribution == scenarios.Zipfian {
		return workload.NewZipfian(w.Keys, workload.YCSBZipfianConstant)
	}
	return workload.Uniform{N: w.Keys}, nil
}

// startLoad makes the recorder, the rate schedule and the load, and
// starts the load with what runs beside the timeline: the progress
// ticker and, when the cluster reports gauges, the gauge poller.
func (r *run) startLoad(ctx context.Context) error {
	w := r.plan.Workload
	keys, err := keyChooser(w)
	if err != nil {
		return err
	}
	r.loadT0 = time.Now()
	r.rep.Run.Start = r.loadT0.UTC()
	if r.preHist != nil {
		r.adoptPreloadHistory(r.preHist, r.preT0.Sub(r.loadT0))
		r.preHist = nil
	}
	firstPhase := "main"
	if len(r.plan.Steps) > 0 && r.plan.Steps[0].Phase != "" {
		firstPhase = r.plan.Steps[0].Phase
	}
	r.rec, err = measure.NewRecorder(measure.Config{Ops: workload.OpNames(), Start: r.loadT0, HdrLog: r.o.HdrLog, FirstPhase: firstPhase,
		WriteOps: []int{workload.Write, workload.Delete}, PerNode: servesNodes(r.client), NodeGroups: nodeGroups(r.cluster)})
	if err != nil {
		return err
	}
	r.schedule = workload.NewRateSchedule(w.Rate)
	r.load, err = workload.New(workload.Config{
		Schedule: r.schedule.Schedule(),
		Weights: [workload.NumOps]int{workload.Read: w.Mix[scenarios.OpRead], workload.Write: w.Mix[scenarios.OpWrite],
			workload.Delete: w.Mix[scenarios.OpDelete], workload.ReadFresh: w.Mix[scenarios.OpReadFresh]},
		Keys:           keys,
		KeyNames:       r.keyNames,
		ValueSize:      w.ValueSize,
		Concurrency:    w.Concurrency,
		MaxConcurrency: w.MaxConcurrency,
		SpinWindow:     workload.DefaultSpinWindow,
		Timeout:        w.Timeout,
		MaxLag:         w.MaxLag,
		Seed:           w.Seed,
		History:        r.hist,
		OnPanic: func(err error) {
			var pe *workload.PanicError
			if errors.As(err, &pe) {
				r.o.Logf("%v\n%s", pe, pe.Stack)
			}
			r.abort(err)
		},
	}, r.client, r.rec, r.ledger, r.clock)
	if err != nil {
		return err
	}
	r.rep.Load.LateThresholdUs = r.rec.LateThreshold().Microseconds()
	r.rep.Load.MaxLagMs = w.MaxLag.Milliseconds()

	r.loadCtx, r.stopBeside = context.WithCancel(ctx)
	r.load.Start(r.loadCtx, 0)
	r.started = true
	r.goBeside("progress ticker", r.tick)
	if gr, ok := r.cluster.(drivers.GaugeReporter); ok {
		r.goBeside("gauge poller", func(ctx context.Context) { r.pollGauges(ctx, gr, &r.gauges) })
	}
	return nil
}

// nodeGroups is the cluster's node groups (drivers.NodeGrouper), nil
// when its nodes form none.
func nodeGroups(c drivers.Cluster) map[int]string {
	if g, ok := c.(drivers.NodeGrouper); ok {
		return g.NodeGroups()
	}
	return nil
}

// goBeside runs fn beside the timeline until the load stops (fn's ctx
// ends); stopLoad waits for it. A panic in fn (a driver's bug in Gauges,
// TakeNotices or Handoff) fails the run as a panic in a load operation
// does: the timeline stops and the run returns the panic as its error.
func (r *run) goBeside(what string, fn func(ctx context.Context)) {
	r.beside.Add(1)
	go func() {
		defer r.beside.Done()
		defer func() {
			if p := recover(); p != nil {
				err := fmt.Errorf("internal error: panic in the %s (a driver bug): %v", what, p)
				r.o.Logf("%v\n%s", err, debug.Stack())
				r.abort(err)
			}
		}()
		fn(r.loadCtx)
	}()
}

// stopLoad stops the load, then everything beside the timeline, and waits
// for all of it: nothing asks the cluster once it is closed.
func (r *run) stopLoad() {
	st := r.load.Stop()
	r.loadEnd = r.clock()
	r.stopBeside()
	r.beside.Wait()
	r.rec.Roll(r.loadEnd)
	r.rep.Load.Intended, r.rep.Load.Issued, r.rep.Load.Late, r.rep.Load.Missed = st.Intended, st.Issued, st.Late, st.Missed
	r.rep.Load.MaxStartLagUs = st.MaxLag.Microseconds()
	r.rep.Load.FirstLateMs, r.rep.Load.FirstMissedMs = offsetMs(st.FirstLate), offsetMs(st.FirstMissed)
	r.rep.Load.PeakInFlight, r.rep.Load.Workers, r.rep.Load.BoundWaits = st.PeakInFlight, st.Workers, st.BoundWaits
}

// finalVerify reads back every acknowledged write and, when keys were
// lost or stale, gathers the evidence.
func (r *run) finalVerify(ctx context.Context) error {
	r.setStep("final verify")
	r.o.Logf("verifying %d acknowledged keys", len(r.ledger.AcknowledgedKeys()))
	res := safety.Verify(ctx, r.client, r.ledger.AcknowledgedKeys(), workload.KeyName, r.ledger.Check, 16, r.plan.Workload.Timeout)
	r.addVerification("final", "cluster", r.loadEnd, res)
	r.rep.Safety.Checked = ctx.Err() == nil
	if ctx.Err() == nil {
		r.setStep("evidence")
		r.rep.Safety.Evidence = r.evidence(ctx, res)
	}
	return ctx.Err()
}

// offsetMs is d in milliseconds, or nil when d is negative (never happened).
func offsetMs(d time.Duration) *int64 {
	if d < 0 {
		return nil
	}
	ms := d.Milliseconds()
	return &ms
}

func (r *run) tick(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := r.clock()
			r.rec.Roll(now)
			w := r.rec.LastWindow()
			r.progress.mu.Lock()
			if w != nil {
				r.progress.totalErrors += w.Errors
			}
			st := Status{Phase: r.rec.Phase(), Elapsed: now, Planned: r.plan.Duration, Step: r.progress.step, TotalErrors: r.progress.totalErrors}
			r.progress.mu.Unlock()
			if w != nil {
				st.Rate, st.P99, st.Errors = w.Rate, time.Duration(w.P99Us)*time.Microsecond, w.Errors
			}
			if r.o.Progress != nil {
				r.o.Progress(st)
			}
		}
	}
}

func (r *run) setStep(s string) {
	r.progress.mu.Lock()
	r.progress.step = s
	r.progress.mu.Unlock()
}

func (r *run) addVerification(step, target string, at time.Duration, res safety.Result) {
	r.log.verifs = append(r.log.verifs, model.Verification{
		Step: step, Target: target, AtMs: at.Milliseconds(), DurationMs: res.Duration.Milliseconds(),
		Checked: res.Checked, Verified: res.Verified, Lost: res.Lost, Stale: res.Stale, Unreadable: res.Unreadable,
		QuorumNotFound: res.QuorumNotFound, Unconfirmed: res.Unconfirmed, ReadStale: res.ReadStale,
	})
	if step == "final" {
		s := &r.rep.Safety
		s.Acknowledged, s.Verified, s.Lost, s.Stale, s.Unreadable = res.Checked, res.Verified, res.Lost, res.Stale, res.Unreadable
		s.LostKeys, s.StaleKeys = res.LostKeys, res.StaleKeys
		s.QuorumNotFound, s.QuorumNotFoundKeys = res.QuorumNotFound, res.QuorumNotFoundKeys
		s.Unconfirmed, s.UnconfirmedKeys = res.Unconfirmed, res.UnconfirmedKeys
		s.ReadStale, s.ReadStaleKeys = res.ReadStale, res.ReadStaleKeys
	}
}

// teardown closes everything the run started, with its own deadline so an
// interrupted run still cleans up.
func (r *run) teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), r.o.TeardownTimeout)
	defer cancel()
	if r.client != nil {
		_ = r.client.Close()
	}
	for _, c := range r.restored {
		if err := c.Close(ctx); err != nil {
			r.o.Logf("teardown of a restored cluster: %v", err)
		}
	}
	if r.cluster != nil {
		if err := r.cluster.Close(ctx); err != nil {
			r.o.Logf("teardown: %v", err)
		}
	}
	if r.workDir != "" {
		_ = os.RemoveAll(r.workDir)
	}
}

// cpuModel is the processor's model name (Linux /proc/cpuinfo), or "".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAverage is the machine's 1-minute load average (Linux), or nil.
func loadAverage() *float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return nil
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return nil
	}
	return &v
}

// kernelRelease is the kernel's release (Linux), or "".
func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
