package admin

import (
	"regexp"
)

var reBackupDone = regexp.MustCompile(`^Backup of \S+ complete$`)

// poll logs
