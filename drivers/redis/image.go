package redis

import (
	"github.com/evalrun/evalrun/internal/docker"
	"github.com/evalrun/evalrun/internal/driverkit"
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

// offlineRecipe is the Debian image: Debian's redis-server package (7.0 in
// bookworm; it pulls in redis-tools, i.e. redis-cli), started by redis-server
// unless the node spec says otherwise (evalrun always does). Its tag is
// evalrun/redis:<Redis version>-<recipe hash>.
func offlineRecipe(progress func(string)) docker.DebianImage {
	return docker.DebianImage{
		Repo:       offlineRepo,
		VersionOf:  "redis-server",
		Suite:      "bookworm",
		Packages:   []string{"redis-server"},
		Files:      map[string]docker.FileSpec{"/usr/local/bin/evalrun-redis-entrypoint": {Mode: 0o755, Data: []byte("#!/bin/sh\n" + entrypointScript)}},
		Entrypoint: []string{"/usr/local/bin/evalrun-redis-entrypoint"},
		Cmd:        []string{"--protected-mode", "no"},
		Expose:     []string{"6379/tcp"},
		Progress:   progress,
	}
}

// images are the official image and the offline recipe.
func images() driverkit.OfflineImage {
	return driverkit.OfflineImage{Driver: "redis", Official: OfficialImage, Recipe: offlineRecipe}
}
