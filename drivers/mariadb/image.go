package mariadb

import (
	_ "embed"

	"github.com/evalrun/evalrun/internal/debian"
	"github.com/evalrun/evalrun/internal/docker"
)

// OfficialImage is the image used when --image is not given and it is
// present locally or can be pulled.
const OfficialImage = "mariadb:10.11"

// offlineRepo is the repository of the image built from Debian packages.
const offlineRepo = "evalrun/mariadb"

// mysqlUID is the uid of the mysql account in our image: the official
// image's, so a data directory has the same owner under either.
const mysqlUID = 999

// entrypointScript initialises a node's data directory once and execs
// mariadbd with the arguments it is given ("$@"); see the script.
//
//go:embed entrypoint.sh
var entrypointScript string

// nodeEntrypoint is the NodeSpec.Entrypoint of every node: the script run
// by /bin/sh, so that it works in the official image too; the container's
// Cmd (mariadbd's options) becomes "$@".
func nodeEntrypoint() []string {
	return []string{"/bin/sh", "-c", entrypointScript, "evalrun-mariadb"}
}

// offlineRecipe is the Debian image: bookworm's mariadb-server (10.11) and
// mariadb-backup, the mysql account their maintainer scripts would have
// made, and the entrypoint. Its tag is evalrun/mariadb:<MariaDB
// version>-<recipe hash>.
func offlineRecipe(progress func(string)) docker.DebianImage {
	return docker.DebianImage{
		Repo:       offlineRepo,
		VersionOf:  "mariadb-server",
		Suite:      "bookworm",
		Packages:   []string{"mariadb-server", "mariadb-backup"},
		Users:      []debian.User{{Name: "mysql", UID: mysqlUID, Home: "/var/lib/mysql"}},
		Files:      map[string]docker.FileSpec{"/usr/local/bin/evalrun-mariadb-entrypoint": {Mode: 0o755, Data: []byte(entrypointScript)}},
		Entrypoint: []string{"/usr/local/bin/evalrun-mariadb-entrypoint"},
		Expose:     []string{mariadbPort + "/tcp"},
		Progress:   progress,
	}
}

// imageChoice is what a cluster may run: --image, else the official image,
// else the one built from Debian packages.
func imageChoice(progress func(string)) docker.ImageChoice {
	recipe := offlineRecipe(progress)
	return docker.ImageChoice{Official: OfficialImage, Offline: &recipe,
		Hint: "`evalrun images build mariadb` builds " + offlineRepo + " from Debian packages"}
}
