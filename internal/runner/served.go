package runner

import (
	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/reports/model"
)

// servesNodes reports whether client says which node served each
// operation, so the recorder keeps per-node statistics.
func servesNodes(client drivers.Client) bool {
	_, ok := client.(drivers.ServingClient)
	return ok
}

// nodeNames lists the names of nodes by index (names[i] is node i+1);
// nil when the cluster reported no node.
func nodeNames(nodes []drivers.NodeInfo) []string {
	var names []string
	for _, n := range nodes {
		if n.Index < 1 {
			continue
		}
		for len(names) < n.Index {
			names = append(names, "")
		}
		names[n.Index-1] = n.Name
	}
	return names
}

// nameServingNodes names the nodes of the phases' per-node tables; a node
// the cluster did not report when it started (added later) keeps no name.
func nameServingNodes(phases []model.Phase, names []string) {
	for i := range phases {
		for j := range phases[i].Nodes {
			n := &phases[i].Nodes[j]
			if n.Node >= 1 && n.Node <= len(names) {
				n.Name = names[n.Node-1]
			}
		}
	}
}
