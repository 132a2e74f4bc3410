package redis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/evalrun/evalrun/internal/docker"
)

const (
	numSlots     = 16384
	adminTimeout = 5 * time.Second
)

// pingReady is the NodeSpec.Ready of every node: PING through the
// published port, answered +PONG (not -LOADING). A TCP connect alone proves
// nothing: Docker's port proxy accepts connections to dead nodes.
func pingReady(ctx context.Context, n *docker.Node) error {
	return ping(ctx, n.Addr(redisPort))
}

// ping sends one RESP PING to addr and wants +PONG within a second.
func ping(ctx context.Context, addr string) error {
	if addr == "" {
		return errors.New("port 6379 is not published")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("PING: %w", err)
	}
	line = strings.TrimSpace(line)
	if line != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// adminClient returns a single-node client of n for administrative
// commands (at most two connections). The caller closes it.
func adminClient(n *node) *goredis.Client {
	return goredis.NewClient(&goredis.Options{
		Addr:                     n.addr(),
		Protocol:                 2,
		DisableIdentity:          true,
		MaxRetries:               -1,
		DialTimeout:              2 * time.Second,
		DialerRetries:            1,
		ReadTimeout:              adminTimeout,
		WriteTimeout:             adminTimeout,
		ContextTimeoutEnabled:    true,
		PoolSize:                 2,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
}

// withAdmin runs f with an admin client of n bounded by adminTimeout.
func (c *cluster) withAdmin(ctx context.Context, n *node, f func(ctx context.Context, cl *goredis.Client) error) error {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	cl := adminClient(n)
	defer cl.Close()
	return f(ctx, cl)
}

// clusterInfo returns CLUSTER INFO of n as a map.
func (c *cluster) clusterInfo(ctx context.Context, n *node) (map[string]string, error) {
	var s string
	err := c.withAdmin(ctx, n, func(ctx context.Context, cl *goredis.Client) error {
		var err error
		s, err = cl.ClusterInfo(ctx).Result()
		return err
	})
	if err != nil {
		return nil, err
	}
	return parseInfo(s), nil
}

// serverVersion returns redis_version of INFO server.
func (c *cluster) serverVersion(ctx context.Context, n *node) (string, error) {
	var s string
	err := c.withAdmin(ctx, n, func(ctx context.Context, cl *goredis.Client) error {
		var err error
		s, err = cl.Info(ctx, "server").Result()
		return err
	})
	if err != nil {
		return "", err
	}
	v := parseInfo(s)["redis_version"]
	if v == "" {
		return "", fmt.Errorf("%s: INFO server has no redis_version", n.Name)
	}
	return v, nil
}

// clusterNodes returns CLUSTER NODES of n, parsed.
func (c *cluster) clusterNodes(ctx context.Context, n *node) ([]nodeLine, error) {
	var s string
	err := c.withAdmin(ctx, n, func(ctx context.Context, cl *goredis.Client) error {
		var err error
		s, err = cl.ClusterNodes(ctx).Result()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: CLUSTER NODES: %w", n.Name, err)
	}
	return parseClusterNodes(s)
}

// parseInfo parses "key:value" lines (INFO, CLUSTER INFO).
func parseInfo(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// slotRange is an inclusive range of hash slots.
type slotRange struct{ lo, hi int }

func (r slotRange) String() string {
	if r.lo == r.hi {
		return strconv.Itoa(r.lo)
	}
	return strconv.Itoa(r.lo) + "-" + strconv.Itoa(r.hi)
}

func (r slotRange) size() int { return r.hi - r.lo + 1 }

// nodeLine is one line of CLUSTER NODES.
type nodeLine struct {
	id       string
	addr     string // ip:port (without @busport and ,hostname)
	flags    map[string]bool
	masterID string // "" for a master
	epoch    int64
	link     string // connected | disconnected
	slots    []slotRange
	open     []string // migrating/importing slots: "[93->-id]", "[77-<-id]"
}

func (l nodeLine) myself() bool  { return l.flags["myself"] }
func (l nodeLine) master() bool  { return l.flags["master"] }
func (l nodeLine) replica() bool { return l.flags["slave"] }
func (l nodeLine) failed() bool  { return l.flags["fail"] || l.flags["fail?"] }

func (l nodeLine) owns(slot int) bool {
	for _, r := range l.slots {
		if slot >= r.lo && slot <= r.hi {
			return true
		}
	}
	return false
}

func (l nodeLine) slotCount() int {
	n := 0
	for _, r := range l.slots {
		n += r.size()
	}
	return n
}

// parseClusterNodes parses CLUSTER NODES output:
//
//	<id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...
func parseClusterNodes(s string) ([]nodeLine, error) {
	var out []nodeLine
	for _, raw := range strings.Split(s, "\n") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		f := strings.Fields(raw)
		if len(f) < 8 {
			return nil, fmt.Errorf("bad CLUSTER NODES line %q", raw)
		}
		l := nodeLine{id: f[0], flags: map[string]bool{}, link: f[7]}
		addr := f[1]
		if i := strings.IndexAny(addr, "@,"); i >= 0 {
			addr = addr[:i]
		}
		l.addr = addr
		for _, fl := range strings.Split(f[2], ",") {
			l.flags[fl] = true
		}
		if f[3] != "-" {
			l.masterID = f[3]
		}
		l.epoch, _ = strconv.ParseInt(f[6], 10, 64)
		for _, sl := range f[8:] {
			if strings.HasPrefix(sl, "[") {
				l.open = append(l.open, sl)
				continue
			}
			lo, hi, isRange := strings.Cut(sl, "-")
			a, err := strconv.Atoi(lo)
			if err != nil {
				return nil, fmt.Errorf("bad slot %q in CLUSTER NODES line %q", sl, raw)
			}
			b := a
			if isRange {
				if b, err = strconv.Atoi(hi); err != nil {
					return nil, fmt.Errorf("bad slot %q in CLUSTER NODES line %q", sl, raw)
				}
			}
			l.slots = append(l.slots, slotRange{a, b})
		}
		out = append(out, l)
	}
	return out, nil
}

// layoutSignature summarises a CLUSTER NODES view for comparison between
// nodes: every node's ID, role, master and slots, sorted.
func layoutSignature(view []nodeLine) string {
	parts := make([]string, 0, len(view))
	for _, l := range view {
		role := "replica-of-" + l.masterID
		if l.master() {
			role = "master"
		}
		rs := make([]string, len(l.slots))
		for i, r := range l.slots {
			rs[i] = r.String()
		}
		parts = append(parts, l.id+" "+role+" "+strings.Join(rs, ","))
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n")
}

// rangesOf turns a set of slots into sorted ranges.
func rangesOf(slots map[int]bool) []slotRange {
	list := make([]int, 0, len(slots))
	for s, ok := range slots {
		if ok {
			list = append(list, s)
		}
	}
	sort.Ints(list)
	var out []slotRange
	for _, s := range list {
		if k := len(out); k > 0 && out[k-1].hi == s-1 {
			out[k-1].hi = s
			continue
		}
		out = append(out, slotRange{s, s})
	}
	return out
}

// cli runs redis-cli with args inside node n (bounded by limit both here and
// inside the container, where `timeout` kills it), and returns its output.
// A non-zero exit is an error carrying the end of the output.
func (c *cluster) cli(ctx context.Context, n *node, limit time.Duration, args ...string) (string, error) {
	secs := int(limit.Seconds())
	if secs < 1 {
		secs = 1
	}
	ctx, cancel := context.WithTimeout(ctx, limit+5*time.Second)
	defer cancel()
	cmd := append([]string{"timeout", strconv.Itoa(secs), "redis-cli"}, args...)
	res, err := n.DN.Exec(ctx, cmd)
	out := res.Stdout + res.Stderr
	if err != nil {
		return out, err
	}
	if res.ExitCode != 0 {
		what := "exited with code " + strconv.Itoa(res.ExitCode)
		if res.ExitCode == 124 {
			what = "timed out after " + limit.String()
		}
		return out, fmt.Errorf("redis-cli %s on %s %s:\n%s", strings.Join(args[:min(2, len(args))], " "), n.Name, what, indentLines(lastLines(out, 12)))
	}
	return out, nil
}

func indentLines(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// masterLayout is a master, its slots and its replicas, for assemble.
type masterLayout struct {
	node     *node
	slots    []slotRange
	replicas []*node
}

// assemble makes a cluster of fresh nodes by hand: distinct config epochs,
// slots (those a node does not already own: a node that loaded an RDB file
// takes the slots of its keys by itself), CLUSTER MEET, then replicas. It
// is what restore needs: redis-cli --cluster create refuses nodes that hold
// data.
func (c *cluster) assemble(ctx context.Context, layout []masterLayout) error {
	// Slots the masters already claimed (from their keys).
	claimed := map[int]*node{}
	for _, l := range layout {
		view, err := c.clusterNodes(ctx, l.node)
		if err != nil {
			return fmt.Errorf("redis: assemble: %w", err)
		}
		for _, v := range view {
			if !v.myself() {
				continue
			}
			for _, r := range v.slots {
				for s := r.lo; s <= r.hi; s++ {
					claimed[s] = l.node
				}
			}
		}
	}
	for i, l := range layout {
		missing := map[int]bool{}
		for _, r := range l.slots {
			for s := r.lo; s <= r.hi; s++ {
				if _, ok := claimed[s]; !ok {
					missing[s] = true
				}
			}
		}
		err := c.withAdmin(ctx, l.node, func(ctx context.Context, cl *goredis.Client) error {
			if err := cl.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
				return fmt.Errorf("CLUSTER SET-CONFIG-EPOCH: %w", err)
			}
			ranges := rangesOf(missing)
			for start := 0; start < len(ranges); start += 500 {
				args := []any{"CLUSTER", "ADDSLOTSRANGE"}
				for _, r := range ranges[start:min(start+500, len(ranges))] {
					args = append(args, r.lo, r.hi)
				}
				if err := cl.Do(ctx, args...).Err(); err != nil {
					return fmt.Errorf("CLUSTER ADDSLOTSRANGE: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("redis: assemble: %s: %w", l.node.Name, err)
		}
	}
	first := layout[0].node
	var all []*node
	for _, l := range layout {
		all = append(all, l.node)
		all = append(all, l.replicas...)
	}
	for _, n := range all[1:] {
		err := c.withAdmin(ctx, n, func(ctx context.Context, cl *goredis.Client) error {
			return cl.ClusterMeet(ctx, first.DN.IP(), redisPort).Err()
		})
		if err != nil {
			return fmt.Errorf("redis: assemble: %s: CLUSTER MEET %s: %w", n.Name, first.busAddr(), err)
		}
	}
	// A replica can only follow a master it knows: wait for the handshake.
	for _, l := range layout {
		for _, r := range l.replicas {
			if err := c.replicate(ctx, r, l.node); err != nil {
				return err
			}
		}
	}
	return nil
}

// replicate makes r a replica of m, retrying while r does not know m yet.
func (c *cluster) replicate(ctx context.Context, r, m *node) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var err error
	for attempt := 0; attempt < 300; attempt++ {
		err = c.withAdmin(ctx, r, func(ctx context.Context, cl *goredis.Client) error {
			return cl.ClusterReplicate(ctx, m.id).Err()
		})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis: %s: CLUSTER REPLICATE %s (%s): %w", r.Name, m.Name, m.id, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("redis: %s: CLUSTER REPLICATE %s: %w", r.Name, m.Name, err)
}
