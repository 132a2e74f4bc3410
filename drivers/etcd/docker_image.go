package etcd

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/docker"
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

	debianSuite = "bookworm"
	// pullRetryAfter is how long a failed pull of the default image is
	// remembered in this process, so a machine without a registry does not
	// try again at every cluster start.
	pullRetryAfter = 10 * time.Minute
)

var _ drivers.ImageBuilder = Driver{}

// debianImage is the recipe of the offline image.
func debianImage(progress func(string)) docker.DebianImage {
	d := docker.DebianImage{
		Suite:      debianSuite,
		Packages:   []string{"etcd-server", "etcd-client"},
		Entrypoint: []string{"/usr/bin/etcd"},
		Expose:     []string{"2379/tcp", "2380/tcp"},
		Progress:   progress,
	}
	d.Tag = "evalrun/etcd:" + debianSuite + "-" + d.Hash()
	return d
}

// DebianImageTag is the tag of the image BuildImage builds.
func DebianImageTag() string { return debianImage(nil).Tag }

// DefaultImage implements drivers.ImageBuilder.
func (Driver) DefaultImage() string { return DefaultDockerImage }

// BuildImage implements drivers.ImageBuilder: it builds the Debian image
// (debootstrap the first time, as root; cached afterwards) and returns its
// tag.
func (Driver) BuildImage(ctx context.Context, progress func(string)) (string, error) {
	if progress == nil {
		progress = func(string) {}
	}
	e, err := docker.Connect(ctx)
	if err != nil {
		return "", err
	}
	e.Logf = func(format string, args ...any) { progress(fmt.Sprintf(format, args...)) }
	d := debianImage(progress)
	imageMu.Lock()
	defer imageMu.Unlock()
	if _, err := e.BuildDebianImage(ctx, d); err != nil {
		return "", fmt.Errorf("etcd: build image %s: %w", d.Tag, err)
	}
	return d.Tag, nil
}

var (
	// imageMu serialises image resolution and builds in this process, so
	// clusters started at the same time build the image once.
	imageMu sync.Mutex
	// pullFailed remembers when a pull of an image failed.
	pullFailed = map[string]time.Time{}
)

// resolveImage returns the image reference and ID the nodes run:
//   - ClusterSpec.Image when given: local, else pulled (our Debian tag is
//     built instead of pulled);
//   - otherwise the official image when it is local or can be pulled,
//     else the Debian image (local, else built).
func resolveImage(ctx context.Context, e *docker.Engine, want string, logf func(string, ...any)) (ref, id string, err error) {
	imageMu.Lock()
	defer imageMu.Unlock()
	own := debianImage(func(s string) { logf("%s", s) })
	if want != "" && want != own.Tag {
		id, err := e.EnsureImage(ctx, want, nil)
		if err != nil {
			return "", "", fmt.Errorf("etcd: image %s: %w", want, err)
		}
		return want, id, nil
	}
	if want == "" {
		if id, ok, err := e.ImageID(ctx, DefaultDockerImage); err != nil {
			return "", "", err
		} else if ok {
			return DefaultDockerImage, id, nil
		}
		if t, failed := pullFailed[DefaultDockerImage]; !failed || time.Since(t) > pullRetryAfter {
			id, err := e.EnsureImage(ctx, DefaultDockerImage, nil)
			if err == nil {
				return DefaultDockerImage, id, nil
			}
			if ctx.Err() != nil {
				return "", "", ctx.Err()
			}
			pullFailed[DefaultDockerImage] = time.Now()
			logf("etcd: %v; using the Debian image %s instead", err, own.Tag)
		}
	}
	// Our own image is never pulled: it exists only where it was built.
	if id, ok, err := e.ImageID(ctx, own.Tag); err != nil {
		return "", "", err
	} else if ok {
		return own.Tag, id, nil
	}
	t0 := time.Now()
	logf("etcd: building %s from Debian %s packages (etcd-server, etcd-client)", own.Tag, debianSuite)
	id, err = e.BuildDebianImage(ctx, own)
	if err != nil {
		return "", "", fmt.Errorf("etcd: build image %s: %w", own.Tag, err)
	}
	logf("etcd: built %s in %s", own.Tag, time.Since(t0).Round(100*time.Millisecond))
	return own.Tag, id, nil
}
