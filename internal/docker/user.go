package docker

import (
	"os"
	"strconv"
)

// CallerUser is the NodeSpec.User of a node that writes into a
// bind-mounted host directory: the image's user ("") when this process is
// root, else this process's uid:gid, so that the files the node writes
// stay the caller's (who can then remove them).
func CallerUser() string {
	if uid := os.Getuid(); uid > 0 {
		return strconv.Itoa(uid) + ":" + strconv.Itoa(os.Getgid())
	}
	return ""
}
