package etcd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/evalrun/evalrun/drivers"
)

// Code both providers use: they differ in where members run, not in how
// evalrun talks to them.

// memberRef names one member for the checks below: its name, raft ID and
// the client endpoint the harness reaches it at.
type memberRef struct {
	index    int
	name     string
	id       uint64
	endpoint string
}

// statusAt asks the member at endpoint for its status (Maintenance.Status,
// served locally: no quorum needed), within statusTimeout.
func statusAt(ctx context.Context, endpoint string) (*clientv3.StatusResponse, error) {
	cli, err := newEtcdClient([]string{endpoint})
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	sctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	return cli.Status(sctx, endpoint)
}

// checkSettled is the common part of Membership.Settled, once the caller
// knows every member it counts on runs: every member of etcd's member list
// is one of ms, none is unstarted or a learner, every one of ms is listed,
// answers Status, names the same leader (one of ms), and the raft applied
// indexes are within settleMaxLag of each other.
func checkSettled(ctx context.Context, ms []memberRef) (bool, string, error) {
	if len(ms) == 0 {
		return false, "no members", nil
	}
	byID := map[uint64]memberRef{}
	eps := make([]string, len(ms))
	for i, m := range ms {
		byID[m.id] = m
		eps[i] = m.endpoint
	}
	cli, err := newEtcdClient(eps)
	if err != nil {
		return false, "", fmt.Errorf("etcd: settled: %w", err)
	}
	defer cli.Close()

	lctx, cancel := context.WithTimeout(ctx, statusTimeout)
	ml, err := cli.MemberList(lctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return false, "", ctx.Err()
		}
		return false, "member list: " + err.Error(), nil
	}
	listed := map[uint64]bool{}
	for _, mm := range ml.Members {
		listed[mm.ID] = true
		m, ok := byID[mm.ID]
		switch {
		case !ok:
			return false, fmt.Sprintf("member %x (%q) is not one of ours", mm.ID, mm.Name), nil
		case mm.Name == "":
			return false, m.name + " has not joined yet", nil
		case mm.IsLearner:
			return false, m.name + " is a learner", nil
		}
	}
	for _, m := range ms {
		if !listed[m.id] {
			return false, m.name + " is not in the member list", nil
		}
	}

	type result struct {
		resp *clientv3.StatusResponse
		err  error
	}
	res := make([]result, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, statusTimeout)
			defer cancel()
			res[i].resp, res[i].err = cli.Status(sctx, m.endpoint)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return false, "", err
	}
	var leader uint64
	var lo, hi uint64
	for i, m := range ms {
		r := res[i]
		if r.err != nil {
			return false, fmt.Sprintf("%s not ready: %v", m.name, r.err), nil
		}
		if len(r.resp.Errors) > 0 {
			return false, fmt.Sprintf("%s reports: %s", m.name, strings.Join(r.resp.Errors, "; ")), nil
		}
		if r.resp.Leader == 0 {
			return false, m.name + " has no leader", nil
		}
		if i == 0 {
			leader, lo, hi = r.resp.Leader, r.resp.RaftAppliedIndex, r.resp.RaftAppliedIndex
			continue
		}
		if r.resp.Leader != leader {
			return false, fmt.Sprintf("leader disagreement: %s follows %x, %s follows %x", ms[0].name, leader, m.name, r.resp.Leader), nil
		}
		lo, hi = min(lo, r.resp.RaftAppliedIndex), max(hi, r.resp.RaftAppliedIndex)
	}
	if _, ok := byID[leader]; !ok {
		return false, fmt.Sprintf("leader %x is not one of ours", leader), nil
	}
	if hi-lo > settleMaxLag {
		return false, fmt.Sprintf("applied indexes differ by %d (> %d)", hi-lo, settleMaxLag), nil
	}
	return true, "", nil
}

// retryMembership runs f until it succeeds, fails for good, or
// membershipRetryFor or ctx are used up, or closing is closed. etcd
// refuses a change that would leave too few members active ("unhealthy
// cluster"), and any change for about 5 s after a member (re)started, and
// may fail one while a leader is being elected.
func retryMembership(ctx context.Context, closing <-chan struct{}, f func(ctx context.Context, attempt int) error) error {
	giveUp := time.Now().Add(membershipRetryFor)
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, membershipAttemptTimeout)
		err := f(actx, attempt)
		cancel()
		if err == nil || !isRetryableMembershipErr(err) {
			return err
		}
		if time.Now().After(giveUp) {
			return fmt.Errorf("still refused after %s: %w", membershipRetryFor, err)
		}
		wait := min(time.Duration(attempt)*100*time.Millisecond, 500*time.Millisecond)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-closing:
			return errClosed
		}
	}
}

// findAdded finds the member with peer URL peer after a MemberAdd whose
// answer was lost but which was applied (a retry then fails with "peer URL
// exists").
func findAdded(ctx context.Context, cli *clientv3.Client, peer string, out **clientv3.MemberAddResponse) error {
	ml, err := cli.MemberList(ctx)
	if err != nil {
		return err
	}
	for _, mm := range ml.Members {
		if slices.Contains(mm.PeerURLs, peer) {
			*out = &clientv3.MemberAddResponse{Header: ml.Header, Member: mm, Members: ml.Members}
			return nil
		}
	}
	return fmt.Errorf("peer URL %s exists but no member has it", peer)
}

// joinCluster renders the --initial-cluster of a member that joins: every
// member of the MemberAdd answer by name (newName for the one added,
// "unstarted-<id>" for members added but never started).
func joinCluster(resp *clientv3.MemberAddResponse, newName string) string {
	var parts []string
	for _, mm := range resp.Members {
		name := mm.Name
		switch {
		case mm.ID == resp.Member.ID:
			name = newName
		case name == "":
			name = fmt.Sprintf("unstarted-%x", mm.ID)
		}
		for _, u := range mm.PeerURLs {
			parts = append(parts, name+"="+u)
		}
	}
	return strings.Join(parts, ",")
}

// Role names of an etcd cluster's members.
const (
	roleLeader   = "leader"
	roleFollower = "follower"
)

// topology is what an etcd cluster of either provider will be.
func topology(nodes int, in map[string]string, prototype drivers.Cluster) (drivers.Topology, error) {
	if _, err := checkSpec(nodes, in); err != nil {
		return drivers.Topology{}, err
	}
	return drivers.Topology{Nodes: nodes, Roles: []string{roleLeader, roleFollower},
		Capabilities: drivers.CapabilitiesOf(prototype), Resources: drivers.LimitsResources(prototype)}, nil
}

// snapshotAny takes a backup (snapshotFrom) from the first of running that
// gives one, the leader first (its state is the newest), into dir.
func snapshotAny(ctx context.Context, dir string, leader int, running []memberRef, logf func(string, ...any)) (drivers.Backup, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return drivers.Backup{}, fmt.Errorf("etcd: backup: %w", err)
	}
	if i := slices.IndexFunc(running, func(m memberRef) bool { return m.index == leader }); i > 0 {
		running[0], running[i] = running[i], running[0]
	}
	if len(running) == 0 {
		return drivers.Backup{}, fmt.Errorf("etcd: backup: no member is running: %w", drivers.ErrUnavailable)
	}
	var errs []error
	for _, m := range running {
		b, err := snapshotFrom(ctx, m.endpoint, m.name, dir, logf)
		if err == nil {
			return b, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", m.name, err))
		if ctx.Err() != nil {
			break
		}
	}
	return drivers.Backup{}, fmt.Errorf("etcd: backup: %w", errors.Join(errs...))
}

// checkSpec checks the size and options of a cluster of either provider.
func checkSpec(nodes int, in map[string]string) (options, error) {
	if nodes < 1 {
		return options{}, fmt.Errorf("etcd: a cluster needs at least 1 node (got %d)", nodes)
	}
	return parseOptions(in)
}

// prepare checks a spec either provider starts from and makes the
// cluster's token.
func prepare(spec drivers.ClusterSpec) (options, string, error) {
	opts, err := checkSpec(spec.Nodes, spec.Options)
	if err != nil {
		return options{}, "", err
	}
	token, err := newToken(spec.RunID)
	if err != nil {
		return options{}, "", err
	}
	return opts, token, nil
}

// joinAttempts bounds the starts of a joining member that a peer refused
// because it had not applied the member add yet.
const joinAttempts = 5

// startJoining starts a member just added (start). The peer it asks for
// the member list may not have applied the member add yet ("member count
// is unequal": MemberAdd returns once the change is committed, not once
// every member applied it); then its data directory is cleared (clear)
// and it starts again, a few times, a little later each time.
func startJoining(ctx context.Context, logf func(string, ...any), name string, start func(context.Context) error, clear func() error) error {
	for attempt := 1; ; attempt++ {
		err := start(ctx)
		if err == nil || attempt == joinAttempts || !strings.Contains(err.Error(), "member count is unequal") {
			return err
		}
		logf("etcd: %s: a peer has not applied the member add yet; starting it again (attempt %d)", name, attempt+1)
		if cerr := clear(); cerr != nil {
			return fmt.Errorf("%w (and clearing its data failed: %s)", err, cerr.Error())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%w)", ctx.Err(), err)
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
}
