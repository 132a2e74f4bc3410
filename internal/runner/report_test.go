package runner

import (
	"testing"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/reports/model"
)

// A step's peak p99 is the highest p99 of the windows it overlapped;
// windows with no operation do not count.
func TestPeakP99(t *testing.T) {
	ws := []model.Window{
		{StartMs: 0, Count: 10, P99Us: 900},
		{StartMs: 1000, Count: 10, P99Us: 2000},
		{StartMs: 2000, Count: 10, P99Us: 5000},
		{StartMs: 3000, Count: 0, P99Us: 0},
		{StartMs: 4000, Count: 10, P99Us: 700},
	}
	for _, tc := range []struct {
		from, to int64
		want     int64
	}{
		{1500, 1800, 2000}, // inside one window
		{1500, 2100, 5000}, // across two
		{3000, 3999, 0},    // an empty window only
		{3500, 4100, 700},  // the empty one and the last
		{4500, 9000, 700},  // past the last window's start
		{9000, 9500, 700},  // the last window runs to the end
		{0, 0, 900},        // an instant
		{-500, -100, 0},    // before the load
		{999, 1000, 2000},  // touches the next window's start
	} {
		if got := peakP99(ws, tc.from, tc.to); got != tc.want {
			t.Errorf("peakP99(%d..%d) = %d, want %d", tc.from, tc.to, got, tc.want)
		}
	}
}

// A backup's event detail names the method, the node, the position and
// the freeze when the driver gives them.
func TestBackupDetail(t *testing.T) {
	for _, tc := range []struct {
		meta map[string]string
		want string
	}{
		{nil, "1234 bytes"},
		{map[string]string{drivers.MetaMethod: "dump", drivers.MetaSource: "node3", drivers.MetaPosition: "GTID 0-1-42"},
			"dump, 1234 bytes from node3 at GTID 0-1-42"},
		{map[string]string{drivers.MetaMethod: "cold"}, "cold, 1234 bytes"},
		{map[string]string{drivers.MetaMethod: "snapshot", drivers.MetaSource: "node3", drivers.MetaPosition: "GTID 0-1-42", drivers.MetaFreezeMs: "325"},
			"snapshot, 1234 bytes from node3 at GTID 0-1-42, frozen 325 ms"},
	} {
		if got := backupDetail(drivers.Backup{Bytes: 1234, Meta: tc.meta}); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.meta, got, tc.want)
		}
	}
}
