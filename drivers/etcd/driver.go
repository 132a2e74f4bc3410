// Package etcd is the evalrun driver for etcd (https://etcd.io).
//
// The "embedded" provider runs every member of the cluster inside the
// evalrun process with go.etcd.io/etcd/server/v3/embed: members are
// node1..nodeN on 127.0.0.1, each with its own client and peer port (kept
// for the member's life, so a restart reuses them), a data directory
// WorkDir/nodeI and a warn-level log file WorkDir/nodeI.log.
//
// Clusters of the embedded provider implement drivers.Cluster,
// drivers.NodeController, drivers.Membership, drivers.Settler, drivers.Roles and
// drivers.BackupRestorer.
//
// The "docker" provider runs each member in a container of its own (see
// docker.go): the official image by default, or one built from Debian
// packages when it cannot be pulled (docker_image.go; the driver is a
// drivers.ImageBuilder). Its clusters also implement drivers.Pauser and
// drivers.Partitioner.
package etcd

import (
	"context"
	"fmt"

	"go.etcd.io/etcd/api/v3/version"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/driverkit"
)

// Driver is the etcd driver. It is stateless: everything it starts lives
// in the Cluster it returns. Use New.
type Driver struct {
	driverkit.OfflineImage // the docker provider's images
}

// New returns the etcd driver.
func New() drivers.Driver { return Driver{images()} }

// Name implements drivers.Driver.
func (Driver) Name() string { return "etcd" }

// Description implements drivers.Driver.
func (Driver) Description() string {
	return "etcd (raft key-value store); embedded: etcd " + version.Version + " members in process via etcd's embed package; docker: one container per member (" + DefaultDockerImage + ", else a Debian-built image)"
}

// Providers implements drivers.Driver. The default comes first.
func (Driver) Providers() []string { return []string{drivers.ProviderEmbedded, drivers.ProviderDocker} }

// Plan implements drivers.Driver.
func (Driver) Plan(provider string, nodes int, options map[string]string) (drivers.Topology, error) {
	switch provider {
	case drivers.ProviderEmbedded:
		return topology(nodes, options, (*embeddedCluster)(nil))
	case drivers.ProviderDocker:
		return topology(nodes, options, (*dockerCluster)(nil))
	}
	return drivers.Topology{}, fmt.Errorf("etcd: provider %q: %w", provider, drivers.ErrNotSupported)
}

// StartCluster implements drivers.Driver. It returns once every member is
// ready; on error nothing it started is left running.
func (Driver) StartCluster(ctx context.Context, spec drivers.ClusterSpec) (drivers.Cluster, error) {
	// An error comes with an untyped nil: a typed nil in the interface
	// would look like a cluster to the caller.
	switch spec.Provider {
	case drivers.ProviderEmbedded, "":
		c, err := startEmbedded(ctx, spec, "")
		if err != nil {
			return nil, err
		}
		return c, nil
	case drivers.ProviderDocker:
		c, err := startDocker(ctx, spec, "")
		if err != nil {
			return nil, err
		}
		return c, nil
	default:
		return nil, fmt.Errorf("etcd: provider %q: %w", spec.Provider, drivers.ErrNotSupported)
	}
}
