package mariadb

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/drivertest"
)

// brokenSQLThread is SHOW SLAVE STATUS of a replica whose SQL thread met a
// row it already held, as MariaDB 10.11 reports it (the columns that
// matter, from TestReplicationErrorIsNoticed's run).
var brokenSQLThread = slaveStatus{
	"Slave_IO_Running":  "Yes",
	"Slave_SQL_Running": "No",
	"Last_Errno":        "1062",
	"Last_SQL_Errno":    "1062",
	"Last_SQL_Error":    "Could not execute Write_rows_v1 event on table evalrun.kv; Duplicate entry 'dup' for key 'PRIMARY', Error_code: 1062; handler error HA_ERR_FOUND_DUPP_KEY; the event's master log mysqld-bin.000001, end_log_pos 2325",
}

func TestReplicationWatch(t *testing.T) {
	healthy := slaveStatus{"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Last_SQL_Errno": "0"}
	ioDown := slaveStatus{"Slave_IO_Running": "Connecting", "Slave_SQL_Running": "Yes", "Last_SQL_Errno": "0",
		"Last_IO_Errno": "2003", "Last_IO_Error": "error reconnecting to master"}
	var w replicationWatch
	for _, tc := range []struct {
		name  string
		st    slaveStatus
		want  int // notices taken after observing st
		wantT string
	}{
		{"healthy", healthy, 0, ""},
		{"not a replica", nil, 0, ""},
		{"primary down: the IO thread only", ioDown, 0, ""},
		{"SQL thread stopped", brokenSQLThread, 1, "node2: Slave_SQL_Running No, Last_SQL_Errno 1062: Could not execute Write_rows_v1"},
		{"the same error again: once", brokenSQLThread, 0, ""},
		{"repaired", healthy, 0, ""},
		{"broken again: noticed again", brokenSQLThread, 1, "node2: Slave_SQL_Running No"},
	} {
		w.observe(2, "node2", tc.st)
		got := w.take()
		if len(got) != tc.want {
			t.Errorf("%s: %d notices %+v, want %d", tc.name, len(got), got, tc.want)
			continue
		}
		if tc.want == 1 && (got[0].Node != 2 || got[0].What != "replication stopped" || !strings.HasPrefix(got[0].Text, tc.wantT)) {
			t.Errorf("%s: %+v, want text starting %q", tc.name, got[0], tc.wantT)
		}
	}
}

// A replica whose SQL thread stops on an error is reported in the
// server's words, and its replicating gauge says 0: a row written on the
// replica alone (as root, whom read_only does not stop, without binary
// log) and then on the primary breaks the replica's SQL thread.
func TestReplicationErrorIsNoticed(t *testing.T) {
	runID := needDocker(t)
	t.Parallel()
	c := startTestCluster(t, runID, 2, nil)
	cli := drivertest.NewClient(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if v, ok := gaugeOf(ctx, t, c, "replicating.node2"); !ok || v != 1 {
		t.Fatalf("replicating.node2 = %v (present %v), want 1 on a healthy replica", v, ok)
	}
	if n := c.TakeNotices(); len(n) != 0 {
		t.Fatalf("notices on a healthy cluster: %+v", n)
	}
	r, err := c.Node(2)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.DN.Exec(ctx, []string{"mariadb", "-e", "SET sql_log_bin = 0; INSERT INTO evalrun.kv VALUES ('dup', 'replica only')"})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("write on the replica: %v %+v", err, res)
	}
	drivertest.PutEventually(t, cli, "dup", []byte("from the primary"), 10*time.Second)
	var notices []drivers.Notice
	for try := 0; try < 40 && len(notices) == 0; try++ {
		if _, err := c.Gauges(ctx); err != nil {
			t.Logf("gauges: %v", err)
		}
		notices = c.TakeNotices()
		if len(notices) == 0 {
			time.Sleep(250 * time.Millisecond)
		}
	}
	if len(notices) != 1 || notices[0].Node != 2 || !strings.Contains(notices[0].Text, "Last_SQL_Errno 1062") ||
		!strings.Contains(notices[0].Text, "Duplicate entry 'dup'") {
		t.Fatalf("notices %+v, want one naming node2's duplicate-key error", notices)
	}
	t.Logf("notice: %s", notices[0].Text)
	// the error is set a moment before the SQL thread has stopped
	// (Slave_SQL_Running may still say Yes): the gauge says 0 soon after
	var v float64
	var ok bool
	for try := 0; try < 40; try++ {
		if v, ok = gaugeOf(ctx, t, c, "replicating.node2"); ok && v == 0 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !ok || v != 0 {
		t.Errorf("replicating.node2 = %v (present %v), want 0 once the SQL thread stopped", v, ok)
	}
	if _, ok := gaugeOf(ctx, t, c, "seconds_behind_master.node2"); ok {
		t.Error("seconds_behind_master.node2 has a value while the SQL thread is stopped")
	}
}
