package redis

import (
	"context"
	"fmt"
	"strings"

	"github.com/evalrun/evalrun/internal/docker"
)

// OfficialImage is the image used when --image is not given and it is
// present locally or can be pulled.
const OfficialImage = "redis:7.2"

// offlineRepo is the repository of the image built from Debian packages.
const offlineRepo = "evalrun/redis"

// entrypointScript starts redis-server in the foreground as PID 1 (exec), so
// that docker stop (SIGTERM) and kill (SIGKILL) act on Redis itself. It works
// in the official image and in ours (both have /bin/sh and redis-server on
// PATH). A node of a restored cluster finds its RDB file bind-mounted at
// /restore/dump.rdb and copies it into its data directory once, before
// Redis starts; a restart of that node keeps its own data.
const entrypointScript = `set -e
mkdir -p /data
if [ -f /restore/dump.rdb ] && [ ! -e /data/.evalrun-restored ]; then
	cp /restore/dump.rdb /data/dump.rdb
	touch /data/.evalrun-restored
fi
exec redis-server "$@"
`

// nodeEntrypoint is the NodeSpec.Entrypoint of every node: the container's
// Cmd (the redis-server arguments) becomes "$@" of the script.
func nodeEntrypoint() []string {
	return []string{"/bin/sh", "-c", entrypointScript, "evalrun-redis"}
}

// offlineRecipe is the Debian image: Debian's redis-server package (7.0 in
// bookworm; it pulls in redis-tools, i.e. redis-cli), started by redis-server
// unless the node spec says otherwise (evalrun always does).
func offlineRecipe(progress func(string)) docker.DebianImage {
	d := docker.DebianImage{
		Suite:      "bookworm",
		Packages:   []string{"redis-server"},
		Files:      map[string]docker.FileSpec{"/usr/local/bin/evalrun-redis-entrypoint": {Mode: 0o755, Data: []byte("#!/bin/sh\n" + entrypointScript)}},
		Entrypoint: []string{"/usr/local/bin/evalrun-redis-entrypoint"},
		Cmd:        []string{"--protected-mode", "no"},
		Expose:     []string{"6379/tcp"},
		Progress:   progress,
	}
	d.Tag = offlineRepo + ":bookworm-" + d.Hash() // Hash ignores Tag and Progress
	return d
}

// OfflineImage is the reference of the image BuildImage builds:
// evalrun/redis:bookworm-<hash of the recipe>, so a changed recipe gives a
// new tag. (The Redis version inside is Debian's: ClusterInfo.DBVersion
// reports it.)
func OfflineImage() string { return offlineRecipe(nil).Tag }

// buildOffline builds the Debian image (debootstrap the first time, cached
// afterwards) and returns its ID.
func buildOffline(ctx context.Context, e *docker.Engine, progress func(string)) (string, error) {
	if progress == nil {
		progress = func(s string) { e.Logf("%s", s) }
	}
	return e.BuildDebianImage(ctx, offlineRecipe(progress))
}

// resolveImage makes the image of a cluster present and returns its
// reference and ID. An explicit image (--image) is used as is (pulled if
// missing; our own offline tag is built if missing). Otherwise: the official
// image if present locally, else our offline image if present, else a pull
// of the official image, else a build of the offline image.
func resolveImage(ctx context.Context, e *docker.Engine, asked string) (ref, id string, err error) {
	offline := OfflineImage()
	if asked != "" {
		var build func(context.Context) error
		if asked == offline {
			build = func(ctx context.Context) error { _, err := buildOffline(ctx, e, nil); return err }
		}
		id, err := e.EnsureImage(ctx, asked, build)
		if err != nil {
			return "", "", fmt.Errorf("redis: image %s: %w", asked, err)
		}
		return asked, id, nil
	}
	for _, ref := range []string{OfficialImage, offline} {
		id, ok, err := e.ImageID(ctx, ref)
		if err != nil {
			return "", "", fmt.Errorf("redis: %w", err)
		}
		if ok {
			return ref, id, nil
		}
	}
	id, err = e.EnsureImage(ctx, OfficialImage, nil)
	if err == nil {
		return OfficialImage, id, nil
	}
	if ctx.Err() != nil {
		return "", "", ctx.Err()
	}
	e.Logf("redis: %s is not available (%s); building %s from Debian's redis-server package", OfficialImage, firstLine(err.Error()), offline)
	id, err = buildOffline(ctx, e, nil)
	if err != nil {
		return "", "", fmt.Errorf("redis: build %s: %w", offline, err)
	}
	return offline, id, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
