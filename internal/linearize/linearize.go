// Package linearize checks recorded histories (package history) for
// linearizability, key by key, with porcupine, as etcd's
// tests/robustness/validate does, and counts violations of session
// guarantees per client.
//
// # The model
//
// Each key is a register checked on its own (linearizability is local: a
// history is linearizable when each key's is). The register's state is the
// sequence number of the value present, 0 when the key is absent:
//   - a put of value v sets the state to v;
//   - a delete sets it to 0;
//   - a get that returned v (outcome ok) is legal only in state v;
//   - a get that found nothing (outcome not_found) only in state 0;
//   - a get that returned a foreign value (one no write of the run made for
//     this key) is never legal, so a key with one is not linearizable.
//
// A history is linearizable when every operation can be given a single
// point in time between its invocation and its return such that, in the
// order of those points, each operation is legal in the register.
//
// # Unknown outcomes
//
// A put or delete whose outcome is unknown (a timeout, an error: any
// outcome but ok, or not_found for a delete of an absent key) may have
// taken effect at any time after its invocation, or never: as in etcd's
// patch_history, its return time is moved after every other operation of
// the key, so the search may place it anywhere after its invocation,
// including after everything (where it changes nothing any get saw). An
// unknown put whose value no get returned is dropped before the search:
// placed last it explains the same history, so dropping it is sound and
// keeps the search small. A get that failed tells nothing and is dropped.
// Intervals are closed: an operation invoked at the instant another
// returned is concurrent with it.
//
// # The budget and what unknown means
//
// Deciding linearizability is NP-complete; porcupine's search is
// exponential in the worst case (many concurrent operations, many unknown
// outcomes). Each key's search has a budget (Options.BudgetPerKey,
// DefaultBudget when unset) and the whole check may have one
// (Options.Total), as may ctx. A key whose search did not finish within
// them is Unknown: neither a proof nor a refutation, never counted as
// linearizable; so is every key when ctx is cancelled. A linearization
// found is a proof, a search exhausted a refutation. A key proven not
// linearizable is searched again, recording porcupine's partial
// linearizations, to name the operations that cannot be ordered
// (KeyResult.Anomaly: the longest linearizable prefix's last operations,
// then the earliest-returning operation it leaves out) and, with
// Options.VisualizeDir, to write porcupine's HTML view of the key. Keys
// are checked one at a time unless Options.Parallel says more: the
// check's memory is then its largest key's (porcupine's grows with the
// square of a key's operations), not the sum of the largest few, and its
// CPU time is the same; Result says what the check itself cost (CPU, wall
// time, peak heap).
//
// # Session guarantees
//
// CheckSessions counts, per client, reads that went back in time for that
// client (monotonic reads, read your writes; see SessionResult). A database
// that never loses a write can still violate them when it reads from
// replicas; a violation of either, between operations that do not share an
// instant, is also a violation of linearizability, so they explain how a
// history is not linearizable rather than add to it.
package linearize

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/evalrun/evalrun/internal/history"
	"github.com/evalrun/evalrun/internal/measure"
)

// DefaultMaxHeap is Options.MaxHeap's default.
const DefaultMaxHeap = 256 << 20

// DefaultBudget is a key's check budget when Options says none.
const DefaultBudget = 10 * time.Second

// Options bound the check.
type Options struct {
	// BudgetPerKey bounds each key's search (<= 0: DefaultBudget).
	BudgetPerKey time.Duration
	// Total bounds the whole check (<= 0: none); keys not reached are unknown.
	Total time.Duration
	// VisualizeDir, when set, receives porcupine's HTML view of each key
	// found not linearizable, as <VisualizeDir>/<key>.html.
	VisualizeDir string
	// MaxHeap bounds the live heap one key's search may add (<= 0:
	// DefaultMaxHeap). porcupine's time budget does not bound its memory:
	// a key with many writes of unknown outcome that were read can fill
	// gigabytes within the budget (an overloaded Riak's did: 1.3 GB). A
	// key over it is unknown.
	MaxHeap int64
	// Parallel is how many keys are checked at once (<= 1: one at a
	// time, the least memory; see the package documentation).
	Parallel int
	// KeyName names a key index in reports (nil: "key <index>").
	KeyName func(int) string
}

// Verdict of one key.
type Verdict string

// Verdicts.
const (
	Linearizable    Verdict = "linearizable"
	NotLinearizable Verdict = "not_linearizable"
	Unknown         Verdict = "unknown" // the budget ran out (or the check was cancelled)
)

// KeyResult is one key's verdict; Anomaly holds, for a key not
// linearizable, the operations that cannot be ordered: the longest
// linearizable prefix's last operations and the first that cannot follow
// them (porcupine's partial linearizations), at most a dozen.
type KeyResult struct {
	Key     int
	Name    string
	Ops     int
	Verdict Verdict
	Reason  string // why unknown (or why a violation names no operations)
	Anomaly []history.Op
	// Visualization is the HTML file written for it, relative to
	// VisualizeDir's parent ("linearizability/<key>.html"); empty if none.
	Visualization string
}

// Result is the verdict over all keys.
type Result struct {
	Keys, Ops       int
	Linearizable    int
	NotLinearizable int
	Unknown         int
	// Results of the keys that are not linearizable or unknown, by key.
	Findings []KeyResult
	Sessions SessionResult
	// CPU is the check's CPU time (the process's, measured around it),
	// Wall its duration, PeakHeap the most the live Go heap grew above its size
	// when the check began (sampled every 2 ms, after a GC at the start
	// and with the GC's target at 1 % while it runs: what the check held
	// at its peak plus at most a hundredth of the heap, not the process's heap).
	CPU, Wall time.Duration
	PeakHeap  uint64
}

// Verdict over all keys: NotLinearizable when any key is, else Unknown when
// any key is, else Linearizable (also for an empty history: Keys says 0).
func (r Result) Verdict() Verdict {
	switch {
	case r.NotLinearizable > 0:
		return NotLinearizable
	case r.Unknown > 0:
		return Unknown
	}
	return Linearizable
}

// checkGCPercent is the GC's target while Check runs (see Check).
const checkGCPercent = 1

// checkGC serialises Checks in a process: the GC's target is the
// process's, and two checks that set and restore it at the same time
// could leave it at checkGCPercent for good.
var checkGC sync.Mutex

// maxAnomalyOps bounds KeyResult.Anomaly.
const maxAnomalyOps = 12

// Check checks ops (any order; operations of every sampled key) key by key.
// The error reports a visualisation that could not be written; the result
// is complete regardless.
func Check(ctx context.Context, ops []history.Op, opts Options) (Result, error) {
	// The heap the check adds is measured against a clean base (a GC
	// before its CPU is counted), with the GC's target at 1 % during the
	// check: at the default 100 % a process with a large heap (a run's
	// histograms) lets garbage pile up to its own size before collecting,
	// and the growth would measure that headroom, not the check.
	checkGC.Lock()
	defer checkGC.Unlock()
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(checkGCPercent))
	start := time.Now()
	cpuBefore := measure.ProcessCPU()
	heap := startHeapSampler()

	res, err := check(ctx, ops, opts)

	res.PeakHeap = heap.stop()
	cpu := measure.ProcessCPU().Sub(cpuBefore)
	res.CPU = cpu.User + cpu.Sys
	res.Wall = time.Since(start)
	return res, err
}

func check(ctx context.Context, ops []history.Op, opts Options) (Result, error) {
	budget := opts.BudgetPerKey
	if budget <= 0 {
		budget = DefaultBudget
	}
	if opts.Total > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, opts.Total,
			fmt.Errorf("the check's total budget of %v ran out", opts.Total))
		defer cancel()
	}

	byKey := splitByKey(ops)
	keys := make([]int, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	results := make([]KeyResult, len(keys))
	errs := make([]error, len(keys))
	next := atomic.Int64{}
	workers := min(max(opts.Parallel, 1), len(keys))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(keys) {
					return
				}
				results[i], errs[i] = checkKey(ctx, keys[i], byKey[keys[i]], budget, opts)
			}
		})
	}
	wg.Wait()

	res := Result{Keys: len(keys), Ops: len(ops), Sessions: CheckSessions(ops)}
	for _, kr := range results {
		switch kr.Verdict {
		case Linearizable:
			res.Linearizable++
			continue
		case NotLinearizable:
			res.NotLinearizable++
		default:
			res.Unknown++
		}
		res.Findings = append(res.Findings, kr)
	}
	return res, errors.Join(errs...)
}

// splitByKey groups ops by key, each key's in their order, in one array
// of len(ops) carved into exact slices (appending to a slice per key
// left about four times the history behind as garbage).
func splitByKey(ops []history.Op) map[int][]history.Op {
	counts := map[int]int{}
	for _, op := range ops {
		counts[op.Key]++
	}
	backing := make([]history.Op, len(ops))
	byKey := make(map[int][]history.Op, len(counts))
	at := 0
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		byKey[k] = backing[at : at : at+counts[k]]
		at += counts[k]
	}
	for _, op := range ops {
		byKey[op.Key] = append(byKey[op.Key], op)
	}
	return byKey
}

// regOp is a register operation as the model sees it (porcupine's input;
// the output is unused).
type regOp struct {
	kind     history.Kind
	value    uint64 // put: the value written; get: the value read (0: none)
	foreign  bool   // a get that returned a value of no write of this key
	notFound bool   // a get that found nothing
	unknown  bool   // a put or delete whose outcome is unknown
}

// registerStep is the register's sequential specification.
func registerStep(state, input, _ any) (bool, any) {
	s := state.(uint64)
	op := input.(regOp)
	switch op.kind {
	case history.Put:
		return true, op.value
	case history.Delete:
		return true, uint64(0)
	default: // get
		switch {
		case op.foreign:
			return false, s
		case op.notFound:
			return s == 0, s
		default:
			return s == op.value, s
		}
	}
}

func describeOperation(input, _ any) string {
	op := input.(regOp)
	suffix := ""
	if op.unknown {
		suffix = " (unknown)"
	}
	switch op.kind {
	case history.Put:
		return fmt.Sprintf("put %d%s", op.value, suffix)
	case history.Delete:
		return "delete" + suffix
	default:
		switch {
		case op.foreign:
			return "get → foreign value"
		case op.notFound:
			return "get → not found"
		default:
			return fmt.Sprintf("get → %d", op.value)
		}
	}
}

func describeState(state any) string {
	if s := state.(uint64); s != 0 {
		return fmt.Sprintf("%d", s)
	}
	return "absent"
}

// opMeta is what porcupine's view shows of an operation beside its
// description: its rows are clients numbered from 0, so each key's clients
// are renumbered densely and the recorded client is named here.
type opMeta struct{ client, node int }

func describeMetadata(meta any) string {
	m := meta.(opMeta)
	if m.node != 0 {
		return fmt.Sprintf("client %d, node %d", m.client, m.node)
	}
	return fmt.Sprintf("client %d", m.client)
}

// registerModel is the model; stop, when set, makes every step fail so that
// a cancelled search ends quickly (its result is then discarded).
func registerModel(stop *atomic.Bool) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return uint64(0) },
		Step: registerStep,
		StepContext: func(_ context.Context, state, input, output any) (bool, any) {
			if stop.Load() {
				return false, state
			}
			return registerStep(state, input, output)
		},
		Hash:                      func(state any) uint64 { return state.(uint64) },
		DescribeOperation:         describeOperation,
		DescribeState:             describeState,
		DescribeOperationMetadata: describeMetadata,
	}
}

// keyHistory is one key's history as porcupine checks it, with the
// recorded operation behind each of porcupine's (same index).
type keyHistory struct {
	ops  []porcupine.Operation
	orig []history.Op
}

// prepare builds the key's porcupine history: failed gets dropped, unknown
// puts that no get read dropped, unknown writes' returns moved after
// everything.
func prepare(ops []history.Op) keyHistory {
	read := map[uint64]bool{}
	var last int64
	for _, op := range ops {
		last = max(last, op.Invoke, op.Return)
		if op.Kind == history.Get && op.Outcome == history.OK && !op.Foreign {
			read[op.Value] = true
		}
	}
	end := last + 1
	clients := map[int]int{} // recorded client → porcupine's (dense, in order)
	for _, op := range ops {
		clients[op.Client] = 0
	}
	for i, c := range slices.Sorted(maps.Keys(clients)) {
		clients[c] = i
	}
	h := keyHistory{ops: make([]porcupine.Operation, 0, len(ops)), orig: make([]history.Op, 0, len(ops))}
	for _, op := range ops {
		in := regOp{kind: op.Kind, value: op.Value}
		switch op.Kind {
		case history.Get:
			switch op.Outcome {
			case history.OK:
				in.foreign = op.Foreign
			case history.NotFound:
				in.notFound, in.value = true, 0
			default: // failed: tells nothing
				continue
			}
		case history.Put, history.Delete:
			// ok and not_found (a delete of an absent key) took effect;
			// anything else may have, or not.
			in.unknown = op.Outcome != history.OK && op.Outcome != history.NotFound
			if op.Kind == history.Delete {
				in.value = 0
			}
			if in.unknown && op.Kind == history.Put && !read[op.Value] {
				continue
			}
		default:
			continue
		}
		ret := max(op.Return, op.Invoke)
		if in.unknown {
			ret = end
		}
		h.ops = append(h.ops, porcupine.Operation{
			ClientId: clients[op.Client], Input: in, Call: op.Invoke, Return: ret,
			Metadata: opMeta{client: op.Client, node: op.Node},
		})
		h.orig = append(h.orig, op)
	}
	return h
}

func keyName(opts Options, key int) string {
	if opts.KeyName != nil {
		return opts.KeyName(key)
	}
	return fmt.Sprintf("key %d", key)
}

// fileName is a file-safe form of name.
func fileName(name string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, name)
	s = strings.Trim(s, ".")
	if s == "" {
		s = "key"
	}
	return s
}

// stopped reports whether ctx is done, and why.
func stopped(ctx context.Context) (reason string, done bool) {
	if ctx.Err() == nil {
		return "", false
	}
	return stoppedReason(ctx), true
}

// stoppedReason says why ctx, which is done, is.
func stoppedReason(ctx context.Context) string {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		return cause.Error()
	}
	return "check cancelled: " + ctx.Err().Error()
}

func checkKey(ctx context.Context, key int, ops []history.Op, budget time.Duration, opts Options) (KeyResult, error) {
	kr := KeyResult{Key: key, Name: keyName(opts, key), Ops: len(ops)}
	if reason, done := stopped(ctx); done {
		kr.Verdict, kr.Reason = Unknown, reason
		return kr, nil
	}
	timeout := budget
	if deadline, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(deadline))
	}
	if timeout <= 0 { // porcupine reads 0 as "no timeout"
		<-ctx.Done() // the deadline has passed
		kr.Verdict, kr.Reason = Unknown, stoppedReason(ctx)
		return kr, nil
	}

	// The key's own context: its memory bound ends its search alone.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer watchHeap(ctx, opts.MaxHeap, cancel)()

	h := prepare(ops)
	var stop atomic.Bool
	release := context.AfterFunc(ctx, func() { stop.Store(true) })
	model := registerModel(&stop)
	// The search that also records partial linearizations costs about
	// half as much again: it runs only to explain a violation found.
	result := porcupine.CheckOperationsTimeout(model, h.ops, timeout)
	release()

	switch {
	case result == porcupine.Ok:
		// A linearization found is a proof even if the search was cut.
		kr.Verdict = Linearizable
		return kr, nil
	case stop.Load():
		// A cancelled search fails every step: its verdict means nothing.
		kr.Verdict, kr.Reason = Unknown, stoppedReason(ctx)
		return kr, nil
	case result == porcupine.Unknown && timeout < budget:
		// Cut short by ctx's deadline, which has come (or is an instant
		// away: the timeout was measured up to it before the search).
		<-ctx.Done()
		kr.Verdict, kr.Reason = Unknown, stoppedReason(ctx)
		return kr, nil
	case result == porcupine.Unknown:
		kr.Verdict = Unknown
		kr.Reason = fmt.Sprintf("check ran out of its %v budget", budget)
		return kr, nil
	}
	kr.Verdict = NotLinearizable
	info, explained := explain(ctx, h, budget)
	if !explained {
		kr.Reason = "the operations that cannot be ordered were not found again within the budget"
		return kr, nil
	}
	kr.Anomaly = anomaly(h, info)
	if opts.VisualizeDir == "" {
		return kr, nil
	}
	name := "key-" + fmt.Sprint(key)
	if opts.KeyName != nil {
		name = fileName(opts.KeyName(key))
	}
	file := name + ".html"
	if err := os.MkdirAll(opts.VisualizeDir, 0o755); err != nil {
		return kr, fmt.Errorf("linearize: visualisation of %s: %w", kr.Name, err)
	}
	if err := porcupine.VisualizePath(model, info, filepath.Join(opts.VisualizeDir, file)); err != nil {
		return kr, fmt.Errorf("linearize: visualisation of %s: %w", kr.Name, err)
	}
	kr.Visualization = filepath.Join(filepath.Base(opts.VisualizeDir), file)
	return kr, nil
}

// explain searches a history found not linearizable again, recording the
// partial linearizations, within budget and ctx.
func explain(ctx context.Context, h keyHistory, budget time.Duration) (porcupine.LinearizationInfo, bool) {
	timeout := budget
	if deadline, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(deadline))
	}
	if timeout <= 0 || ctx.Err() != nil {
		return porcupine.LinearizationInfo{}, false
	}
	var stop atomic.Bool
	release := context.AfterFunc(ctx, func() { stop.Store(true) })
	result, info := porcupine.CheckOperationsVerbose(registerModel(&stop), h.ops, timeout)
	release()
	return info, result == porcupine.Illegal && !stop.Load()
}

// anomaly picks, from porcupine's partial linearizations, the longest one's
// last operations and the operation that could not follow it: the
// earliest-returning operation it leaves out (the search failed at its
// return).
func anomaly(h keyHistory, info porcupine.LinearizationInfo) []history.Op {
	var longest []int
	if parts := info.PartialLinearizations(); len(parts) > 0 {
		for _, p := range parts[0] {
			if len(p) > len(longest) || (len(p) == len(longest) && slices.Compare(p, longest) < 0) {
				longest = p
			}
		}
	}
	in := make([]bool, len(h.ops))
	for _, id := range longest {
		in[id] = true
	}
	blocked := -1
	for id, op := range h.ops {
		if in[id] {
			continue
		}
		if blocked < 0 || op.Return < h.ops[blocked].Return ||
			(op.Return == h.ops[blocked].Return && op.Call < h.ops[blocked].Call) {
			blocked = id
		}
	}
	tail := longest[max(0, len(longest)-(maxAnomalyOps-1)):]
	out := make([]history.Op, 0, len(tail)+1)
	for _, id := range tail {
		out = append(out, h.orig[id])
	}
	if blocked >= 0 {
		out = append(out, h.orig[blocked])
	}
	return out
}

// watchHeap cancels ctx (with a cause that says so) when the live heap
// grows more than limit (<= 0: DefaultMaxHeap) above what it was when
// called; the returned func stops watching and waits for it.
func watchHeap(ctx context.Context, limit int64, cancel context.CancelCauseFunc) (stop func()) {
	if limit <= 0 {
		limit = DefaultMaxHeap
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		s := []metrics.Sample{{Name: heapMetric}}
		base := readHeap(s)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				if h := readHeap(s); h > base && h-base > uint64(limit) {
					cancel(fmt.Errorf("the check of this key ran out of its memory bound (%d MB of heap)", limit>>20))
					return
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// heapSampler records how far the live Go heap (as of the last GC's mark,
// which at the check's 1 % target runs every few hundred kB allocated)
// grew above its size at the start, sampled every 2 ms until stopped (a
// check of a few thousand operations takes tens of ms). Heap objects not
// yet swept would count garbage as the check's.
type heapSampler struct {
	done chan struct{}
	peak chan uint64
}

const heapMetric = "/gc/heap/live:bytes"

func readHeap(s []metrics.Sample) uint64 {
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		return s[0].Value.Uint64()
	}
	return 0
}

func startHeapSampler() heapSampler {
	hs := heapSampler{done: make(chan struct{}), peak: make(chan uint64, 1)}
	go func() {
		s := []metrics.Sample{{Name: heapMetric}}
		base := readHeap(s)
		peak := base
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				peak = max(peak, readHeap(s))
			case <-hs.done:
				peak = max(peak, readHeap(s))
				hs.peak <- peak - base
				return
			}
		}
	}()
	return hs
}

func (hs heapSampler) stop() uint64 {
	close(hs.done)
	return <-hs.peak
}

// SessionResult counts session-guarantee violations per client (a client
// is a worker, which runs one operation at a time). A write precedes
// another when it was acknowledged before the other was invoked.
//   - monotonic reads: a client read a value, then (later, same key) a
//     value whose write precedes that value's write, or nothing although
//     no delete could have intervened;
//   - read your writes: a client's write was acknowledged, then its own
//     later read of the key returned a value whose write precedes it, or
//     nothing although no delete could have intervened.
//
// Reads are gets that returned a value or found nothing; a client's writes
// are its acknowledged puts and deletes. A write whose outcome is unknown
// is never a client's write and never precedes another, and a delete of
// unknown outcome may have intervened any time after its invocation, so
// unknown outcomes never make a read a violation.
type SessionResult struct {
	Clients        int
	Reads          int
	MonotonicReads int
	ReadYourWrites int
	Examples       []SessionViolation // the first few
}

// SessionViolation is one violation, with the two operations involved.
type SessionViolation struct {
	Guarantee string // "monotonic-reads" or "read-your-writes"
	Client    int
	Key       int
	First     history.Op // the earlier read (monotonic reads) or write (read your writes)
	Then      history.Op // the read that went back
}

// Session guarantees, as SessionViolation.Guarantee names them.
const (
	MonotonicReads = "monotonic-reads"
	ReadYourWrites = "read-your-writes"
)

// maxSessionExamples bounds SessionResult.Examples.
const maxSessionExamples = 10

// CheckSessions counts session-guarantee violations; Examples are the
// earliest (by the invocation of the read that went back). It takes
// O(n log n) time for n operations.
func CheckSessions(ops []history.Op) SessionResult {
	var res SessionResult
	if len(ops) == 0 {
		return res
	}
	// Each client's operations on each key, in the order of invocation
	// (already so when ops are, as a Recorder gives them: then sorting
	// each group costs a pass).
	type session struct{ key, client int }
	groups := map[session][]int32{}
	clients := map[int]struct{}{}
	for i := range ops {
		s := session{ops[i].Key, ops[i].Client}
		groups[s] = append(groups[s], int32(i))
		clients[ops[i].Client] = struct{}{}
	}
	res.Clients = len(clients)
	sessions := make([]session, 0, len(groups))
	for s, idx := range groups {
		sessions = append(sessions, s)
		byInvoke := func(a, b int32) int {
			return cmp.Or(cmp.Compare(ops[a].Invoke, ops[b].Invoke), cmp.Compare(ops[a].Return, ops[b].Return), cmp.Compare(a, b))
		}
		if !slices.IsSortedFunc(idx, byInvoke) {
			slices.SortFunc(idx, byInvoke)
		}
	}
	slices.SortFunc(sessions, func(a, b session) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.client, b.client))
	})
	for start := 0; start < len(sessions); {
		end := start
		for end < len(sessions) && sessions[end].key == sessions[start].key {
			end++
		}
		perClient := make([][]int32, 0, end-start)
		for _, s := range sessions[start:end] {
			perClient = append(perClient, groups[s])
		}
		checkKeySessions(ops, perClient, &res)
		start = end
	}
	return res
}

// keyWrites indexes one key's writes for the session checks.
type keyWrites struct {
	byValue map[uint64]int32 // a put's value → the put (an index into ops)
	// acknowledged deletes by invocation, with the running maximum of
	// their returns; the earliest invocation of a delete of unknown outcome.
	delInvoke, delMaxReturn []int64
	unknownDel              int64
	hasUnknownDel           bool
}

func indexWrites(ops []history.Op, perClient [][]int32) keyWrites {
	w := keyWrites{byValue: map[uint64]int32{}}
	type del struct{ invoke, ret int64 }
	var dels []del
	for _, i := range slices.Concat(perClient...) {
		op := &ops[i]
		switch op.Kind {
		case history.Put:
			w.byValue[op.Value] = i
		case history.Delete:
			if writeAcked(op) {
				dels = append(dels, del{op.Invoke, op.Return})
			} else if !w.hasUnknownDel || op.Invoke < w.unknownDel {
				w.unknownDel, w.hasUnknownDel = op.Invoke, true
			}
		}
	}
	slices.SortFunc(dels, func(a, b del) int { return cmp.Compare(a.invoke, b.invoke) })
	w.delInvoke = make([]int64, len(dels))
	w.delMaxReturn = make([]int64, len(dels))
	var m int64
	for i, d := range dels {
		if i == 0 || d.ret > m {
			m = d.ret
		}
		w.delInvoke[i], w.delMaxReturn[i] = d.invoke, m
	}
	return w
}

// deleteCouldIntervene reports whether some delete could have taken effect
// after a write invoked at after and before a read that returned at before:
// one invoked by then that did not precede the write.
func (w *keyWrites) deleteCouldIntervene(after, before int64) bool {
	if w.hasUnknownDel && w.unknownDel <= before {
		return true
	}
	n, _ := slices.BinarySearch(w.delInvoke, before+1) // deletes invoked <= before
	return n > 0 && w.delMaxReturn[n-1] >= after
}

func writeAcked(op *history.Op) bool {
	return op.Outcome == history.OK || (op.Kind == history.Delete && op.Outcome == history.NotFound)
}

// precedes reports whether write a was acknowledged before write b was invoked.
func precedes(a, b *history.Op) bool { return writeAcked(a) && a.Return < b.Invoke }

func checkKeySessions(ops []history.Op, perClient [][]int32, res *SessionResult) {
	w := indexWrites(ops, perClient)
	for _, idx := range perClient {
		checkClientSessions(ops, idx, &w, res)
	}
}

// checkClientSessions walks one client's operations on one key in order.
// Against monotonic reads it suffices to compare each read with the earlier
// read whose write was invoked last (precedence and "no delete could
// intervene" both get only easier to refute the later that write was
// invoked); against read your writes, with the client's last acknowledged
// write (its earlier ones precede it).
func checkClientSessions(ops []history.Op, idx []int32, w *keyWrites, res *SessionResult) {
	var strongestRead, strongestWrite, lastWrite *history.Op // read, its write; client's write
	for _, i := range idx {
		op := &ops[i]
		switch op.Kind {
		case history.Put, history.Delete:
			if writeAcked(op) {
				lastWrite = op
			}
			continue
		case history.Get:
		default:
			continue
		}
		if op.Outcome != history.OK && op.Outcome != history.NotFound {
			continue
		}
		res.Reads++
		var write *history.Op // the write of the value read, if known
		if op.Outcome == history.OK && !op.Foreign {
			if wi, ok := w.byValue[op.Value]; ok {
				write = &ops[wi]
			}
		}
		notFound := op.Outcome == history.NotFound

		if strongestRead != nil {
			if (write != nil && precedes(write, strongestWrite)) ||
				(notFound && !w.deleteCouldIntervene(strongestWrite.Invoke, op.Return)) {
				res.MonotonicReads++
				res.addExample(SessionViolation{Guarantee: MonotonicReads, Client: op.Client, Key: op.Key, First: *strongestRead, Then: *op})
			}
		}
		if lastWrite != nil {
			var back bool
			switch {
			case write != nil:
				back = precedes(write, lastWrite)
			case notFound:
				back = lastWrite.Kind == history.Put && !w.deleteCouldIntervene(lastWrite.Invoke, op.Return)
			}
			if back {
				res.ReadYourWrites++
				res.addExample(SessionViolation{Guarantee: ReadYourWrites, Client: op.Client, Key: op.Key, First: *lastWrite, Then: *op})
			}
		}
		if write != nil && (strongestWrite == nil || write.Invoke > strongestWrite.Invoke) {
			strongestRead, strongestWrite = op, write
		}
	}
}

// addExample keeps the earliest maxSessionExamples violations.
func (r *SessionResult) addExample(v SessionViolation) {
	later := func(a, b SessionViolation) int {
		return cmp.Or(cmp.Compare(a.Then.Invoke, b.Then.Invoke), cmp.Compare(a.Key, b.Key),
			cmp.Compare(a.Client, b.Client), strings.Compare(a.Guarantee, b.Guarantee))
	}
	if len(r.Examples) == maxSessionExamples && later(v, r.Examples[len(r.Examples)-1]) >= 0 {
		return
	}
	i, _ := slices.BinarySearchFunc(r.Examples, v, later)
	r.Examples = slices.Insert(r.Examples, i, v)
	if len(r.Examples) > maxSessionExamples {
		r.Examples = r.Examples[:maxSessionExamples]
	}
}
