package etcd

import (
	"strings"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/docker"
	"github.com/evalrun/evalrun/internal/driverkit"
)

// Images of the docker provider.
//
// The default is the official image (distroless: etcd, etcdctl and etcdutl
// in /usr/local/bin, no shell). When it is not present locally and cannot
// be pulled, the provider builds and uses an image of its own from Debian
// packages (etcd-server and etcd-client of the suite, etcd 3.4.23 on
// bookworm), tagged evalrun/etcd:bookworm-<recipe hash>. Both run etcd as
// PID 1: the node command is `etcd` (looked up in the image's PATH) with
// flags only, so docker stop and kill act on etcd itself.
const (
	// DefaultDockerImage is the official etcd image the docker provider
	// runs unless ClusterSpec.Image names another.
	DefaultDockerImage = "gcr.io/etcd-development/etcd:v3.5.17"

	// offlineRepo is the repository of the image built from Debian
	// packages: evalrun/etcd:<etcd version>-<recipe hash>.
	offlineRepo = "evalrun/etcd"
	debianSuite = "bookworm"
)

var _ drivers.ImageBuilder = Driver{}

// debianImage is the recipe of the offline image.
func debianImage(progress func(string)) docker.DebianImage {
	return docker.DebianImage{
		Repo:       offlineRepo,
		VersionOf:  "etcd-server",
		Suite:      debianSuite,
		Packages:   []string{"etcd-server", "etcd-client"},
		Entrypoint: []string{"/usr/bin/etcd"},
		Expose:     []string{"2379/tcp", "2380/tcp"},
		Progress:   progress,
	}
}

// images are the official image and the offline recipe.
func images() driverkit.OfflineImage {
	return driverkit.OfflineImage{Driver: "etcd", Official: DefaultDockerImage, Recipe: debianImage}
}

// imageChoice is what the nodes may run, in docker.Engine.ResolveImage's
// order: ClusterSpec.Image when given, else the official image when local,
// else ours when local, else the official image pulled, else ours built.
func imageChoice(logf func(string, ...any)) docker.ImageChoice {
	progress := func(string) {}
	if logf != nil {
		progress = func(s string) { logf("%s", s) }
	}
	return images().Choice(progress)
}

// isOfflineImage: our image runs Debian's etcd 3.4.
func isOfflineImage(ref string) bool { return strings.HasPrefix(ref, offlineRepo+":") }
