package mariadb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/errext"
	"github.com/evalrun/evalrun/scenarios"
)

// mariabackup's binlog info, as 10.11.19 wrote it (testdata) and shapes
// it must refuse.
func TestParseBinlogInfo(t *testing.T) {
	real, err := os.ReadFile(filepath.Join("testdata", "xtrabackup_binlog_info-10.11.19"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		text, want, err string
	}{
		{string(real), "0-1-3", ""},
		{"mariadb-bin.000002\t1234\t0-1-5000,1-3-7\n", "0-1-5000,1-3-7", ""},
		{"mariadb-bin.000001\t329\t\n", "", ""}, // nothing logged yet
		{"mariadb-bin.000001\t329\n", "", ""},
		{"", "", "want FILE<TAB>POSITION<TAB>GTID"},
		{"mariadb-bin.000001 329 0-1-3\n", "", "want FILE<TAB>POSITION<TAB>GTID"},
		{"mariadb-bin.000001\tx\t0-1-3\n", "", "is not a number"},
		{"mariadb-bin.000001\t329\t0-1\n", "", "bad GTID"},
		{"a\t1\t0-1-3\textra\n", "", "want FILE<TAB>POSITION<TAB>GTID"},
	} {
		got, err := parseBinlogInfo(tc.text)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %q, %v; want an error with %q", tc.text, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.text, got, err, tc.want)
		}
	}
	// the file's name changed in MariaDB 11 (mariadb_backup_binlog_info): either is read
	dir := t.TempDir()
	if _, err := readBinlogInfo(dir); err == nil || !strings.Contains(err.Error(), "no binlog info file") {
		t.Errorf("no file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mariadb_backup_binlog_info"), []byte("f.000001\t4\t0-2-9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := readBinlogInfo(dir); err != nil || got != "0-2-9" {
		t.Errorf("mariadb_backup_binlog_info: %q, %v", got, err)
	}
}

// The GTID position of a dump: mariadb-dump 10.11.19 --gtid
// --master-data=2 writes it after the data (testdata); older versions in
// the header. readDumpGTID reads both ends of a long dump.
func TestParseDumpGTID(t *testing.T) {
	real, err := os.ReadFile(filepath.Join("testdata", "dump-10.11.19.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, text, want, err string
	}{
		{"10.11.19", string(real), "0-1-3", ""},
		{"in the header, uncommented", "-- MariaDB dump\nSET GLOBAL gtid_slave_pos='0-1-42,2-5-9';\nINSERT ...\n", "0-1-42,2-5-9", ""},
		{"empty position", "-- SET GLOBAL gtid_slave_pos='';\n", "", ""},
		{"none", "-- MariaDB dump\nINSERT INTO kv VALUES ('a','b');\n", "", "no \"SET GLOBAL gtid_slave_pos\" line"},
		{"twice", "-- SET GLOBAL gtid_slave_pos='0-1-1';\n-- SET GLOBAL gtid_slave_pos='0-1-2';\n", "", "2 gtid_slave_pos lines"},
		{"malformed", "-- SET GLOBAL gtid_slave_pos='0-1-1\n", "", "malformed"},
		{"bad GTID", "-- SET GLOBAL gtid_slave_pos='0-x-1';\n", "", "bad GTID"},
	} {
		got, err := parseDumpGTID(tc.text)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %q, %v; want an error with %q", tc.name, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	// a dump longer than both ends read: the position at the end is found
	head, tail, _ := strings.Cut(string(real), "UNLOCK TABLES;\n")
	long := head + strings.Repeat("('k','v'),\n", 5000) + "UNLOCK TABLES;\n" + tail
	path := filepath.Join(t.TempDir(), "dump.sql")
	if err := os.WriteFile(path, []byte(long), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := readDumpGTID(path); err != nil || got != "0-1-3" {
		t.Errorf("long dump: %q, %v", got, err)
	}
}

// A clone's gtid_slave_pos is written as rows of mysql.gtid_slave_pos,
// one per domain, run before the server starts.
func TestSlavePosSQL(t *testing.T) {
	got, err := slavePosSQL("0-1-42,1-3-7")
	want := "DELETE FROM mysql.gtid_slave_pos;\n" +
		"INSERT INTO mysql.gtid_slave_pos (domain_id, sub_id, server_id, seq_no) VALUES (0, 1, 1, 42);\n" +
		"INSERT INTO mysql.gtid_slave_pos (domain_id, sub_id, server_id, seq_no) VALUES (1, 2, 3, 7);\n"
	if err != nil || got != want {
		t.Errorf("got %q, %v\nwant %q", got, err, want)
	}
	if got, err := slavePosSQL(""); err != nil || got != "DELETE FROM mysql.gtid_slave_pos;\n" {
		t.Errorf("empty: %q, %v", got, err)
	}
	for _, bad := range []string{"0-1", "0-1-x", "0-1-2; DROP TABLE kv", "a-b-c"} {
		if _, err := slavePosSQL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A copy of a replica's data directory starts a node of its own: replica
// state goes, the rest stays, and the entrypoint is told to keep it.
func TestPrepareDataDir(t *testing.T) {
	dir := t.TempDir()
	files := []string{"master.info", "relay-log.info", "multi-master.info", "evalrun-rpl-role", "mariadb-relay-bin.000003", "mariadb-relay-bin.index",
		"ibdata1", "ib_logfile0", "mariadb-bin.000001", "mariadb-bin.index", "evalrun/kv.ibd", "mysql/gtid_slave_pos.ibd"}
	for _, f := range files {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	copied := filepath.Join(t.TempDir(), "node1")
	if err := seedDataDir(t.Context(), dir, copied); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, f := range append(files, "evalrun-initialised") {
		if _, err := os.Stat(filepath.Join(copied, f)); err == nil {
			left = append(left, f)
		}
	}
	want := []string{"ibdata1", "ib_logfile0", "mariadb-bin.000001", "mariadb-bin.index", "evalrun/kv.ibd", "mysql/gtid_slave_pos.ibd", "evalrun-initialised"}
	if !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
	if n, err := treeSize(copied); err != nil || n != int64(len("ibdata1ib_logfile0mariadb-bin.000001mariadb-bin.indexevalrun/kv.ibdmysql/gtid_slave_pos.ibd")) {
		t.Errorf("size %d, %v", n, err)
	}
}

// Validation knows the methods before anything starts: the default first.
func TestBackupMethodsPlanned(t *testing.T) {
	top, err := New().Plan(drivers.ProviderDocker, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(top.BackupMethods, []string{"mariabackup", "dump", "cold", "snapshot"}) {
		t.Errorf("methods %v", top.BackupMethods)
	}
	for _, c := range []drivers.Capability{drivers.CapBackup, drivers.CapRestore, drivers.CapAddNode, drivers.CapRemove} {
		if !drivers.Supports(top.Capabilities, c) {
			t.Errorf("cannot %s", c)
		}
	}
	text := "name: t\ncluster: {nodes: 3}\nworkload: {mix: {write: 1}, keys: 10, rate: 5}\nsteps:\n  - backup: {method: zfs}\n"
	p, err := scenarios.Parse("my.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	_, err = scenarios.Check(p, New(), drivers.ProviderDocker)
	want := `my.yaml:5: backup: driver mariadb (provider docker) has no backup method "zfs" (methods: mariabackup, dump, cold, snapshot)`
	if err == nil || err.Error() != want || !errext.IsBadInput(err) {
		t.Errorf("got  %v\nwant %s (bad input: exit 2)", err, want)
	}
}

// fakeFreezer records what freezeFor asked of a node; pauseErr and
// unpauseErr are what Pause and Unpause return.
type fakeFreezer struct {
	pauseErr, unpauseErr error
	calls                []string
	unpauseCtxErr        error // the thaw's context's error when it ran
}

func (f *fakeFreezer) Pause(context.Context) error {
	f.calls = append(f.calls, "pause")
	return f.pauseErr
}

func (f *fakeFreezer) Unpause(ctx context.Context) error {
	f.calls = append(f.calls, "unpause")
	f.unpauseCtxErr = ctx.Err()
	return f.unpauseErr
}

// A snapshot's freeze is always undone: after a copy that worked, one
// that failed, a context cancelled during the copy, a freeze that failed;
// the thaw runs on a live context, and a failed thaw is an error that
// says the node may still be frozen.
func TestFreezeForAlwaysThaws(t *testing.T) {
	copyFailed := errors.New("disk full")
	for _, tc := range []struct {
		name                 string
		pauseErr, unpauseErr error
		during               func(ctx context.Context, cancel context.CancelFunc) error
		wantCalls            string
		wantErr              string // "" for none
		wantThawed           bool
	}{
		{name: "copied", during: func(context.Context, context.CancelFunc) error { return nil },
			wantCalls: "[pause during unpause]", wantThawed: true},
		{name: "copy failed", during: func(context.Context, context.CancelFunc) error { return copyFailed },
			wantCalls: "[pause during unpause]", wantErr: "disk full", wantThawed: true},
		{name: "cancelled during the copy", during: func(ctx context.Context, cancel context.CancelFunc) error {
			cancel()
			return ctx.Err()
		}, wantCalls: "[pause during unpause]", wantErr: "context canceled", wantThawed: true},
		{name: "cancelled, the copy ignoring it", during: func(_ context.Context, cancel context.CancelFunc) error {
			cancel()
			return nil
		}, wantCalls: "[pause during unpause]", wantErr: "context canceled", wantThawed: true},
		{name: "freeze failed", pauseErr: errors.New("unable to freeze"), during: func(context.Context, context.CancelFunc) error { return nil },
			wantCalls: "[pause unpause]", wantErr: "unable to freeze", wantThawed: true},
		{name: "thaw failed", unpauseErr: errors.New("daemon gone"), during: func(context.Context, context.CancelFunc) error { return nil },
			wantCalls: "[pause during unpause]", wantErr: "the thaw failed, the node may still be frozen (resume it): daemon gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			f := &fakeFreezer{pauseErr: tc.pauseErr, unpauseErr: tc.unpauseErr}
			thawed := 0
			frozen, err := freezeFor(ctx, f, func(ctx context.Context) error {
				f.calls = append(f.calls, "during")
				if _, ok := ctx.Deadline(); !ok {
					t.Errorf("the copy's context has no deadline: a stuck copy would keep the node frozen")
				}
				return tc.during(ctx, cancel)
			}, func() { thawed++ })
			if got := fmt.Sprint(f.calls); got != tc.wantCalls {
				t.Errorf("calls %s, want %s", got, tc.wantCalls)
			}
			if f.unpauseCtxErr != nil {
				t.Errorf("the thaw ran on an ended context: %v", f.unpauseCtxErr)
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
			if want := map[bool]int{true: 1, false: 0}[tc.wantThawed]; thawed != want {
				t.Errorf("thawed called %d times, want %d", thawed, want)
			}
			if frozen <= 0 {
				t.Errorf("frozen %v, want the time from freeze to thaw", frozen)
			}
		})
	}
}

// A backup of a cluster of several groups is refused, whatever the
// method, before anything is touched: one backup would hold one group's
// keys only.
func TestBackupRefusesShards(t *testing.T) {
	c := &cluster{opts: options{shards: 3}}
	for _, method := range c.BackupMethods() {
		_, err := c.BackupWith(t.Context(), t.TempDir(), method)
		want := "mariadb: backup (" + method + "): backup of a cluster with shards > 1 is not supported"
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", method, err, want)
		}
	}
	if _, err := c.Backup(t.Context(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "shards > 1") {
		t.Errorf("Backup: %v, want the refusal", err)
	}
}
