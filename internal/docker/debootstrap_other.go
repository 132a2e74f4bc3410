//go:build !linux

package docker

import (
	"context"
	"fmt"
)

// buildRootfs needs debootstrap, which runs on Linux only. A root
// filesystem already in the cache is still used.
func buildRootfs(ctx context.Context, job rootfsJob) error {
	return fmt.Errorf("docker: %w here: building the Debian image (%s) needs Linux with debootstrap", errNoDebootstrap, job.desc)
}
