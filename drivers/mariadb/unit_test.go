package mariadb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/drivertest"
)

func TestDriver(t *testing.T) {
	d := New()
	if d.Name() != "mariadb" || d.Description() == "" || strings.Contains(d.Description(), "\n") {
		t.Fatalf("name %q description %q", d.Name(), d.Description())
	}
	if ps := d.Providers(); len(ps) != 1 || ps[0] != drivers.ProviderDocker {
		t.Fatalf("providers %v", ps)
	}
	b, ok := d.(drivers.ImageBuilder)
	if !ok || b.DefaultImage() != "mariadb:10.11" {
		t.Fatalf("ImageBuilder: %v %v", ok, b)
	}
	r := offlineRecipe(nil)
	if r.Repo != "evalrun/mariadb" || r.VersionOf != "mariadb-server" || r.Hash() != offlineRecipe(nil).Hash() ||
		!slices.Equal(r.Packages, []string{"mariadb-server", "mariadb-backup"}) || len(r.Users) != 1 || r.Users[0].Name != "mysql" {
		t.Errorf("offline recipe %+v", r)
	}
	if string(r.Files["/usr/local/bin/evalrun-mariadb-entrypoint"].Data) != entrypointScript {
		t.Error("the image's entrypoint is not the script the nodes run")
	}
}

func TestPlan(t *testing.T) {
	caps := drivers.CapabilitiesOf((*cluster)(nil))
	for _, want := range []drivers.Capability{drivers.CapKill, drivers.CapStop, drivers.CapStart, drivers.CapPause,
		drivers.CapResume, drivers.CapPartition, drivers.CapHeal, drivers.CapSettled} {
		if !drivers.Supports(caps, want) {
			t.Errorf("a cluster cannot %s", want)
		}
	}
	for _, tt := range []struct {
		name     string
		provider string
		nodes    int
		opts     map[string]string
		option   string // the *drivers.OptionError's option, "" for another error
		known    bool   // the error lists the known options
		is       error
		fails    bool
	}{
		{name: "3 nodes, defaults", provider: drivers.ProviderDocker, nodes: 3},
		{name: "1 node", provider: drivers.ProviderDocker, nodes: 1},
		{name: "15 nodes, every option", provider: drivers.ProviderDocker, nodes: 15, opts: map[string]string{
			OptSemiSync: "on", OptSemiSyncTimeout: "500ms", OptSyncBinlog: "0", OptFlushLog: "2", OptParallel: "4",
			OptReadFrom: "replicas", OptBufferPool: "1G", OptNetTimeout: "30"}},
		{name: "no provider means docker", nodes: 2},
		{name: "embedded", provider: drivers.ProviderEmbedded, nodes: 3, is: drivers.ErrNotSupported, fails: true},
		{name: "0 nodes", provider: drivers.ProviderDocker, nodes: 0, fails: true},
		{name: "16 nodes", provider: drivers.ProviderDocker, nodes: 16, fails: true},
		{name: "unknown option", provider: drivers.ProviderDocker, nodes: 3, opts: map[string]string{"semisync": "on"},
			option: "semisync", known: true, fails: true},
		{name: "bad option", provider: drivers.ProviderDocker, nodes: 3, opts: map[string]string{OptFlushLog: "3"},
			option: OptFlushLog, fails: true},
		{name: "read-from replicas without replicas", provider: drivers.ProviderDocker, nodes: 1,
			opts: map[string]string{OptReadFrom: "replicas"}, option: OptReadFrom, fails: true},
		{name: "semi-sync without replicas", provider: drivers.ProviderDocker, nodes: 1,
			opts: map[string]string{OptSemiSync: "on"}, option: OptSemiSync, fails: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			top, err := New().Plan(tt.provider, tt.nodes, tt.opts)
			if !tt.fails {
				if err != nil || top.Nodes != tt.nodes || !slices.Equal(top.Roles, []string{"primary", "replica"}) ||
					!slices.Equal(top.Capabilities, caps) {
					t.Fatalf("%+v, %v", top, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("planned %+v", top)
			}
			var oe *drivers.OptionError
			if tt.option != "" && (!errors.As(err, &oe) || oe.Name != tt.option || (oe.Known != nil) != tt.known) {
				t.Errorf("%v: want an OptionError about %s", err, tt.option)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("%v is not %v", err, tt.is)
			}
		})
	}
}

func TestStartClusterRefusesBeforeDocker(t *testing.T) {
	for _, tt := range []struct {
		name string
		spec drivers.ClusterSpec
		want string
	}{
		{"embedded", drivers.ClusterSpec{Provider: drivers.ProviderEmbedded, Nodes: 3, WorkDir: t.TempDir()}, "embedded"},
		{"unknown option", drivers.ClusterSpec{Nodes: 3, WorkDir: t.TempDir(), Options: map[string]string{"read_from": "any"}},
			`unknown option "read_from" (known: buffer-pool, innodb-flush-log-at-trx-commit, max-lag, parallel-workers, read-from, semi-sync, semi-sync-timeout, shards, slave-net-timeout, sync-binlog)`},
		{"no work directory", drivers.ClusterSpec{Nodes: 3}, "no work directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New().StartCluster(t.Context(), tt.spec)
			if err == nil {
				drivertest.CloseCluster(t, c)
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want %q", err, tt.want)
			}
		})
	}
}

func TestParseOptions(t *testing.T) {
	o, err := parseOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"semi-sync": "false", "semi-sync-timeout": "10s", "sync-binlog": "1",
		"innodb-flush-log-at-trx-commit": "1", "parallel-workers": "0", "read-from": "primary", "buffer-pool": "128M",
		"slave-net-timeout": "10", "shards": "1", "max-lag": "0s"}
	if got := o.config(); !equalMaps(got, want) {
		t.Errorf("defaults: config %v, want %v", got, want)
	}
	for _, tt := range []struct {
		in  map[string]string
		set func(*options) // what in changes from the defaults
	}{
		{map[string]string{OptSemiSync: "on"}, func(o *options) { o.semiSync = true }},
		{map[string]string{OptSemiSync: "off"}, func(*options) {}},
		{map[string]string{OptSemiSyncTimeout: " 1.5s "}, func(o *options) { o.semiSyncTimeout = 1500 * time.Millisecond }},
		{map[string]string{OptSyncBinlog: "0"}, func(o *options) { o.syncBinlog = 0 }},
		{map[string]string{OptFlushLog: "2"}, func(o *options) { o.flushLog = 2 }},
		{map[string]string{OptParallel: "8"}, func(o *options) { o.parallel = 8 }},
		{map[string]string{OptReadFrom: "any"}, func(o *options) { o.readFrom = readAny }},
		{map[string]string{OptBufferPool: "1g"}, func(o *options) { o.bufferPool = 1 << 30 }},
		{map[string]string{OptBufferPool: "268435456"}, func(o *options) { o.bufferPool = 256 << 20 }},
		{map[string]string{OptNetTimeout: "60"}, func(o *options) { o.netTimeoutS = 60 }},
	} {
		got, err := parseOptions(tt.in)
		want := defaultOptions()
		tt.set(&want)
		if err != nil || got != want {
			t.Errorf("%v: %+v, %v; want %+v", tt.in, got, err, want)
		}
	}
	for _, bad := range []map[string]string{
		{OptSemiSync: "sometimes"}, {OptSemiSyncTimeout: "10"}, {OptSemiSyncTimeout: "0s"}, {OptSemiSyncTimeout: "2h"},
		{OptSyncBinlog: "-1"}, {OptSyncBinlog: "x"}, {OptFlushLog: "3"}, {OptParallel: "-1"}, {OptParallel: "1000"},
		{OptReadFrom: "replica"}, {OptReadFrom: "PRIMARY"}, {OptBufferPool: "4M"}, {OptBufferPool: "128MB"},
		{OptBufferPool: "1T"}, {OptBufferPool: ""}, {"buffer_pool": "128M"}, {OptNetTimeout: "1"}, {OptNetTimeout: "10s"},
	} {
		var oe *drivers.OptionError
		if _, err := parseOptions(bad); !errors.As(err, &oe) {
			t.Errorf("%v: %v, want an OptionError", bad, err)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestSizes(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "512": 512, "1k": 1 << 10, "128M": 128 << 20, "2G": 2 << 30} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "M", "-1M", "1.5G", "12X", "99999999999999999999"} {
		if n, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = %d", bad, n)
		}
	}
	for n, want := range map[int64]string{128 << 20: "128M", 1 << 30: "1G", 1536 << 20: "1536M", 3 << 10: "3K", 1000: "1000"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestServerArgs(t *testing.T) {
	o := defaultOptions()
	common := []string{"--server-id=2", "--log-bin", "--binlog-format=ROW", "--log-slave-updates=ON", "--gtid-strict-mode=ON",
		"--bind-address=0.0.0.0", "--skip-name-resolve", "--sync-binlog=1", "--innodb-flush-log-at-trx-commit=1",
		"--innodb-buffer-pool-size=134217728", "--slave-net-timeout=10"}
	replica := serverArgs(2, false, o)
	for _, want := range append(common, "--read-only=ON", "--slave-parallel-threads=0") {
		if !slices.Contains(replica, want) {
			t.Errorf("replica: no %s in %v", want, replica)
		}
	}
	primary := serverArgs(1, true, o)
	for _, a := range primary {
		if strings.Contains(a, "read-only") || strings.Contains(a, "semi-sync") {
			t.Errorf("primary: %s", a)
		}
	}
	o.semiSync, o.semiSyncTimeout, o.parallel = true, 1500*time.Millisecond, 4
	primary = serverArgs(1, true, o)
	// the primary's side is switched on at run time (writable), on
	// whichever node is the primary then; every node can be either
	for _, want := range []string{"--server-id=1", "--rpl-semi-sync-master-wait-point=AFTER_SYNC",
		"--rpl-semi-sync-master-timeout=1500", "--rpl-semi-sync-slave-enabled=ON"} {
		if !slices.Contains(primary, want) {
			t.Errorf("semi-sync primary: no %s in %v", want, primary)
		}
	}
	if slices.Contains(primary, "--rpl-semi-sync-master-enabled=ON") {
		t.Errorf("semi-sync primary: the primary's side on from the command line: %v", primary)
	}
	replica = serverArgs(3, false, o)
	for _, want := range []string{"--rpl-semi-sync-slave-enabled=ON", "--slave-parallel-threads=4", "--rpl-semi-sync-master-wait-point=AFTER_SYNC"} {
		if !slices.Contains(replica, want) {
			t.Errorf("semi-sync replica: no %s in %v", want, replica)
		}
	}
}

func TestGTIDPos(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want gtidPos
	}{
		{"", gtidPos{}},
		{"0-1-120", gtidPos{0: 120}},
		{"0-1-120,1-3-7", gtidPos{0: 120, 1: 7}},
		{" 0-1-5, 2-2-9 ", gtidPos{0: 5, 2: 9}},
	} {
		got, err := parseGTIDPos(tt.in)
		if err != nil || len(got) != len(tt.want) {
			t.Errorf("%q: %v, %v", tt.in, got, err)
			continue
		}
		for d, s := range tt.want {
			if got[d] != s {
				t.Errorf("%q: domain %d at %d, want %d", tt.in, d, got[d], s)
			}
		}
	}
	for _, bad := range []string{"0-1", "a-1-2", "0-1-x", "0-1-2-3", "0-1-2,0-2-3"} {
		if p, err := parseGTIDPos(bad); err == nil {
			t.Errorf("%q parsed as %v", bad, p)
		}
	}
	for _, tt := range []struct {
		replica, primary string
		reached          bool
	}{
		{"", "", true},
		{"0-1-10", "0-1-10", true},
		{"0-1-11", "0-1-10", true}, // the primary moved on after it was asked
		{"0-1-9", "0-1-10", false},
		{"", "0-1-1", false},
		{"0-1-10", "0-1-10,1-1-1", false},
		{"0-2-10,1-1-1", "0-1-10", true}, // server ids do not matter
	} {
		r, _ := parseGTIDPos(tt.replica)
		p, _ := parseGTIDPos(tt.primary)
		if got := r.reached(p); got != tt.reached {
			t.Errorf("%q reached %q: %v", tt.replica, tt.primary, got)
		}
	}
}

func TestSlaveStatus(t *testing.T) {
	var none slaveStatus
	if none.running() || none.why() != "replicates from nobody" {
		t.Errorf("no status: %v %q", none.running(), none.why())
	}
	ok := slaveStatus{"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes"}
	if !ok.running() {
		t.Error("both threads run")
	}
	broken := slaveStatus{"Slave_IO_Running": "Connecting", "Slave_SQL_Running": "Yes", "Last_IO_Error": "error connecting to master"}
	if broken.running() || broken.why() != "Slave_IO_Running Connecting, Slave_SQL_Running Yes; Last_IO_Error: error connecting to master" {
		t.Errorf("broken: %v %q", broken.running(), broken.why())
	}
}

func TestConnConfig(t *testing.T) {
	cfg := connConfig("127.0.0.1:3306", "s3cret")
	dsn := cfg.FormatDSN()
	for _, want := range []string{"evalrun:s3cret@tcp(127.0.0.1:3306)/", "timeout=2s", "readTimeout=1m0s", "writeTimeout=1m0s",
		"interpolateParams=true", "parseTime=true"} {
		if !strings.Contains(dsn, want) {
			t.Errorf("DSN %q has no %q", dsn, want)
		}
	}
	parsed, err := mysql.ParseDSN(dsn)
	if err != nil || parsed.Timeout != dialTimeout || parsed.ReadTimeout != ioTimeout || !parsed.InterpolateParams {
		t.Errorf("the DSN reads back as %+v, %v", parsed, err)
	}
	if _, ok := cfg.Logger.(*mysql.NopLogger); !ok {
		t.Errorf("logger %T: a killed node would print a line per broken connection", cfg.Logger)
	}
}

func TestErrorMapping(t *testing.T) {
	bg := context.Background()
	expired, cancel := context.WithTimeout(bg, 0)
	defer cancel()
	myErr := func(code uint16, msg string) error { return &mysql.MySQLError{Number: code, Message: msg} }
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	un := []error{drivers.ErrUnavailable}
	dl := []error{context.DeadlineExceeded}
	drivertest.CheckErrorMapping(t, mapError, []drivertest.ErrorCase{
		{Name: "deadline", Ctx: bg, Err: context.DeadlineExceeded, Is: dl, Not: un},
		{Name: "invalid connection after the deadline", Ctx: expired, Err: mysql.ErrInvalidConn, Is: dl, Not: un},
		{Name: "read timeout", Ctx: bg, Err: timeout, Is: dl, Not: un},
		{Name: "refused", Ctx: bg, Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, Is: un, Not: dl},
		{Name: "reset", Ctx: bg, Err: fmt.Errorf("write: %w", syscall.ECONNRESET), Is: un},
		{Name: "EOF", Ctx: bg, Err: io.EOF, Is: un},
		{Name: "unexpected EOF", Ctx: bg, Err: io.ErrUnexpectedEOF, Is: un},
		{Name: "bad connection", Ctx: bg, Err: driver.ErrBadConn, Is: un},
		{Name: "invalid connection", Ctx: bg, Err: mysql.ErrInvalidConn, Is: un},
		{Name: "connection done", Ctx: bg, Err: sql.ErrConnDone, Is: un},
		{Name: "gone away", Ctx: bg, Err: errors.New("MySQL server has gone away"), Is: un},
		{Name: "closed pool", Ctx: bg, Err: errors.New("sql: database is closed"), Is: un},
		{Name: "read only", Ctx: bg, Err: myErr(1290, "The MariaDB server is running with the --read-only option so it cannot execute this statement"), Is: un},
		{Name: "read-only mode", Ctx: bg, Err: myErr(1836, "Running in read-only mode"), Is: un},
		{Name: "shutdown", Ctx: bg, Err: myErr(1053, "Server shutdown in progress"), Is: un},
		{Name: "killed", Ctx: bg, Err: myErr(1927, "Connection was killed"), Is: un},
		{Name: "too many connections", Ctx: bg, Err: myErr(1040, "Too many connections"), Is: un},
		{Name: "no live replica", Ctx: bg, Err: fmt.Errorf("read-from replicas: %w (%w)", errNoTarget, drivers.ErrUnavailable), Is: un},
		{Name: "deadlock is the database's answer", Ctx: bg, Err: myErr(1213, "Deadlock found"), Not: append(un, dl...)},
		{Name: "syntax", Ctx: bg, Err: myErr(1064, "You have an error in your SQL syntax"), Not: append(un, dl...)},
	})
	if mapError(bg, "get", nil) != nil {
		t.Error("nil maps to an error")
	}
}

// fixedRoute is a router over fixed indexes.
type fixedRoute struct {
	primary int
	live    []int
}

func (r fixedRoute) writeTarget(int) int { return r.primary }
func (r fixedRoute) readTargets(_ int, rf readFrom) []int {
	if rf == readPrimary {
		return []int{r.primary}
	}
	var out []int
	for _, i := range r.live {
		if rf == readAny || i != r.primary {
			out = append(out, i)
		}
	}
	return out
}

func TestReadRouting(t *testing.T) {
	addrs := map[int]string{1: "127.0.0.1:1", 2: "127.0.0.1:2", 3: "127.0.0.1:3"}
	for _, tt := range []struct {
		rf   readFrom
		live []int
		want []int // the pools of successive reads, by index; nil: unavailable
	}{
		{readPrimary, []int{1, 2, 3}, []int{1, 1, 1}},
		{readReplicas, []int{1, 2, 3}, []int{3, 2, 3, 2}},
		{readReplicas, []int{1, 3}, []int{3, 3}},
		{readReplicas, []int{1}, nil},
		{readAny, []int{1, 2, 3}, []int{2, 3, 1, 2}},
	} {
		cl := newClient(addrs, "pw", readOpts(tt.rf), fixedRoute{primary: 1, live: tt.live}, nil)
		for i := 0; i < max(len(tt.want), 1); i++ {
			node, db, err := cl.readDB("k")
			if tt.want == nil {
				if !errors.Is(err, drivers.ErrUnavailable) {
					t.Errorf("%s over %v: %v, want unavailable", tt.rf, tt.live, err)
				}
				break
			}
			if err != nil || db != cl.dbs[tt.want[i]] || node != tt.want[i] {
				t.Errorf("%s over %v: read %d went to node %d, want %d (%v)", tt.rf, tt.live, i, node, tt.want[i], err)
			}
		}
		if s := cl.ReadSettings(); !strings.HasPrefix(s, "read-from "+string(tt.rf)) || strings.Contains(s, "\n") {
			t.Errorf("read settings %q", s)
		}
		if err := cl.Close(); err != nil || !errors.Is(cl.Close(), err) {
			t.Errorf("close: %v", err)
		}
	}
}

// readOpts are the default options but for read-from.
func readOpts(rf readFrom) options {
	o := defaultOptions()
	o.readFrom = rf
	return o
}
