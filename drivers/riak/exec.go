package riak

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/drivers/riak/admin"
	"github.com/evalrun/evalrun/internal/docker"
)

// adminCmd is the command line of `riak admin args…` (or `riak-admin`),
// bounded inside the container by timeout(1): Docker cannot kill an exec.
func (c *cluster) adminCmd(args ...string) []string {
	c.mu.Lock()
	style := c.adminStyle
	c.mu.Unlock()
	secs := strconv.Itoa(int(adminTimeout / time.Second))
	cmd := []string{"timeout", secs}
	if style == adminRiak2 {
		cmd = append(cmd, "riak-admin")
	} else {
		cmd = append(cmd, "riak", "admin")
	}
	return append(cmd, args...)
}

// admin runs an admin command on n and returns its output and exit code.
// err is set only when the command could not run at all (or timed out).
func (c *cluster) admin(ctx context.Context, n *node, args ...string) (string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout+10*time.Second)
	defer cancel()
	res, err := n.DN.Exec(ctx, c.adminCmd(args...))
	if err != nil {
		return "", -1, fmt.Errorf("riak: %s on %s: %w", strings.Join(args, " "), n.Name, err)
	}
	out := (res.Stdout + res.Stderr)
	if res.ExitCode == 124 {
		return out, res.ExitCode, fmt.Errorf("riak: %s on %s: no answer within %s", strings.Join(args, " "), n.Name, adminTimeout)
	}
	return out, res.ExitCode, nil
}

// adminOK is admin for commands whose failure shows in the exit code or in
// output the parsers recognise: a non-zero exit is an error carrying the
// output's last lines.
func (c *cluster) adminOK(ctx context.Context, n *node, args ...string) (string, error) {
	out, code, err := c.admin(ctx, n, args...)
	if err != nil {
		return out, err
	}
	if code != 0 {
		return out, fmt.Errorf("riak: %s on %s exited with %d: %s", strings.Join(args, " "), n.Name, code, lastLines(out, 3))
	}
	return out, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// detectAdmin decides between `riak admin` (Riak 3) and `riak-admin`
// (Riak 2) unless the options fixed it: `riak admin` when the riak
// script's usage lists an admin command (Riak 3 also ships a riak-admin
// shim), else riak-admin when the image has it.
func (c *cluster) detectAdmin(ctx context.Context, n *node) error {
	style := c.opts.admin
	if style == adminAuto {
		res, err := n.DN.Exec(ctx, []string{"sh", "-c", detectAdminScript})
		if err != nil {
			return fmt.Errorf("riak: look for riak's admin command on %s: %w", n.Name, err)
		}
		style = adminRiak3
		if strings.TrimSpace(res.Stdout) == string(adminRiak2) {
			style = adminRiak2
		}
	}
	c.mu.Lock()
	c.adminStyle = style
	c.mu.Unlock()
	return nil
}

// detectAdminScript prints "riak admin" or "riak-admin".
const detectAdminScript = `if riak 2>&1 | grep -qw admin; then echo "riak admin"; ` +
	`elif command -v riak-admin >/dev/null 2>&1; then echo riak-admin; else echo "riak admin"; fi`

// ready is the readiness check of a node: riak_kv is up on it
// (wait-for-service) and its Protocol Buffers port answers a ping through
// the published port.
func (c *cluster) ready(ctx context.Context, dn *docker.Node) error {
	c.mu.Lock()
	style := c.adminStyle
	c.mu.Unlock()
	var cmd []string
	if style == adminRiak2 {
		cmd = []string{"timeout", "10", "riak-admin", "wait-for-service", "riak_kv", "riak@" + dn.Hostname()}
	} else {
		// before detectAdmin ran too: ask the image which spelling it has
		cmd = []string{"sh", "-c", `n=riak@$(cat /proc/sys/kernel/hostname); a=$(` + detectAdminScript + `); exec timeout 10 $a wait-for-service riak_kv "$n"`}
	}
	res, err := dn.Exec(ctx, cmd)
	if err != nil {
		return err
	}
	if !strings.Contains((res.Stdout + res.Stderr), "riak_kv is up") {
		return fmt.Errorf("riak_kv is not up yet: %s", lastLines((res.Stdout+res.Stderr), 1))
	}
	return pbPing(ctx, dn.Addr(pbPort))
}

// pbPing sends RpbPingReq (message code 1) and expects RpbPingResp (2).
func pbPing(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(2 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte{0, 0, 0, 1, 1}); err != nil {
		return err
	}
	var resp [5]byte
	if _, err := io.ReadFull(conn, resp[:]); err != nil {
		return fmt.Errorf("protocol buffers ping: %w", err)
	}
	if binary.BigEndian.Uint32(resp[:4]) != 1 || resp[4] != 2 {
		return fmt.Errorf("protocol buffers ping: unexpected answer %x", resp)
	}
	return nil
}

// stage runs `cluster <action> args…` on n (join, leave, force-remove) and
// retries while Riak asks to try again (a node that just started).
func (c *cluster) stage(ctx context.Context, n *node, action string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		out, _, err := c.admin(ctx, n, append([]string{"cluster", action}, args...)...)
		if err != nil {
			return err
		}
		r, perr := admin.ParseClusterStage(out)
		switch {
		case perr != nil && !errors.Is(perr, admin.ErrNodeNotRunning):
			return perr
		case perr == nil && r.Staged:
			return nil
		case perr == nil && !strings.Contains(r.Message, "Try again"):
			return fmt.Errorf("riak: cluster %s on %s refused: %s", action, n.Name, r.Message)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("riak: cluster %s on %s: %s", action, n.Name, lastLines(out, 2))
		case <-time.After(pollEvery):
		}
	}
}

// planAndCommit runs `cluster plan` and `cluster commit` on n, retrying
// while the cluster has not converged, and remembers how many partitions
// the plan moves.
func (c *cluster) planAndCommit(ctx context.Context, n *node) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	last := ""
	for {
		// The parsers judge the output (Riak 3.2 exits 0 on failures,
		// Riak 2 does not): the exit code is not looked at.
		out, _, err := c.admin(ctx, n, "cluster", "plan")
		if err == nil {
			var p admin.Plan
			p, err = admin.ParseClusterPlan(out)
			if err == nil {
				if p.NothingStaged {
					return fmt.Errorf("riak: cluster plan on %s: nothing staged", n.Name)
				}
				moves := 0
				for _, t := range p.Transitions {
					moves += t.TransfersFromChanges + t.PartitionsReassigned
				}
				out, _, err = c.admin(ctx, n, "cluster", "commit")
				if err == nil {
					var cr admin.CommitResult
					cr, err = admin.ParseClusterCommit(out)
					if err == nil && cr.Committed {
						c.mu.Lock()
						c.planned = moves
						c.mu.Unlock()
						c.Logf("riak: committed %s (%d partition transfers planned)", changesOf(p), moves)
						return nil
					}
					if err == nil {
						err = fmt.Errorf("riak: cluster commit refused (%s): %s", cr.Reason, cr.Message)
					}
				}
			}
		}
		// Retry while the ring converges, and while the claimant the RPC
		// went to is down (a new one takes over once it is marked down).
		if !errors.Is(err, admin.ErrNotConverged) && !errors.Is(err, admin.ErrRPC) &&
			!strings.Contains(err.Error(), "ring_not_ready") && !strings.Contains(err.Error(), "plan_changed") {
			return err
		}
		last = err.Error()
		select {
		case <-ctx.Done():
			return fmt.Errorf("riak: plan and commit on %s: %s", n.Name, last)
		case <-time.After(pollEvery):
		}
	}
}

func changesOf(p admin.Plan) string {
	var s []string
	for _, ch := range p.Changes {
		s = append(s, ch.Action+" "+ch.Node)
	}
	return strings.Join(s, ", ")
}

// setupBucket gives the bucket type (or, for "default", the bucket) the
// scenario's n_val, allow_mult and notfound_ok. A bucket type other than
// default is created and activated with the admin command, as operators do.
func (c *cluster) setupBucket(ctx context.Context, n *node) error {
	if c.opts.bucketType == "default" {
		cl, err := c.newClient(ctx)
		if err != nil {
			return err
		}
		defer cl.Close()
		return cl.storeBucketProps(ctx)
	}
	props, _ := json.Marshal(map[string]any{"props": map[string]any{
		"n_val": c.opts.nval, "allow_mult": c.opts.allowMult, "notfound_ok": c.opts.notFoundOK,
	}})
	t := c.opts.bucketType
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := c.adminOK(ctx, n, "bucket-type", "create", t, string(props))
	if err != nil {
		return err
	}
	if !strings.Contains(out, "created") {
		return fmt.Errorf("riak: bucket-type create %s: %s", t, lastLines(out, 2))
	}
	for {
		out, err := c.adminOK(ctx, n, "bucket-type", "activate", t)
		if err == nil && strings.Contains(out, "has been activated") {
			return nil
		}
		if err == nil {
			err = errors.New(lastLines(out, 2))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("riak: bucket-type activate %s: %w", t, err)
		case <-time.After(time.Second):
		}
	}
}

// clusterView is what one live node says about the cluster.
type clusterView struct {
	from      *node
	members   admin.MemberStatus
	transfers admin.Transfers
	ring      admin.RingReadiness
}

// view asks the first live node that answers for member-status, transfers
// and (withRing) ringready.
func (c *cluster) view(ctx context.Context, withRing bool) (clusterView, error) {
	var errs []error
	for _, n := range c.Live() {
		v, err := c.viewFrom(ctx, n, withRing)
		if err == nil {
			return v, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return clusterView{}, errors.New("riak: no node is up to ask")
	}
	return clusterView{}, errors.Join(errs...)
}

func (c *cluster) viewFrom(ctx context.Context, n *node, withRing bool) (clusterView, error) {
	v := clusterView{from: n}
	out, err := c.adminOK(ctx, n, "member-status")
	if err != nil {
		return v, err
	}
	if v.members, err = admin.ParseMemberStatus(out); err != nil {
		return v, err
	}
	if out, err = c.adminOK(ctx, n, "transfers"); err != nil {
		return v, err
	}
	if v.transfers, err = admin.ParseTransfers(out); err != nil {
		return v, err
	}
	if !withRing {
		return v, nil
	}
	out, code, err := c.admin(ctx, n, "ringready")
	if err != nil {
		return v, err
	}
	if v.ring, err = admin.ParseRingReadiness(out, code); err != nil {
		return v, err
	}
	return v, nil
}

// Settled implements drivers.Membership: member-status shows no pending
// ownership and nobody joining, leaving or exiting; transfers shows nothing
// waiting or moving; ringready is true (every member up and agreeing). A
// node that left is removed here, once it no longer appears as a member.
func (c *cluster) Settled(ctx context.Context) (bool, string, error) {
	if err := c.pace(ctx); err != nil {
		return false, "", err
	}
	v, err := c.view(ctx, true)
	if err != nil {
		return false, "", err
	}
	c.reapLeft(ctx, v.members)
	var why []string
	if !v.members.Settled() {
		why = append(why, "membership: "+summariseMembers(v.members))
	}
	if !v.transfers.Idle() || len(v.transfers.Down) > 0 {
		why = append(why, "transfers: "+summariseTransfers(v.transfers))
	}
	if !v.ring.Ready {
		why = append(why, "ringready: "+v.ring.Detail)
	}
	if len(why) > 0 {
		return false, strings.Join(why, "; "), nil
	}
	return true, summariseMembers(v.members), nil
}

// minViewInterval spaces the admin polls of Settled: each admin command
// starts an Erlang VM in the node's container (about a second of CPU), a
// cost the latency figures would carry if callers polled every 500 ms.
const minViewInterval = 3 * time.Second

// pace waits until minViewInterval has passed since the last poll.
func (c *cluster) pace(ctx context.Context) error {
	c.mu.Lock()
	wait := time.Until(c.lastView.Add(minViewInterval))
	c.mu.Unlock()
	if wait > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	c.mu.Lock()
	c.lastView = time.Now()
	c.mu.Unlock()
	return nil
}

// Handoff implements drivers.HandoffReporter from `riak admin transfers`:
// done when no node waits to hand off a partition and none is moving.
func (c *cluster) Handoff(ctx context.Context) (drivers.Handoff, error) {
	v, err := c.recentView(ctx)
	if err != nil {
		return drivers.Handoff{}, err
	}
	c.mu.Lock()
	planned := c.planned
	c.mu.Unlock()
	h := drivers.Handoff{
		Done:       v.transfers.Idle() && len(v.transfers.Down) == 0 && v.members.Settled(),
		Partitions: v.transfers.WaitingPartitions() + len(v.transfers.Active),
		Planned:    planned,
		Detail:     summariseTransfers(v.transfers),
	}
	return h, nil
}

func summariseMembers(m admin.MemberStatus) string {
	var parts []string
	for _, st := range []admin.NodeStatus{admin.StatusValid, admin.StatusJoining, admin.StatusLeaving, admin.StatusExiting, admin.StatusDown} {
		if n := m.Count(st); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	if m.HasPending() {
		parts = append(parts, "ownership pending")
	}
	return strings.Join(parts, ", ")
}

func summariseTransfers(t admin.Transfers) string {
	var parts []string
	if w := t.WaitingPartitions(); w > 0 {
		parts = append(parts, fmt.Sprintf("%d partitions waiting on %d nodes", w, len(t.Waiting)))
	}
	for _, s := range t.Stopped {
		parts = append(parts, fmt.Sprintf("%s has %d primaries not running", s.Node, s.Partitions))
	}
	if len(t.Active) > 0 {
		parts = append(parts, fmt.Sprintf("%d active", len(t.Active)))
	}
	if len(t.Down) > 0 {
		parts = append(parts, "down: "+strings.Join(t.Down, " "))
	}
	if len(parts) == 0 {
		return "no transfers"
	}
	return strings.Join(parts, ", ")
}

// serverVersion asks a node for its version over Protocol Buffers.
func (c *cluster) serverVersion(ctx context.Context, n *node) (string, error) {
	return serverInfo(ctx, n.pbAddr())
}

// viewReuse: a view this young answers Handoff again (the handoff tracker
// and the gauge poller ask at about the same time; each view costs two
// admin commands).
const viewReuse = 2 * time.Second

// recentView returns a view (without the ring) no older than viewReuse.
func (c *cluster) recentView(ctx context.Context) (clusterView, error) {
	c.mu.Lock()
	v, at := c.lastHandoffView, c.lastHandoffAt
	c.mu.Unlock()
	if !at.IsZero() && time.Since(at) < viewReuse {
		return v, nil
	}
	v, err := c.view(ctx, false)
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	c.lastHandoffView, c.lastHandoffAt = v, time.Now()
	c.mu.Unlock()
	return v, nil
}

// GaugeHandoffPartitions is the gauge of partitions waiting for handoff or
// moving (riak admin transfers).
const GaugeHandoffPartitions = "handoff_partitions"

// gaugeEvery: each sample is two admin commands of a second or so each.
const gaugeEvery = 5 * time.Second

// GaugeInterval implements drivers.GaugeReporter.
func (c *cluster) GaugeInterval() time.Duration { return gaugeEvery }

// Gauges implements drivers.GaugeReporter: the partitions waiting for
// handoff or moving, as transfers reports them.
func (c *cluster) Gauges(ctx context.Context) ([]drivers.Gauge, error) {
	h, err := c.Handoff(ctx)
	if err != nil {
		return nil, err
	}
	return []drivers.Gauge{{Name: GaugeHandoffPartitions, Value: float64(h.Partitions)}}, nil
}
