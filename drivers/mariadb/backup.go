package mariadb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/driverkit"
)

// Backups.
//
// Four methods (drivers.BackupMethods), each taken from a replica (the
// live replica of the highest index) unless there is none, then from the
// primary (all but cold):
//
//   - mariabackup (the default): a hot physical backup, `mariabackup
//     --backup` then `--prepare`, run in the source's container into the
//     transfer directory every node has bind-mounted from the run's work
//     directory, then moved to DIR/data. Bytes: the prepared directory.
//   - dump: `mariadb-dump --single-transaction --gtid --master-data=2
//     --hex-blob` of evalrun.kv into DIR/dump.sql (one consistent InnoDB
//     snapshot; the GTID position of that snapshot is written into the
//     dump). Bytes: the file.
//   - cold: STOP SLAVE on a replica, stop its server (graceful), copy its
//     data directory (bind-mounted on the host) to DIR/data, start it again
//     and wait until it has caught up: what a disk snapshot of a stopped
//     replica gives. Bytes: what was copied (the redo log included).
//   - snapshot: what a volume snapshot of a running server gives. The
//     source keeps running and replicating until its container is frozen
//     (docker pause: the cgroup freezer), its data directory is copied
//     (a real copy: InnoDB writes pages in place, so hard links would
//     change under the backup), and the container is thawed, always, also
//     when the copy fails or ctx ends (the thaw has a context of its own).
//     The copy is a crash image: what the server had written when it
//     froze. Meta's MetaFreezeMs is how long it was frozen. The position
//     is the source's gtid_binlog_pos read just before the freeze, a lower
//     bound of what the copy holds (it replicated on until frozen); with
//     innodb-flush-log-at-trx-commit=0 the copy may lack InnoDB commits
//     its binary log holds, as after a crash. Bytes: what was copied.
//
// Every write acknowledged before the call is in the backup: the primary's
// gtid_binlog_pos is read first, and a replica source must have applied it
// (gtid_slave_pos, bounded by backupApplyTimeout) before it is copied; the
// position the backup holds (from mariabackup's binlog info, the dump's
// SET GLOBAL gtid_slave_pos, the stopped replica's gtid_slave_pos, the
// frozen source's gtid_binlog_pos) is then checked against it. A cluster
// of several groups (shards > 1) is refused: one backup would hold one
// group's keys only. Meta records the method, the source node and that
// position.
//
// Restore starts a fresh cluster of spec.Nodes with the source cluster's
// account password (the physical copies carry its mysql.user table):
//
//   - mariabackup, cold and snapshot: every node's data directory is a
//     copy of the backup, without replica state (master.info, relay logs).
//     node1 is the primary; when the copy has no binary log (mariabackup),
//     its gtid_binlog_state is set to the backup's position, so the
//     restored cluster continues the source's GTID history. The other
//     nodes set gtid_slave_pos to that position and replicate from node1
//     by GTID. A snapshot's position is only a lower bound: node1 starts
//     first (InnoDB's crash recovery runs then, and the restore's time
//     includes it), its gtid_binlog_pos after recovery, checked to have
//     reached the backup's, is what the copies hold, and the replicas start
//     from there.
//   - dump: a fresh cluster forms as StartCluster forms it, then the
//     mariadb client loads the dump into the primary, and the replicas get
//     it through replication. A logical restore starts a GTID history of
//     its own.
//
// Restore returns once every replica replicates and has caught up.
const (
	methodMariabackup = "mariabackup"
	methodDump        = "dump"
	methodCold        = "cold"
	methodSnapshot    = "snapshot"

	// metaGTID is the backup's GTID position as the server writes it.
	metaGTID = "gtid"

	backupData = "data"     // DIR/data: a data directory (mariabackup, cold, snapshot)
	backupDump = "dump.sql" // DIR/dump.sql

	// backupApplyTimeout bounds the wait for a replica to apply what the primary
	// had logged, before a backup or after a cold copy.
	backupApplyTimeout = 2 * time.Minute
	// toolTimeout bounds one mariabackup or mariadb client run in a
	// container (Exec cannot kill what it started: timeout(1) does).
	toolTimeout = 30 * time.Minute
	// freezeLimit bounds a snapshot's copy, so the source is never left
	// frozen for long; thawTimeout bounds the thaw, which runs whatever
	// happened to the copy or its context.
	freezeLimit = 5 * time.Minute
	thawTimeout = 30 * time.Second
)

// BackupMethods implements drivers.BackupMethods, the default first.
func (*cluster) BackupMethods() []string {
	return []string{methodMariabackup, methodDump, methodCold, methodSnapshot}
}

// Backup implements drivers.BackupRestorer: the default method.
func (c *cluster) Backup(ctx context.Context, dir string) (drivers.Backup, error) {
	return c.BackupWith(ctx, dir, methodMariabackup)
}

// BackupWith implements drivers.BackupMethods (see the comment above).
func (c *cluster) BackupWith(ctx context.Context, dir, method string) (drivers.Backup, error) {
	b, err := c.backup(ctx, dir, method)
	if err != nil {
		return drivers.Backup{}, fmt.Errorf("mariadb: backup (%s): %w", method, err)
	}
	return b, nil
}

func (c *cluster) backup(ctx context.Context, dir, method string) (drivers.Backup, error) {
	switch method {
	case methodMariabackup, methodDump, methodCold, methodSnapshot:
	default:
		return drivers.Backup{}, fmt.Errorf("unknown method %q (methods: %s)", method, strings.Join(c.BackupMethods(), ", "))
	}
	if c.opts.shards > 1 {
		return drivers.Backup{}, errors.New("backup of a cluster with shards > 1 is not supported")
	}
	ctx, release, err := c.Acquire(ctx)
	if err != nil {
		return drivers.Backup{}, err
	}
	defer release()
	t0 := time.Now()
	primary, err := c.livePrimary()
	if err != nil {
		return drivers.Backup{}, err
	}
	src := c.backupSource(primary)
	if method == methodCold && src == primary {
		return drivers.Backup{}, errors.New("a cold copy stops a replica, and no replica is up")
	}
	// every write acknowledged before the call is in the primary's binary log now
	must, mustPos, err := gtidNow(ctx, primary, "gtid_binlog_pos")
	if err != nil {
		return drivers.Backup{}, err
	}
	if src != primary {
		if err := waitApplied(ctx, src, must, backupApplyTimeout); err != nil {
			return drivers.Backup{}, err
		}
	}
	var b drivers.Backup
	switch method {
	case methodMariabackup:
		b, err = c.backupHot(ctx, src, dir)
	case methodDump:
		b, err = c.backupDump(ctx, src, dir)
	case methodCold:
		b, err = c.backupCold(ctx, src, dir, primary)
	case methodSnapshot:
		b, err = c.backupSnapshot(ctx, src, dir)
	}
	if err != nil {
		return drivers.Backup{}, err
	}
	gtid := b.Meta[metaGTID]
	pos, err := parseGTIDPos(gtid)
	if err != nil {
		return drivers.Backup{}, fmt.Errorf("the backup's position: %w", err)
	}
	if !pos.reached(mustPos) {
		return drivers.Backup{}, fmt.Errorf("the backup holds GTID %q, short of %q, which %s had logged when the backup began", gtid, must, primary.Name)
	}
	b.Meta[drivers.MetaMethod] = method
	b.Meta[drivers.MetaSource] = src.Name
	b.Meta[drivers.MetaPosition] = "GTID " + gtid
	c.Logf("mariadb: %s backup of %s at GTID %s: %d bytes in %s", method, src.Name, gtid, b.Bytes, time.Since(t0).Round(time.Millisecond))
	return b, nil
}

// livePrimary is the primary, which must be up.
func (c *cluster) livePrimary() (*node, error) {
	p, err := c.Node(c.primaryIndex())
	if err != nil {
		return nil, err
	}
	if st := c.State(p); st != driverkit.StateUp {
		return nil, fmt.Errorf("the primary, %s, is %s", p.Name, st)
	}
	return p, nil
}

// backupSource is the live replica of the highest index, else the
// primary.
func (c *cluster) backupSource(primary *node) *node {
	live := c.Live()
	for i := len(live) - 1; i >= 0; i-- {
		if live[i] != primary {
			return live[i]
		}
	}
	return primary
}

// gtidNow reads a GTID position variable of n, bounded by adminTimeout.
func gtidNow(ctx context.Context, n *node, name string) (string, gtidPos, error) {
	qctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	return gtidOf(qctx, n, name)
}

// tool runs a command in n's container, bounded by timeout(1) inside and
// ctx outside, and returns its error with the end of its output.
func tool(ctx context.Context, n *node, cmd ...string) error {
	full := append([]string{"timeout", strconv.Itoa(int(toolTimeout.Seconds()))}, cmd...)
	res, err := n.DN.Exec(ctx, full)
	if err == nil && res.ExitCode == 0 {
		return nil
	}
	out := strings.TrimSpace(res.Stderr + "\n" + res.Stdout)
	if lines := strings.Split(out, "\n"); len(lines) > 8 {
		out = strings.Join(lines[len(lines)-8:], "\n")
	}
	if err != nil {
		return fmt.Errorf("%s: %s: %w", n.Name, cmd[0], err)
	}
	return fmt.Errorf("%s: %s exited with code %d: %s", n.Name, cmd[0], res.ExitCode, out)
}

// loginArgs are the client options of the harness's account over TCP
// inside a container.
func (c *cluster) loginArgs() []string {
	return []string{"--user=" + account, "--password=" + c.password, "--host=127.0.0.1", "--port=" + mariadbPort}
}

// hotCopy takes a prepared mariabackup of n into the transfer directory
// under name and returns its host path and the GTID position it holds.
func (c *cluster) hotCopy(ctx context.Context, n *node, name string) (string, string, error) {
	target := xferDir + "/" + name
	host := filepath.Join(c.xfer, name)
	backup := append([]string{"mariabackup", "--backup", "--target-dir=" + target}, c.loginArgs()...)
	if err := tool(ctx, n, backup...); err != nil {
		_ = os.RemoveAll(host)
		return "", "", err
	}
	if err := tool(ctx, n, "mariabackup", "--prepare", "--target-dir="+target); err != nil {
		_ = os.RemoveAll(host)
		return "", "", err
	}
	gtid, err := readBinlogInfo(host)
	if err != nil {
		_ = os.RemoveAll(host)
		return "", "", err
	}
	return host, gtid, nil
}

// backupHot is the mariabackup method.
func (c *cluster) backupHot(ctx context.Context, src *node, dir string) (drivers.Backup, error) {
	host, gtid, err := c.hotCopy(ctx, src, "backup-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err != nil {
		return drivers.Backup{}, err
	}
	data := filepath.Join(dir, backupData)
	if err := moveTree(ctx, host, data); err != nil {
		return drivers.Backup{}, err
	}
	size, err := treeSize(data)
	if err != nil {
		return drivers.Backup{}, err
	}
	return drivers.Backup{Path: dir, Bytes: size, Meta: map[string]string{metaGTID: gtid}}, nil
}

// backupDump is the dump method.
func (c *cluster) backupDump(ctx context.Context, src *node, dir string) (drivers.Backup, error) {
	name := "dump-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ".sql"
	host := filepath.Join(c.xfer, name)
	dump := append([]string{"mariadb-dump"}, c.loginArgs()...)
	dump = append(dump, "--single-transaction", "--gtid", "--master-data=2", "--hex-blob",
		"--result-file="+xferDir+"/"+name, "evalrun", "kv")
	if err := tool(ctx, src, dump...); err != nil {
		_ = os.Remove(host)
		return drivers.Backup{}, err
	}
	file := filepath.Join(dir, backupDump)
	if err := moveTree(ctx, host, file); err != nil {
		return drivers.Backup{}, err
	}
	gtid, err := readDumpGTID(file)
	if err != nil {
		return drivers.Backup{}, err
	}
	st, err := os.Stat(file)
	if err != nil {
		return drivers.Backup{}, err
	}
	return drivers.Backup{Path: dir, Bytes: st.Size(), Meta: map[string]string{metaGTID: gtid}}, nil
}

// backupCold is the cold method: src stops, its data directory is copied,
// it starts again and catches up with primary.
func (c *cluster) backupCold(ctx context.Context, src *node, dir string, primary *node) (drivers.Backup, error) {
	if err := execAdmin(ctx, src, "STOP SLAVE"); err != nil {
		return drivers.Backup{}, err
	}
	gtid, _, err := gtidNow(ctx, src, "gtid_slave_pos")
	if err != nil {
		return drivers.Backup{}, errors.Join(err, c.restartReplica(ctx, src, primary))
	}
	t0 := time.Now()
	c.SetState(src, driverkit.StateDown) // reads go elsewhere meanwhile
	if err := src.DN.Stop(ctx, stopGrace); err != nil {
		return drivers.Backup{}, errors.Join(err, c.restartReplica(ctx, src, primary))
	}
	data := filepath.Join(dir, backupData)
	size, copyErr := copyTree(ctx, src.data, data)
	copied := time.Since(t0)
	if err := errors.Join(copyErr, c.restartReplica(ctx, src, primary)); err != nil {
		return drivers.Backup{}, err
	}
	c.Logf("mariadb: cold copy of %s: down %s (stop and copy), caught up %s later", src.Name,
		copied.Round(time.Millisecond), (time.Since(t0) - copied).Round(time.Millisecond))
	return drivers.Backup{Path: dir, Bytes: size, Meta: map[string]string{metaGTID: gtid,
		"down_ms": strconv.FormatInt(copied.Milliseconds(), 10)}}, nil
}

// backupSnapshot is the snapshot method: src, running, is frozen while its
// data directory is copied, then thawed.
func (c *cluster) backupSnapshot(ctx context.Context, src *node, dir string) (drivers.Backup, error) {
	gtid, _, err := gtidNow(ctx, src, "gtid_binlog_pos")
	if err != nil {
		return drivers.Backup{}, err
	}
	data := filepath.Join(dir, backupData)
	var size int64
	prior := c.State(src)
	c.SetState(src, driverkit.StatePaused) // reads and gauges leave it alone meanwhile
	frozen, err := freezeFor(ctx, src.DN, func(ctx context.Context) error {
		var err error
		size, err = copyTree(ctx, src.data, data)
		return err
	}, func() { c.SetState(src, prior) })
	if err != nil {
		return drivers.Backup{}, err
	}
	c.Logf("mariadb: snapshot of %s: frozen %s (copy of %d bytes)", src.Name, frozen.Round(time.Millisecond), size)
	return drivers.Backup{Path: dir, Bytes: size, Meta: map[string]string{metaGTID: gtid,
		drivers.MetaFreezeMs: strconv.FormatInt(frozen.Milliseconds(), 10)}}, nil
}

// freezer freezes and thaws a node's processes (docker pause and unpause).
type freezer interface {
	Pause(ctx context.Context) error
	Unpause(ctx context.Context) error
}

// freezeFor freezes f, runs during (its context bounded by freezeLimit)
// and thaws f whatever happened: when during fails, when ctx ends, when
// the freeze itself failed (it may have frozen part of the node). The
// thaw runs on a context of its own (thawTimeout), so that a cancelled ctx
// cannot leave f frozen; thawed runs once f is thawed. It returns how long
// f was frozen, from the freeze's start to the thaw's end.
func freezeFor(ctx context.Context, f freezer, during func(ctx context.Context) error, thawed func()) (frozen time.Duration, err error) {
	t0 := time.Now()
	defer func() {
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), thawTimeout)
		defer cancel()
		terr := f.Unpause(tctx)
		frozen = time.Since(t0)
		if terr != nil {
			err = errors.Join(err, fmt.Errorf("the thaw failed, the node may still be frozen (resume it): %w", terr))
			return
		}
		thawed()
	}()
	if err := f.Pause(ctx); err != nil {
		return 0, err
	}
	dctx, cancel := context.WithTimeout(ctx, freezeLimit)
	defer cancel()
	if err := during(dctx); err != nil {
		return 0, err
	}
	return 0, ctx.Err()
}

// restartReplica starts replica r again (if it is not running), resumes
// its replication and waits until it has applied what primary has logged.
func (c *cluster) restartReplica(ctx context.Context, r, primary *node) error {
	if err := r.DN.Start(ctx); err != nil {
		return err
	}
	c.SetState(r, driverkit.StateUp)
	if err := execAdmin(ctx, r, "START SLAVE"); err != nil {
		return err
	}
	text, _, err := gtidNow(ctx, primary, "gtid_binlog_pos")
	if err != nil {
		return err
	}
	return waitApplied(ctx, r, text, backupApplyTimeout)
}

// readBinlogInfo reads the GTID position from the binlog info file of a
// mariabackup directory.
func readBinlogInfo(dir string) (string, error) {
	for _, name := range []string{"mariadb_backup_binlog_info", "xtrabackup_binlog_info"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		return parseBinlogInfo(string(b))
	}
	return "", fmt.Errorf("%s: no binlog info file (mariadb_backup_binlog_info or xtrabackup_binlog_info): was the binary log on?", dir)
}

// parseBinlogInfo reads mariabackup's binlog info: "FILE\tPOSITION\tGTID"
// (the GTID position may be empty on a server that logged nothing).
func parseBinlogInfo(text string) (string, error) {
	f := strings.Split(strings.TrimRight(text, "\r\n"), "\t")
	if len(f) < 2 || len(f) > 3 || f[0] == "" || strings.Contains(text, "\n\n") {
		return "", fmt.Errorf("binlog info %q: want FILE<TAB>POSITION<TAB>GTID", text)
	}
	if _, err := strconv.ParseUint(f[1], 10, 64); err != nil {
		return "", fmt.Errorf("binlog info %q: position %q is not a number", text, f[1])
	}
	gtid := ""
	if len(f) == 3 {
		gtid = f[2]
	}
	if _, err := parseGTIDPos(gtid); err != nil {
		return "", fmt.Errorf("binlog info %q: %w", text, err)
	}
	return gtid, nil
}

// dumpGTIDEnd is how much of a dump's end readDumpGTID reads (mariadb-dump
// 10.11 writes the position after the data).
const dumpGTIDEnd = 16 << 10

// readDumpGTID finds the GTID position in a dump's first and last lines.
func readDumpGTID(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, dumpGTIDEnd)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", err
	}
	text := string(head[:n])
	if st, err := f.Stat(); err == nil && st.Size() > int64(n) {
		tail := make([]byte, dumpGTIDEnd)
		m, err := f.ReadAt(tail, max(int64(n), st.Size()-dumpGTIDEnd))
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		text += "\n" + string(tail[:m])
	}
	gtid, err := parseDumpGTID(text)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return gtid, nil
}

// parseDumpGTID finds what mariadb-dump --gtid --master-data=2 writes:
// "-- SET GLOBAL gtid_slave_pos='0-1-42';" (commented out at level 2).
func parseDumpGTID(text string) (string, error) {
	const prefix = "SET GLOBAL gtid_slave_pos='"
	found, gtid := 0, ""
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "--"))
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		v, ok := strings.CutSuffix(rest, "';")
		if !ok {
			return "", fmt.Errorf("dump: malformed line %q", line)
		}
		found++
		gtid = v
	}
	switch {
	case found == 0:
		return "", errors.New("dump: no \"SET GLOBAL gtid_slave_pos\" line (was it taken with --gtid --master-data?)")
	case found > 1:
		return "", fmt.Errorf("dump: %d gtid_slave_pos lines", found)
	}
	if _, err := parseGTIDPos(gtid); err != nil {
		return "", fmt.Errorf("dump: %w", err)
	}
	return gtid, nil
}

// Restore implements drivers.BackupRestorer (see the comment above).
func (c *cluster) Restore(ctx context.Context, b drivers.Backup, spec drivers.ClusterSpec) (drivers.Cluster, error) {
	if err := driverkit.CheckDocker(driverName, spec.Provider); err != nil {
		return nil, err
	}
	opts, err := parseOptions(spec.Options)
	if err != nil {
		return nil, err
	}
	if _, err := topology(spec.Nodes, opts); err != nil {
		return nil, err
	}
	method := b.Meta[drivers.MetaMethod]
	switch method {
	case methodMariabackup, methodCold, methodDump, methodSnapshot:
	default:
		return nil, fmt.Errorf("mariadb: restore: backup %s has method %q, not one of %s", b.Path, method, strings.Join(c.BackupMethods(), ", "))
	}
	t0 := time.Now()
	nc, err := open(ctx, spec, opts)
	if err != nil {
		return nil, err
	}
	nc.password = c.password
	if method == methodDump {
		err = nc.form(ctx, spec.Nodes)
		if err == nil {
			err = nc.loadDump(ctx, filepath.Join(b.Path, backupDump))
		}
	} else {
		err = nc.formFrom(ctx, spec.Nodes, filepath.Join(b.Path, backupData), b.Meta[metaGTID], method != methodSnapshot)
	}
	if err == nil {
		err = nc.waitSettled(ctx, formTimeout)
	}
	if err != nil {
		nc.CloseAfterFailure(ctx)
		return nil, fmt.Errorf("mariadb: restore (%s): %w", method, err)
	}
	recovery := ""
	if method == methodSnapshot {
		recovery = " (InnoDB's crash recovery of the frozen copy included)"
	}
	nc.Logf("mariadb: restored a %s backup into %d nodes in %s%s", method, spec.Nodes, time.Since(t0).Round(time.Millisecond), recovery)
	return nc, nil
}

// loadDump loads a dump into the primary with the mariadb client; the
// replicas get it through replication.
func (c *cluster) loadDump(ctx context.Context, path string) error {
	name := "restore-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ".sql"
	if _, err := copyFile(path, filepath.Join(c.xfer, name)); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(c.xfer, name))
	primary, err := c.livePrimary()
	if err != nil {
		return err
	}
	load := append([]string{"mariadb"}, c.loginArgs()...)
	load = append(load, "--database=evalrun", "--execute=source "+xferDir+"/"+name)
	return tool(ctx, primary, load...)
}

// formFrom starts n servers on copies of the data directory snapshot,
// node1 the primary and the others its replicas from GTID position gtid.
// When the position is not exact (a snapshot's is a lower bound), the
// replicas start from what the copies hold after crash recovery
// (launchRecovered).
func (c *cluster) formFrom(ctx context.Context, n int, snapshot, gtid string, exact bool) error {
	ns, err := c.reserveNodes(n)
	if err != nil {
		return err
	}
	t0 := time.Now()
	for _, nd := range ns {
		if err := seedDataDir(ctx, snapshot, filepath.Join(c.workDir, nd.Name)); err != nil {
			return err
		}
	}
	c.Logf("mariadb: %d data directories copied from the backup in %s", n, time.Since(t0).Round(time.Millisecond))
	primary, replicas := ns[0], ns[1:]
	if exact {
		err = c.launchFrom(ctx, ns, replicas, gtid)
	} else {
		gtid, err = c.launchRecovered(ctx, ns, gtid)
	}
	if err != nil {
		return err
	}
	binlog, _, err := gtidNow(ctx, primary, "gtid_binlog_pos")
	if err != nil {
		return err
	}
	if binlog == "" && gtid != "" {
		// a physical copy has no binary log: continue the backup's history
		if err := execAdmin(ctx, primary, "RESET MASTER"); err != nil {
			return err
		}
		if err := execAdmin(ctx, primary, "SET GLOBAL gtid_binlog_state = ?", gtid); err != nil {
			return err
		}
	}
	return c.startReplication(ctx, ns)
}

// launchRecovered starts the nodes ns on copies of a crash image (a
// snapshot), whose position is at least least, and returns the position
// they hold. Every server's crash recovery runs with its binary log, as
// after a crash (a prepared transaction is committed when the binary log
// has it, else rolled back), so the identical copies recover identically:
// each one's gtid_binlog_pos must be the same, past least. (A replica's
// position cannot be written before it starts, as launchFrom does: the
// init file runs in bootstrap mode, without the binary log that recovery
// of a prepared transaction needs.) The replicas then take that position
// as their gtid_slave_pos.
func (c *cluster) launchRecovered(ctx context.Context, ns []*node, least string) (string, error) {
	want, err := parseGTIDPos(least)
	if err != nil {
		return "", fmt.Errorf("the snapshot's position: %w", err)
	}
	t0 := time.Now()
	if err := driverkit.Launch(ctx, ns, c.launch); err != nil {
		return "", err
	}
	held, pos, err := gtidNow(ctx, ns[0], "gtid_binlog_pos")
	if err != nil {
		return "", err
	}
	if !pos.reached(want) {
		return "", fmt.Errorf("%s holds GTID %q after crash recovery, short of the snapshot's %q", ns[0].Name, held, least)
	}
	for _, r := range ns[1:] {
		got, _, err := gtidNow(ctx, r, "gtid_binlog_pos")
		if err != nil {
			return "", err
		}
		if got != held {
			return "", fmt.Errorf("%s recovered the snapshot to GTID %q, %s to %q: the copies differ", r.Name, got, ns[0].Name, held)
		}
		// gtid_slave_pos is a table: writing it needs read_only's bypass
		if err := execRole(ctx, r, "SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_binlog_pos"); err != nil {
			return "", err
		}
	}
	c.Logf("mariadb: %d servers started on the snapshot (InnoDB crash recovery) in %s, at GTID %s (the snapshot read %s before the freeze)",
		len(ns), time.Since(t0).Round(time.Millisecond), held, least)
	return held, nil
}

// launchFrom starts the nodes ns, of which replicas start replicating
// from GTID position gtid.
func (c *cluster) launchFrom(ctx context.Context, ns, replicas []*node, gtid string) error {
	for _, r := range replicas {
		if err := writeSlavePos(filepath.Join(c.workDir, r.Name), gtid); err != nil {
			return err
		}
	}
	return driverkit.Launch(ctx, ns, c.launch)
}

// initFile holds statements the entrypoint runs once, in bootstrap mode,
// before the server starts (see entrypoint.sh).
const initFile = "evalrun-init.sql"

// writeSlavePos makes the data directory dir start with gtid_slave_pos at
// gtid (a replica then replicates from there): rows of
// mysql.gtid_slave_pos, written before the server runs, because a replica's
// read_only refuses SET GLOBAL gtid_slave_pos to the harness's account.
func writeSlavePos(dir, gtid string) error {
	stmts, err := slavePosSQL(gtid)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, initFile), []byte(stmts), 0o644)
}

// slavePosSQL is the statements that set mysql.gtid_slave_pos to gtid
// ("0-1-42,1-3-7"; "" empties it).
func slavePosSQL(gtid string) (string, error) {
	gs, err := parseGTIDs(gtid)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("DELETE FROM mysql.gtid_slave_pos;\n")
	for sub, g := range gs {
		fmt.Fprintf(&b, "INSERT INTO mysql.gtid_slave_pos (domain_id, sub_id, server_id, seq_no) VALUES (%d, %d, %d, %d);\n", g.domain, sub+1, g.server, g.seq)
	}
	return b.String(), nil
}

// replicaState are the files of a data directory that make it a replica
// of some primary: a copy that starts a node of its own leaves them out.
func replicaState(name string) bool {
	switch name {
	case "master.info", "relay-log.info", "multi-master.info", "mysqld.pid", "mysqld.sock", "mysqld.sock.lock", rplRoleFile:
		return true
	}
	return strings.Contains(name, "-relay-bin.")
}

// seedDataDir makes dst (absent or empty) a node's data directory from a
// backup's: a copy without replica state, marked initialised so that the
// entrypoint keeps it.
func seedDataDir(ctx context.Context, snapshot, dst string) error {
	if _, err := copyTree(ctx, snapshot, dst); err != nil {
		return err
	}
	return prepareDataDir(dst)
}

// prepareDataDir removes replica state from a data directory made from a
// backup and marks it initialised.
func prepareDataDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() && replicaState(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(filepath.Join(dir, "evalrun-initialised"), nil, 0o644)
}

// moveTree moves a file or directory, copying it when a rename cannot.
func moveTree(ctx context.Context, from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	if err := os.Rename(from, to); err == nil {
		return nil
	}
	if _, err := copyTree(ctx, from, to); err != nil {
		return err
	}
	return os.RemoveAll(from)
}

// copyTree copies a file or a directory tree (regular files and
// directories, modes kept) and returns the bytes copied; it stops between
// files when ctx ends. (io.Copy between files is copy_file_range(2): the
// kernel copies, and clones where the file system can.)
func copyTree(ctx context.Context, from, to string) (int64, error) {
	var total int64
	err := filepath.WalkDir(from, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		info, err := de.Info()
		if err != nil {
			return err
		}
		switch {
		case de.IsDir():
			return os.MkdirAll(dst, info.Mode().Perm()|0o700)
		case info.Mode().IsRegular():
			n, err := copyFile(p, dst)
			total += n
			return err
		}
		return nil // sockets and the like: not data
	})
	if err != nil {
		return total, fmt.Errorf("copying %s: %w", from, err)
	}
	return total, nil
}

// copyFile copies one regular file, keeping its mode.
func copyFile(from, to string) (int64, error) {
	in, err := os.Open(from)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return 0, err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// treeSize is the bytes of the regular files under dir.
func treeSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.Type().IsRegular() {
			info, err := de.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	return total, err
}
