package mariadb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/driverkit"
	"github.com/evalrun/evalrun/internal/drivertest"
)

// TestBackupsAndMembership runs one cluster of 3 under a steady writer
// through each backup method (taken under the writes, a snapshot's
// freeze measured and undone, restored into a
// fresh cluster of 3 and read back: every write acknowledged before the
// backup began must be there, on every node), then add-node (a replica
// cloned from a hot backup, caught up, holding the data) and remove-node
// of a replica; the primary cannot be removed. The writer's keys are
// written in order by one goroutine and none may fail, so "acknowledged
// before the backup" is the first acked keys.
func TestBackupsAndMembership(t *testing.T) {
	runID := needDocker(t)
	t.Parallel()
	c := startTestCluster(t, runID, 3, nil)
	cli := drivertest.NewClient(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	w := startWriter(ctx, cli, "bk", 5*time.Millisecond, 1_000_000)
	time.Sleep(time.Second)
	for _, method := range c.BackupMethods() {
		if !t.Run(method, func(t *testing.T) { testBackupMethod(t, c, w, runID, method) }) {
			break
		}
	}
	t.Run("add-node", func(t *testing.T) { testAddNode(t, c, w) })
	t.Run("remove-node", func(t *testing.T) { testRemoveNode(t, c) })
	acked, failed, last := w.finish()
	t.Logf("writer: %d writes acknowledged, %d failed", acked, failed)
	if failed > 0 || acked == 0 {
		t.Errorf("writes during backups and membership changes: %d acknowledged, %d failed (last: %v)", acked, failed, last)
	}
}

// ackedNow is how many of the writer's keys are acknowledged now.
func (w *writer) ackedNow() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked
}

func testBackupMethod(t *testing.T, c *cluster, w *writer, runID, method string) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	before := w.ackedNow()
	dir := t.TempDir()
	t0 := time.Now()
	b, err := c.BackupWith(ctx, dir, method)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	during := w.ackedNow() - before
	t.Logf("%s: %d bytes in %s (%d writes acknowledged meanwhile); meta %v", method, b.Bytes, took.Round(time.Millisecond), during, b.Meta)
	if b.Path != dir || b.Bytes <= 0 || b.Meta[drivers.MetaMethod] != method || b.Meta[drivers.MetaSource] != "node3" ||
		!strings.HasPrefix(b.Meta[drivers.MetaPosition], "GTID 0-1-") {
		t.Errorf("backup %+v: want %s from node3 at a GTID position", b, method)
	}
	if during == 0 {
		t.Errorf("no write acknowledged during the backup: it was not taken under load")
	}
	if method == methodSnapshot {
		// the freeze is measured, and undone: node3 runs and replicates again
		if ms, err := strconv.ParseInt(b.Meta[drivers.MetaFreezeMs], 10, 64); err != nil || ms <= 0 || ms > took.Milliseconds() {
			t.Errorf("freeze_ms %q (%v): want the freeze's milliseconds, within the backup's %s", b.Meta[drivers.MetaFreezeMs], err, took)
		}
		if st, err := mustNode(t, c, 3).DN.State(ctx); err != nil || !st.Running || st.Paused {
			t.Errorf("node3's container after the snapshot: %+v, %v; want running, not paused", st, err)
		}
	}
	if c.State(mustNode(t, c, 3)) != driverkit.StateUp {
		t.Errorf("node3 is %s after the backup", c.State(mustNode(t, c, 3)))
	}

	t0 = time.Now()
	rc, err := c.Restore(ctx, b, drivers.ClusterSpec{Provider: drivers.ProviderDocker, Nodes: 3,
		RunID: runID + "-" + method, WorkDir: t.TempDir(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer drivertest.CloseCluster(t, rc)
	r := rc.(*cluster)
	t.Logf("%s: restored in %s", method, time.Since(t0).Round(time.Millisecond))
	roles, err := r.NodeRoles(ctx)
	if err != nil || fmt.Sprint(roles[rolePrimary]) != "[1]" || fmt.Sprint(roles[roleReplica]) != "[2 3]" {
		t.Errorf("restored roles %v, %v", roles, err)
	}
	// a write on the restored primary reaches its replicas
	rcli := drivertest.NewClient(t, rc)
	drivertest.PutEventually(t, rcli, "after-restore", []byte("v"), 10*time.Second)
	drivertest.WaitSettled(t, r, 30*time.Second)
	for _, n := range r.Members() {
		got := countKeys(ctx, t, n, "bk/%")
		missing := 0
		if got < before {
			missing = before - got
		}
		t.Logf("%s: %s holds %d bk keys (%d acknowledged before the backup)", method, n.Name, got, before)
		if missing > 0 {
			t.Errorf("%s: %s holds %d bk keys, %d acknowledged before the backup", method, n.Name, got, before)
		}
	}
	// the values, through the client, on the primary
	for i := 0; i < before; i += max(1, before/200) {
		v, err := rcli.Get(ctx, "bk/"+strconv.Itoa(i))
		if want := "value-" + strconv.Itoa(i); err != nil || string(v) != want {
			t.Fatalf("restored bk/%d = %q, %v; want %q", i, v, err, want)
		}
	}
	if method == methodMariabackup || method == methodSnapshot {
		// the restored cluster continues the source's GTID history
		_, pos, err := gtidNow(ctx, mustNode(t, r, 1), "gtid_binlog_pos")
		src, _ := parseGTIDPos(b.Meta[metaGTID])
		if err != nil || !pos.reached(src) {
			t.Errorf("restored primary's gtid_binlog_pos %v (%v): want past the backup's %v", pos, err, src)
		}
	}
}

func mustNode(t *testing.T, c *cluster, index int) *node {
	t.Helper()
	n, err := c.Node(index)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// countKeys counts n's kv rows whose key is LIKE pattern.
func countKeys(ctx context.Context, t *testing.T, n *node, pattern string) int {
	t.Helper()
	var count int
	if err := n.admin.QueryRowContext(ctx, "SELECT COUNT(*) FROM evalrun.kv WHERE k LIKE ?", pattern).Scan(&count); err != nil {
		t.Fatalf("%s: %v", n.Name, err)
	}
	return count
}

// add-node clones node4 from a hot backup of node3 and returns once it is
// caught up: it is a replica, in Info, the gauges and the clients' pools,
// and holds what was acknowledged before it was added.
func testAddNode(t *testing.T, c *cluster, w *writer) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	before := w.ackedNow()
	t0 := time.Now()
	idx, err := c.AddNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("add-node: node%d cloned and caught up in %s", idx, time.Since(t0).Round(time.Millisecond))
	if idx != 4 {
		t.Errorf("added node %d, want 4", idx)
	}
	roles, err := c.NodeRoles(ctx)
	if err != nil || fmt.Sprint(roles[rolePrimary]) != "[1]" || fmt.Sprint(roles[roleReplica]) != "[2 3 4]" {
		t.Errorf("roles %v, %v", roles, err)
	}
	info, err := c.Info(ctx)
	if err != nil || len(info.Nodes) != 4 || !info.Nodes[3].Up || info.Nodes[3].Name != "node4" {
		t.Errorf("info %+v, %v", info, err)
	}
	if lag, ok := gaugeOf(ctx, t, c, "lag_s.node4"); !ok || lag > 1 {
		t.Errorf("lag_s.node4 = %v (reported: %v), want under 1 s", lag, ok)
	}
	n4 := mustNode(t, c, 4)
	if got := countKeys(ctx, t, n4, "bk/%"); got < before {
		t.Errorf("node4 holds %d bk keys, %d were acknowledged before it was added", got, before)
	}
	st, err := showSlaveStatus(ctx, n4)
	if err != nil || !st.running() || st["Using_Gtid"] != "Slave_Pos" || st["Master_Host"] != "node1" {
		t.Errorf("node4 replication: %v, %v", st.why(), err)
	}
	// reads reach the new replica through the clients opened before it
	rc := newClient(map[int]string{}, c.password, readOpts(readReplicas), fixedRoute{primary: 1, live: []int{4}}, nil)
	defer rc.Close()
	rc.addNode(4, n4.addr(), c.password)
	if v, err := rc.Get(ctx, "bk/0"); err != nil || string(v) != "value-0" {
		t.Errorf("read of bk/0 on node4: %q, %v", v, err)
	}
	for _, cl := range c.clients.Snapshot() {
		if _, err := cl.db(4); err != nil {
			t.Errorf("a client has no pool to node4: %v", err)
		}
	}
	drivertest.WaitSettled(t, c, 30*time.Second)
}

// remove-node drops replica 2; the primary cannot be removed.
func testRemoveNode(t *testing.T, c *cluster) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := c.RemoveNode(ctx, 1); err == nil || !strings.Contains(err.Error(), "node1 is the primary") {
		t.Errorf("remove-node 1: %v, want a refusal naming the primary", err)
	}
	n2 := mustNode(t, c, 2)
	if err := c.RemoveNode(ctx, 2); err != nil {
		t.Fatal(err)
	}
	roles, err := c.NodeRoles(ctx)
	if err != nil || fmt.Sprint(roles[rolePrimary]) != "[1]" || fmt.Sprint(roles[roleReplica]) != "[3 4]" {
		t.Errorf("roles after removing node2: %v, %v", roles, err)
	}
	if _, err := c.Node(2); err == nil {
		t.Errorf("node2 is still a member")
	}
	if st, err := n2.DN.State(ctx); err == nil {
		t.Errorf("node2's container is still there: %+v", st)
	}
	if _, ok := gaugeOf(ctx, t, c, "lag_s.node2"); ok {
		t.Errorf("a gauge for the removed node2")
	}
	if _, err := os.Stat(filepath.Join(c.workDir, "node2")); err != nil {
		t.Errorf("node2's data directory: %v (it stays in the work directory)", err)
	}
	drivertest.WaitSettled(t, c, 30*time.Second)
}
