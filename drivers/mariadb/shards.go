package mariadb

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/evalrun/evalrun/drivers"
)

// Several primaries (option shards).
//
// With shards S > 1 the cluster is S independent groups of groupSize
// nodes (cluster.nodes): group g (0-based here, "shard<g+1>" to the user)
// is nodes g×groupSize+1 .. (g+1)×groupSize, the first its primary at the
// start, the others its replicas. Every group is formed, replicates,
// beats, settles and fails over as a cluster of one group does; no node
// replicates across groups. The client sends each key to its group
// (client.groupOf), the cluster says which node of the group
// (writeTarget, readTargets). With S = 1 there is one group of every
// node, added ones included.

// group is one primary and its replicas.
type group struct {
	primary int     // index of the node the group's writes go to
	history lineage // forks of the group's history of primaries (promotions)
}

var (
	_ drivers.NodeGrouper   = (*cluster)(nil)
	_ drivers.GroupPromoter = (*cluster)(nil)
)

// newGroups are the groups of a cluster just formed: each one's first
// node its primary.
func newGroups(shards, groupSize int) []group {
	gs := make([]group, max(shards, 1))
	for g := range gs {
		gs[g] = group{primary: g*groupSize + 1, history: lineage{}}
	}
	return gs
}

// groupName is the user's name of group g (0-based): "shard1".
func groupName(g int) string { return "shard" + strconv.Itoa(g+1) }

// groupRoles are the roles naming group g's primary and replicas.
func groupRoles(g int) (primary, replica string) {
	name := groupName(g)
	return name + "." + rolePrimary, name + "." + roleReplica
}

// sharded reports whether the cluster has more than one group.
func (c *cluster) sharded() bool { return len(c.groups) > 1 }

// groupOfNode is the group of node index (0-based): with one group
// always 0.
func (c *cluster) groupOfNode(index int) int {
	if !c.sharded() || c.groupSize < 1 || index < 1 {
		return 0
	}
	return min((index-1)/c.groupSize, len(c.groups)-1)
}

// groupPrimary is the index of group g's primary (0 when there is no
// group g).
func (c *cluster) groupPrimary(g int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g < 0 || g >= len(c.groups) {
		return 0
	}
	return c.groups[g].primary
}

// primaryOf is the index of the primary of node index's group.
func (c *cluster) primaryOf(index int) int { return c.groupPrimary(c.groupOfNode(index)) }

// isPrimary reports whether node index is its group's primary.
func (c *cluster) isPrimary(index int) bool { return c.primaryOf(index) == index }

// primaryIndex is the index of the first group's primary: the primary of
// a cluster of one group.
func (c *cluster) primaryIndex() int { return c.groupPrimary(0) }

// thePrimary names the primary of group g in messages: "the primary",
// or "shard2's primary" with several groups.
func (c *cluster) thePrimary(g int) string {
	if !c.sharded() {
		return "the primary"
	}
	return groupName(g) + "'s primary"
}

// byGroup splits ns into their groups (0-based), keeping their order.
func (c *cluster) byGroup(ns []*node) [][]*node {
	out := make([][]*node, len(c.groups))
	for _, n := range ns {
		g := c.groupOfNode(n.Index)
		out[g] = append(out[g], n)
	}
	return out
}

// NodeGroups implements drivers.NodeGrouper: each node's group
// ("shard2") with several groups; nil with one, whose report has no
// groups to show.
func (c *cluster) NodeGroups() map[int]string {
	if !c.sharded() {
		return nil
	}
	out := map[int]string{}
	for _, n := range c.Members() {
		out[n.Index] = groupName(c.groupOfNode(n.Index))
	}
	return out
}

// groupOfRole reads the group a role such as "shard2.replica" names
// (0-based); suffix is the role within it (".replica").
func (c *cluster) groupOfRole(role, suffix string) (int, error) {
	num, ok := strings.CutSuffix(role, suffix)
	if ok {
		num, ok = strings.CutPrefix(num, "shard")
	}
	g, err := strconv.Atoi(num)
	if !ok || err != nil || g < 1 || g > len(c.groups) || !c.sharded() {
		return 0, fmt.Errorf("mariadb: no group in role %q: want shard<g>%s with g from 1 to %d (option shards)", role, suffix, len(c.groups))
	}
	return g - 1, nil
}

// CandidateOf implements drivers.GroupPromoter: the replica of the group
// role names ("shard2.replica") that received the most of its primary's
// binary log, as Candidate is for one group.
func (c *cluster) CandidateOf(ctx context.Context, role string) (int, error) {
	if c.Closed() {
		return 0, errClosed
	}
	g, err := c.groupOfRole(role, "."+roleReplica)
	if err != nil {
		return 0, err
	}
	return c.candidateIn(ctx, g)
}

// groupTopology checks nodes per group against shards: at most maxNodes
// in all.
func groupTopology(nodes int, opts options) (drivers.Topology, error) {
	shards := max(opts.shards, 1)
	if nodes*shards > maxNodes {
		return drivers.Topology{}, &drivers.OptionError{Driver: driverName, Name: OptShards, Value: strconv.Itoa(shards),
			Want: fmt.Sprintf("%d groups of %d nodes (cluster.nodes: per group) is %d nodes; at most %d in all", shards, nodes, nodes*shards, maxNodes)}
	}
	roles := []string{rolePrimary, roleReplica}
	if shards > 1 {
		for g := range shards {
			p, r := groupRoles(g)
			roles = append(roles, p, r)
		}
	}
	return drivers.Topology{Nodes: nodes * shards, Roles: roles, Primary: 1}, nil
}
