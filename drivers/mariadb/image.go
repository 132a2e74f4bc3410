package mariadb

import (
	_ "embed"

	"github.com/evalrun/evalrun/internal/debian"
	"github.com/evalrun/evalrun/internal/docker"
	"github.com/evalrun/evalrun/internal/driverkit"
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

// images are the official image and the offline recipe.
func images() driverkit.OfflineImage {
	return driverkit.OfflineImage{Driver: driverName, Official: OfficialImage, Recipe: offlineRecipe}
}
