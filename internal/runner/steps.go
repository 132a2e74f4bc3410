package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/safety"
	"github.com/evalrun/evalrun/internal/workload"
	"github.com/evalrun/evalrun/reports/model"
	"github.com/evalrun/evalrun/scenarios"
)

// Default limits of steps that wait.
const (
	defaultSettleTimeout     = 10 * time.Minute // Riak at its default inactivity timeout needs minutes; others return as soon as they settle
	defaultBackupTimeout     = 10 * time.Minute
	defaultAddNodeTimeout    = 2 * time.Minute
	defaultRemoveNodeTimeout = 2 * time.Minute // a remove-node step may give its own timeout
	defaultPromoteTimeout    = 2 * time.Minute // a promotion waits for the replica to apply what it received
	settlePoll               = 500 * time.Millisecond
)

// errNotSupported marks a step the driver cannot do (validation should
// have caught it; a cluster may still lack it at run time).
var errNotSupported = drivers.ErrNotSupported

// stepHandler does one action of the timeline. It fills in the event
// (the node, a detail) and the operational numbers op collects; its error
// is the event's outcome.
type stepHandler func(r *run, ctx context.Context, s *scenarios.Step, ev *model.Event, op *opStep) error

// stepHandlers maps each action of scenarios' action table to its
// handler; TestEveryActionHasAHandler checks that both name the same
// actions. An action is a row in that table plus a row here.
func stepHandlers() map[string]stepHandler {
	return map[string]stepHandler{
		scenarios.ActSleep:      (*run).sleep,
		scenarios.ActKill:       onNode(drivers.NodeController.KillNode),
		scenarios.ActStop:       onNode(drivers.NodeController.StopNode),
		scenarios.ActStart:      onNode(drivers.NodeController.StartNode),
		scenarios.ActPause:      onNode(drivers.Pauser.PauseNode),
		scenarios.ActResume:     onNode(drivers.Pauser.ResumeNode),
		scenarios.ActAddNode:    (*run).addNode,
		scenarios.ActRemoveNode: (*run).removeNode,
		scenarios.ActSettled:    (*run).settle,
		scenarios.ActBackup:     (*run).backup,
		scenarios.ActRestore:    (*run).restore,
		scenarios.ActVerify:     (*run).verify,
		scenarios.ActPartition:  (*run).partition,
		scenarios.ActIsolate:    (*run).isolate,
		scenarios.ActHeal:       (*run).heal,
		scenarios.ActPromote:    (*run).promote,
		scenarios.ActSwitchover: (*run).promote,
		scenarios.ActRate:       (*run).rate,
		scenarios.ActRamp:       (*run).rate,
		scenarios.ActDegrade:    (*run).degrade,
		scenarios.ActRepair:     (*run).repair,
	}
}

// timeline runs the steps in order. A failing step is recorded as an event
// and the timeline goes on; only cancellation stops it.
func (r *run) timeline(ctx context.Context) error {
	handlers := stepHandlers()
	for i := range r.plan.Steps {
		s := &r.plan.Steps[i]
		if s.At > 0 {
			if err := sleepCtx(ctx, s.At-r.clock()); err != nil {
				return err
			}
		}
		if s.Phase != "" {
			r.rec.SetPhase(s.Phase, r.clock())
		}
		if s.Action == scenarios.ActPhase {
			continue
		}
		r.setStep(s.Action)
		act, _ := scenarios.ActionOf(s.Action)
		ev := model.Event{Step: s.Action, Kind: string(act.Kind), Ends: act.Ends, Phase: r.rec.Phase(), StartMs: r.clock().Milliseconds(), Line: s.Line}
		op := opStep{}
		err := fmt.Errorf("step %q is not known to the runner", s.Action)
		if h, ok := handlers[s.Action]; ok {
			err = h(r, ctx, s, &ev, &op)
		}
		ev.EndMs = r.clock().Milliseconds()
		ev.Outcome = outcome(err, &ev)
		r.log.events = append(r.log.events, ev)
		r.logOperational(i, act, ev, op, err)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	r.setStep("")
	return nil
}

// outcome is the event's outcome of a step that returned err; a step the
// driver cannot do says why in the event's detail.
func outcome(err error, ev *model.Event) model.Outcome {
	switch {
	case err == nil:
		return model.OutcomeOK
	case errors.Is(err, errNotSupported):
		ev.Detail = err.Error()
		return model.OutcomeNotSupported
	}
	return model.OutcomeError(err)
}

// logOperational keeps the step i that changed the cluster for the
// report's operational numbers, starts tracking the handoff it causes,
// and ends a membership change at the wait-settled that follows it.
func (r *run) logOperational(i int, act scenarios.Action, ev model.Event, op opStep, err error) {
	if kind := act.Kind; kind != scenarios.KindNone && kind != scenarios.KindLoad {
		op.ev, op.kind = ev, kind
		if hr, ok := r.cluster.(drivers.HandoffReporter); ok && err == nil && (kind == scenarios.KindRecovery || kind == scenarios.KindMembership) {
			op.handoff = r.trackHandoff(hr, time.Duration(ev.StartMs)*time.Millisecond)
		}
		r.log.opSteps = append(r.log.opSteps, op)
	}
	if act.Name != scenarios.ActSettled || len(r.log.opSteps) == 0 {
		return
	}
	// a membership change is done when the cluster settles
	last := &r.log.opSteps[len(r.log.opSteps)-1]
	if last.kind == scenarios.KindMembership && i > 0 && r.plan.Steps[i-1].Action == last.ev.Step {
		last.duration = time.Duration(ev.EndMs-last.ev.StartMs) * time.Millisecond
		last.detail = "until settled (" + string(ev.Outcome) + ")"
		if err == nil && last.handoff != nil {
			last.handoff.settledAt(time.Duration(ev.EndMs) * time.Millisecond)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func timeoutOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func unsupported(c drivers.Cluster, what string) error {
	return fmt.Errorf("%w: %T cannot %s", errNotSupported, c, what)
}

// capability returns the cluster as capability C, or an errNotSupported
// that says the cluster cannot do the step.
func capability[C any](r *run, s *scenarios.Step) (C, error) {
	c, ok := r.cluster.(C)
	if !ok {
		return c, unsupported(r.cluster, s.Action)
	}
	return c, nil
}

// capableNode returns the cluster as capability C and the node the step
// names, which it writes into the event.
func capableNode[C any](r *run, ctx context.Context, s *scenarios.Step, ev *model.Event) (C, int, error) {
	c, err := capability[C](r, s)
	if err != nil {
		return c, 0, err
	}
	idx, err := r.resolve(ctx, s)
	ev.Node = idx
	return c, idx, err
}

// onNode is the handler of an action that one method of capability C does
// to one node: it resolves the node, calls the method and books whether
// the node serves afterwards (the action's Downs).
func onNode[C any](method func(C, context.Context, int) error) stepHandler {
	return func(r *run, ctx context.Context, s *scenarios.Step, ev *model.Event, _ *opStep) error {
		c, idx, err := capableNode[C](r, ctx, s, ev)
		if err != nil {
			return err
		}
		if err := method(c, ctx, idx); err != nil {
			return err
		}
		act, _ := scenarios.ActionOf(s.Action)
		r.nodes.mark(idx, !act.Downs)
		return nil
	}
}

func (r *run) sleep(ctx context.Context, s *scenarios.Step, _ *model.Event, _ *opStep) error {
	return sleepCtx(ctx, s.For)
}

func (r *run) partition(ctx context.Context, s *scenarios.Step, ev *model.Event, _ *opStep) error {
	p, err := capability[drivers.Partitioner](r, s)
	if err != nil {
		return err
	}
	ev.Detail = fmt.Sprint(s.Groups)
	return p.Partition(ctx, s.Groups)
}

// isolate cuts the node the step names off from every other node: a
// partition of two groups, the others and it.
func (r *run) isolate(ctx context.Context, s *scenarios.Step, ev *model.Event, _ *opStep) error {
	p, idx, err := capableNode[drivers.Partitioner](r, ctx, s, ev)
	if err != nil {
		return err
	}
	others := r.nodes.others(idx)
	if len(others) == 0 {
		return fmt.Errorf("node %d is the only node: nothing to isolate it from", idx)
	}
	groups := [][]int{others, {idx}}
	ev.Detail = fmt.Sprint(groups)
	return p.Partition(ctx, groups)
}

func (r *run) heal(ctx context.Context, s *scenarios.Step, _ *model.Event, _ *opStep) error {
	p, err := capability[drivers.Partitioner](r, s)
	if err != nil {
		return err
	}
	return p.Heal(ctx)
}

func (r *run) addNode(ctx context.Context, s *scenarios.Step, ev *model.Event, _ *opStep) error {
	m, err := capability[drivers.Membership](r, s)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, timeoutOr(s.Timeout, defaultAddNodeTimeout))
	defer cancel()
	idx, err := m.AddNode(sctx)
	if err != nil {
		return err
	}
	ev.Node = idx
	r.nodes.add(idx)
	return nil
}

// removeNode takes a node out within the step's timeout (a default one
// when it names none).
func (r *run) removeNode(ctx context.Context, s *scenarios.Step, ev *model.Event, _ *opStep) error {
	m, idx, err := capableNode[drivers.Membership](r, ctx, s, ev)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, timeoutOr(s.Timeout, defaultRemoveNodeTimeout))
	defer cancel()
	if err := m.RemoveNode(sctx, idx); err != nil {
		return err
	}
	r.nodes.remove(idx)
	return nil
}

func (r *run) settle(ctx context.Context, s *scenarios.Step, ev *model.Event, _ *opStep) error {
	m, err := capability[drivers.Settler](r, s)
	if err != nil {
		return err
	}
	ev.Detail, err = waitSettled(ctx, m, timeoutOr(s.Timeout, defaultSettleTimeout))
	return err
}

// backup takes a backup by the step's method (the driver's default when
// it names none) and keeps it, with the checkpoint of what was
// acknowledged before it began, for a restore.
func (r *run) backup(ctx context.Context, s *scenarios.Step, ev *model.Event, op *opStep) error {
	br, err := capability[drivers.BackupRestorer](r, s)
	if err != nil {
		return err
	}
	dir := filepath.Join(r.workDir, fmt.Sprintf("backup-%d", len(r.backups)+1))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	method := s.Method
	if ms := drivers.BackupMethodsOf(r.cluster); method == "" && len(ms) > 0 {
		method = ms[0]
	}
	op.method = method
	cp := r.ledger.OpenCheckpoint()
	sctx, cancel := context.WithTimeout(ctx, timeoutOr(s.Timeout, defaultBackupTimeout))
	defer cancel()
	var b drivers.Backup
	if bm, ok := r.cluster.(drivers.BackupMethods); ok && method != "" {
		b, err = bm.BackupWith(sctx, dir, method)
	} else {
		b, err = br.Backup(sctx, dir)
	}
	cp.Close()
	if err != nil {
		if method != "" {
			return fmt.Errorf("%s: %w", method, err)
		}
		return err
	}
	r.backups = append(r.backups, takenBackup{backup: b, checkpoint: cp, method: method})
	op.bytes, op.hasBytes = b.Bytes, true
	if ms, err := strconv.ParseInt(b.Meta[drivers.MetaFreezeMs], 10, 64); err == nil && ms >= 0 {
		op.freezeMs = &ms
	}
	ev.Detail = backupDetail(b)
	op.detail = ev.Detail
	return nil
}

// rate changes the target rate at once (rate) or linearly over the
// step's span (ramp, which lasts that span).
func (r *run) rate(ctx context.Context, s *scenarios.Step, ev *model.Event, _ *opStep) error {
	at := r.clock()
	from := r.schedule.RateAt(at)
	r.schedule.Ramp(at, s.Rate, s.For)
	if s.Action == scenarios.ActRate {
		ev.Detail = fmt.Sprintf("target %g -> %g ops/s", from, s.Rate)
		return nil
	}
	ev.Detail = fmt.Sprintf("target %g -> %g ops/s over %v", from, s.Rate, s.For)
	return sleepCtx(ctx, s.For)
}

func (r *run) verify(ctx context.Context, _ *scenarios.Step, ev *model.Event, _ *opStep) error {
	at := r.clock()
	res := safety.Verify(ctx, r.client, r.ledger.AcknowledgedKeys(), workload.KeyName, r.ledger.Check, 8, r.plan.Workload.Timeout)
	r.addVerification("verify", "cluster", at, res)
	ev.Detail = verifyDetail(res)
	return nil
}

// promote runs promote or switchover. "replica" is the replica the
// cluster names (the most advanced one), not the lowest one up.
func (r *run) promote(ctx context.Context, s *scenarios.Step, ev *model.Event, _ *opStep) error {
	p, err := capability[drivers.Promoter](r, s)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, defaultPromoteTimeout)
	defer cancel()
	var idx int
	gp, grouped := p.(drivers.GroupPromoter)
	switch {
	case s.Node != nil && s.Node.Role == drivers.RoleReplica:
		idx, err = p.Candidate(sctx)
		ev.Detail = "the most advanced replica"
	case s.Node != nil && grouped && strings.HasSuffix(s.Node.Role, "."+drivers.RoleReplica):
		idx, err = gp.CandidateOf(sctx, s.Node.Role)
		ev.Detail = "the most advanced replica of " + strings.TrimSuffix(s.Node.Role, "."+drivers.RoleReplica)
	default:
		idx, err = r.resolve(sctx, s)
	}
	ev.Node = idx
	if err != nil {
		return err
	}
	if s.Action == scenarios.ActSwitchover {
		return p.Switchover(sctx, idx)
	}
	return p.Promote(sctx, idx)
}

func verifyDetail(res safety.Result) string {
	return fmt.Sprintf("checked %d: verified %d, lost %d, stale %d, unreadable %d", res.Checked, res.Verified, res.Lost, res.Stale, res.Unreadable)
}

// restore restores the latest backup into a fresh cluster, verifies it
// against what was acknowledged before the backup began, and closes it.
func (r *run) restore(ctx context.Context, s *scenarios.Step, ev *model.Event, op *opStep) error {
	br, err := capability[drivers.BackupRestorer](r, s)
	if err != nil {
		return err
	}
	if len(r.backups) == 0 {
		return errors.New("no backup to restore: put a backup step before restore")
	}
	last := r.backups[len(r.backups)-1]
	b, cp := last.backup, last.checkpoint
	op.method = last.method
	sctx, cancel := context.WithTimeout(ctx, timeoutOr(s.Timeout, defaultBackupTimeout))
	defer cancel()
	t0 := time.Now()
	spec := r.spec(filepath.Join(r.workDir, fmt.Sprintf("restore-%d", len(r.restored)+1)))
	spec.RunID = fmt.Sprintf("%s-restore-%d", r.o.RunID, len(r.restored)+1) // a second cluster of the run: its own names
	c, err := br.Restore(sctx, b, spec)
	if err != nil {
		return err
	}
	r.restored = append(r.restored, c)
	d := time.Since(t0)
	op.duration = d
	client, err := c.NewClient(sctx)
	if err != nil {
		return fmt.Errorf("client of the restored cluster: %w", err)
	}
	at := r.clock()
	res := safety.Verify(sctx, client, cp.Keys(), workload.KeyName, cp.Check, 16, r.plan.Workload.Timeout)
	_ = client.Close()
	r.addVerification("restore", "restored", at, res)
	took := d.Round(time.Millisecond).String()
	if _, frozen := b.Meta[drivers.MetaFreezeMs]; frozen {
		// a frozen copy is a crash image: the database recovered it at start
		took += " (crash recovery of the frozen copy included)"
	}
	ev.Detail = fmt.Sprintf("restored in %s; %s", took, verifyDetail(res))
	if last.method != "" {
		ev.Detail = last.method + " " + ev.Detail
	}
	op.detail = ev.Detail
	if err := c.Close(sctx); err != nil {
		r.o.Logf("closing the restored cluster: %v", err)
	}
	return nil
}

// backupDetail is a backup's event detail: its size, and the method, the
// node and the position the driver says it took it with and from.
func backupDetail(b drivers.Backup) string {
	d := fmt.Sprintf("%d bytes", b.Bytes)
	if m := b.Meta[drivers.MetaMethod]; m != "" {
		d = m + ", " + d
	}
	if src := b.Meta[drivers.MetaSource]; src != "" {
		d += " from " + src
	}
	if pos := b.Meta[drivers.MetaPosition]; pos != "" {
		d += " at " + pos
	}
	if ms := b.Meta[drivers.MetaFreezeMs]; ms != "" {
		d += ", frozen " + ms + " ms"
	}
	return d
}

func waitSettled(ctx context.Context, m drivers.Settler, limit time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t0 := time.Now()
	last := ""
	for {
		ok, detail, err := m.Settled(ctx)
		if err != nil {
			last = err.Error()
		} else {
			last = detail
		}
		if err == nil && ok {
			return fmt.Sprintf("settled after %v", time.Since(t0).Round(time.Millisecond)), nil
		}
		if err := sleepCtx(ctx, settlePoll); err != nil {
			return last, fmt.Errorf("not settled after %v: %s", time.Since(t0).Round(time.Second), last)
		}
	}
}

// resolve turns a step's node reference into a 1-based index.
func (r *run) resolve(ctx context.Context, s *scenarios.Step) (int, error) {
	if s.Node == nil {
		return 0, fmt.Errorf("step %s names no node", s.Action)
	}
	return r.nodes.resolve(ctx, r.cluster, s.Node.Index, s.Node.Role)
}
