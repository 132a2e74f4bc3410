package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/evalrun/evalrun/drivers"
)

// host is what differs between the providers: where members run and how
// one starts and stops. What evalrun asks etcd itself about the members
// (add, remove, leader, roles, settled, backup) is written once, in
// membership, on top of it.
type host interface {
	// acquire takes the cluster's operation slot: membership changes and
	// node controls run one at a time.
	acquire(ctx context.Context) (context.Context, func(), error)
	// done is closed once Close begins.
	done() <-chan struct{}
	printf(format string, args ...any)
	// view is the member with this index, which must not be removed.
	view(index int) (memberView, error)
	// views are the members not removed, by index.
	views() []memberView
	// currentLeader asks the running members once whom they follow: the
	// leader's index, or 0 and why there is none.
	currentLeader(ctx context.Context) (int, string)
	// newJoiner makes the member AddNode adds next; it is not in the
	// cluster's table until admitted.
	newJoiner() (joiner, error)
	// retire stops a member whose removal etcd committed (once it stopped
	// by itself, or after removedStopWait) and forgets it; its index is
	// never reused.
	retire(ctx context.Context, index int) error
}

// memberView is a member as the shared code sees it.
type memberView struct {
	memberRef
	running bool // up and serving: not down, not paused
	paused  bool
}

// joiner is a member being added: etcd accepts it (MemberAdd), the host
// admits it into its table, then it starts and joins.
type joiner interface {
	name() string
	peerURL() string
	// admit records the member etcd accepted: its index is taken from now
	// on.
	admit(resp *clientv3.MemberAddResponse) error
	// start starts the admitted member, which joins the cluster.
	start(ctx context.Context) error
	// clear removes what a failed start left of its data, before another.
	clear() error
	// abandon forgets a member that did not join (etcd removed it again).
	abandon()
	// joined records a member that joined and returns its index.
	joined() int
}

// membership implements drivers.Membership, drivers.Roles, drivers.Settler
// and drivers.BackupRestorer's Backup for either provider, through the
// members' client endpoints. Each provider's cluster embeds it, with
// itself as the host.
type membership struct {
	host host
	// leaderPoll is how often LeaderIndex asks again while there is no
	// leader.
	leaderPoll time.Duration
}

var _ interface {
	drivers.Membership
	drivers.Roles
	drivers.Settler
} = membership{}

// LeaderIndex returns the leader's index: the leader most running members
// name, once it runs and says it leads (currentLeader). It waits (up to
// ctx or leaderWait) for one to emerge.
func (s membership) LeaderIndex(ctx context.Context) (int, error) {
	t := time.NewTimer(leaderWait)
	defer t.Stop()
	for {
		idx, detail := s.host.currentLeader(ctx)
		if idx > 0 {
			return idx, nil
		}
		select {
		case <-time.After(s.leaderPoll):
		case <-ctx.Done():
			return 0, fmt.Errorf("etcd: leader: %s: %w", detail, ctx.Err())
		case <-t.C:
			return 0, fmt.Errorf("etcd: leader: %s after %s: %w", detail, leaderWait, drivers.ErrUnavailable)
		case <-s.host.done():
			return 0, errClosed
		}
	}
}

// leaderAnswer is whom one running member follows (0: nobody).
type leaderAnswer struct {
	memberRef
	follows uint64
}

// leaderByVote is the leader most of the answering members follow (the
// lowest ID of equals), once that member answered too and follows itself;
// 0 and why not otherwise.
func leaderByVote(answers []leaderAnswer) (int, string) {
	if len(answers) == 0 {
		return 0, "no running member answers"
	}
	votes := map[uint64]int{}
	byID := map[uint64]leaderAnswer{}
	for _, a := range answers {
		byID[a.id] = a
		if a.follows != 0 {
			votes[a.follows]++
		}
	}
	var best uint64
	for id, n := range votes {
		if n > votes[best] || n == votes[best] && id < best {
			best = id
		}
	}
	m, ok := byID[best]
	if best == 0 || !ok {
		return 0, "no running member is leader"
	}
	if m.follows != m.id {
		return 0, m.name + " is named leader but does not lead"
	}
	return m.index, ""
}

// NodeRoles implements drivers.Roles: the leader, and the other running
// members as followers.
func (s membership) NodeRoles(ctx context.Context) (map[string][]int, error) {
	leader, err := s.LeaderIndex(ctx)
	if err != nil {
		return nil, err
	}
	roles := map[string][]int{roleLeader: {leader}}
	for _, v := range s.host.views() {
		if v.running && v.index != leader {
			roles[roleFollower] = append(roles[roleFollower], v.index)
		}
	}
	return roles, nil
}

// running are the members that run and are not paused.
func (s membership) running() []memberRef {
	var out []memberRef
	for _, v := range s.host.views() {
		if v.running {
			out = append(out, v.memberRef)
		}
	}
	return out
}

// endpoints are the client endpoints of the members not removed, running
// or not (what a client is given: clientv3 sends requests only to
// endpoints it is connected to and reconnects to restarted ones).
func (s membership) endpoints() []string {
	var eps []string
	for _, v := range s.host.views() {
		eps = append(eps, v.endpoint)
	}
	return eps
}

func endpointsOf(ms []memberRef) []string {
	eps := make([]string, len(ms))
	for i, m := range ms {
		eps[i] = m.endpoint
	}
	return eps
}

// AddNode implements drivers.Membership: MemberAdd with the new member's
// peer URL through the running members (retried while etcd refuses it),
// then the member starts with --initial-cluster-state existing and the
// full member list. Its index is the next unused one. If it does not come
// up, it is removed from the cluster again.
func (s membership) AddNode(ctx context.Context) (int, error) {
	ctx, release, err := s.host.acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("etcd: add node: %w", err)
	}
	defer release()
	eps := endpointsOf(s.running())
	if len(eps) == 0 {
		return 0, errors.New("etcd: add node: no member is running")
	}
	j, err := s.host.newJoiner()
	if err != nil {
		return 0, err
	}
	cli, err := newEtcdClient(eps)
	if err != nil {
		return 0, fmt.Errorf("etcd: add %s: %w", j.name(), err)
	}
	defer cli.Close()
	begin := time.Now()
	peer := j.peerURL()
	var resp *clientv3.MemberAddResponse
	err = retryMembership(ctx, s.host.done(), func(actx context.Context, attempt int) error {
		var err error
		resp, err = cli.MemberAdd(actx, []string{peer})
		if err != nil && attempt > 1 && errors.Is(err, rpctypes.ErrPeerURLExist) {
			// An earlier attempt was applied after all.
			return findAdded(actx, cli, peer, &resp)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("etcd: add %s: member add: %w", j.name(), err)
	}
	s.host.printf("etcd: member add %s accepted after %s", j.name(), time.Since(begin).Round(time.Millisecond))
	err = j.admit(resp)
	if err == nil {
		err = startJoining(ctx, s.host.printf, j.name(), j.start, j.clear)
	}
	if err != nil {
		// Take the member out again, so the cluster does not count on a
		// member that never comes.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), membershipAttemptTimeout)
		_, rerr := cli.MemberRemove(rctx, resp.Member.ID)
		cancel()
		j.abandon()
		if rerr != nil {
			return 0, fmt.Errorf("etcd: add %s: %w (and removing it again failed: %s)", j.name(), err, rerr.Error())
		}
		return 0, fmt.Errorf("etcd: add %s: %w (removed it again)", j.name(), err)
	}
	idx := j.joined()
	s.host.printf("etcd: %s joined in %s", j.name(), time.Since(begin).Round(time.Millisecond))
	return idx, nil
}

// RemoveNode implements drivers.Membership: MemberRemove through the other
// running members (retried while etcd refuses it), then the member is
// stopped and forgotten (retire).
func (s membership) RemoveNode(ctx context.Context, index int) error {
	ctx, release, err := s.host.acquire(ctx)
	if err != nil {
		return fmt.Errorf("etcd: remove node%d: %w", index, err)
	}
	defer release()
	m, err := s.host.view(index)
	if err != nil {
		return err
	}
	if m.id == 0 {
		return fmt.Errorf("etcd: remove %s: its member ID is unknown", m.name)
	}
	var eps []string
	running := s.running()
	for _, r := range running {
		if r.index != index {
			eps = append(eps, r.endpoint)
		}
	}
	if len(eps) == 0 {
		eps = endpointsOf(running)
	}
	if len(eps) == 0 {
		return fmt.Errorf("etcd: remove %s: no member is running", m.name)
	}
	cli, err := newEtcdClient(eps)
	if err != nil {
		return fmt.Errorf("etcd: remove %s: %w", m.name, err)
	}
	defer cli.Close()
	begin := time.Now()
	err = retryMembership(ctx, s.host.done(), func(actx context.Context, attempt int) error {
		_, err := cli.MemberRemove(actx, m.id)
		if err != nil && attempt > 1 && errors.Is(err, rpctypes.ErrMemberNotFound) {
			return nil // an earlier attempt was applied after all
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("etcd: remove %s: member remove: %w", m.name, err)
	}
	if err := s.host.retire(ctx, index); err != nil {
		return fmt.Errorf("etcd: remove %s: %w", m.name, err)
	}
	s.host.printf("etcd: removed %s in %s", m.name, time.Since(begin).Round(time.Millisecond))
	return nil
}

// Settled implements drivers.Settler: every member runs (not paused),
// etcd's member list is exactly our members, each answers Status through
// its client endpoint, all name the same leader, and their raft applied
// indexes are within settleMaxLag (checkSettled).
func (s membership) Settled(ctx context.Context) (bool, string, error) {
	select {
	case <-s.host.done():
		return false, "", errClosed
	default:
	}
	var refs []memberRef
	var down, paused []string
	for _, v := range s.host.views() {
		refs = append(refs, v.memberRef)
		switch {
		case v.paused:
			paused = append(paused, v.name)
		case !v.running:
			down = append(down, v.name)
		}
	}
	if len(down) > 0 {
		return false, strings.Join(down, ", ") + " not running", nil
	}
	if len(paused) > 0 {
		return false, strings.Join(paused, ", ") + " paused", nil
	}
	return checkSettled(ctx, refs)
}

// Backup implements drivers.BackupRestorer: it streams a snapshot
// (Maintenance.Snapshot) from a running member into dir/etcd-snapshot.db,
// writing a temporary file first (fsynced, then renamed). The leader is
// tried first, then the other running members.
//
// A member's snapshot is its local state, which on a follower may lag the
// writes already acknowledged. A linearizable read through the member
// before the snapshot makes it apply everything committed so far, so the
// backup holds every write acknowledged before Backup was called.
func (s membership) Backup(ctx context.Context, dir string) (drivers.Backup, error) {
	select {
	case <-s.host.done():
		return drivers.Backup{}, errClosed
	default:
	}
	leader, _ := s.host.currentLeader(ctx)
	return snapshotAny(ctx, dir, leader, s.running(), s.host.printf)
}
