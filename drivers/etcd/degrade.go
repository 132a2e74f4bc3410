package etcd

import (
	"context"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/driverkit"
)

var _ drivers.DegradeChecker = Driver{}

// CheckDegrade implements drivers.DegradeChecker: on the docker provider,
// a delay needs netem on the Docker host. Embedded members cannot be
// degraded at all (validation refuses the step: the embedded cluster is
// no drivers.Degrader).
func (Driver) CheckDegrade(ctx context.Context, provider string, d drivers.Degradation) error {
	if provider != drivers.ProviderDocker {
		return nil
	}
	return driverkit.CheckDockerDegrade(ctx, "etcd", d)
}
