package redis

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	dc "github.com/ory/dockertest/v3/docker"
	goredis "github.com/redis/go-redis/v9"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/docker"
	"github.com/evalrun/evalrun/internal/driverkit"
)

// Backup bounds.
const (
	bgsaveTimeout   = 5 * time.Minute
	downloadTimeout = 5 * time.Minute
	manifestName    = "manifest.json"
	manifestFormat  = "evalrun-redis-backup/v1"
)

// manifest describes a backup: one RDB file per master and the slots that
// master served when the backup was taken.
type manifest struct {
	Format        string           `json:"format"`
	RunID         string           `json:"run_id"`
	Image         string           `json:"image"`
	DBVersion     string           `json:"db_version,omitempty"`
	Replicas      int              `json:"replicas"`
	NodeTimeoutMs int              `json:"cluster_node_timeout_ms"`
	TakenAt       time.Time        `json:"taken_at"`
	Masters       []manifestMaster `json:"masters"`
}

type manifestMaster struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	ID    string `json:"id"`
	File  string `json:"file"`
	Bytes int64  `json:"bytes"`
	Keys  int64  `json:"keys"`
	Slots string `json:"slots"` // "0-5460 5462"
}

func formatRanges(rs []slotRange) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, " ")
}

func parseRanges(s string) ([]slotRange, error) {
	var out []slotRange
	for _, f := range strings.Fields(s) {
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("bad slot range %q", f)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("bad slot range %q", f)
			}
		}
		if a < 0 || b < a || b >= numSlots {
			return nil, fmt.Errorf("bad slot range %q", f)
		}
		out = append(out, slotRange{a, b})
	}
	return out, nil
}

// Backup implements drivers.BackupRestorer: every master takes a BGSAVE
// (forked after this call, so it holds every write acknowledged before
// it), and its dump.rdb is copied out of the container to dir/node<i>.rdb
// with a manifest of the slots each master served.
func (c *cluster) Backup(ctx context.Context, dir string) (drivers.Backup, error) {
	return driverkit.Exclusive(ctx, c.Base, "backup", func(ctx context.Context) (drivers.Backup, error) { return c.backup(ctx, dir) })
}

func (c *cluster) backup(ctx context.Context, dir string) (drivers.Backup, error) {
	t0 := time.Now()
	masters, err := c.currentMasters(ctx)
	if err != nil {
		return drivers.Backup{}, fmt.Errorf("redis: backup: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return drivers.Backup{}, fmt.Errorf("redis: backup: %w", err)
	}
	info, _ := c.Info(ctx)
	m := manifest{Format: manifestFormat, RunID: c.RunID, Image: c.Image, DBVersion: info.DBVersion,
		Replicas: c.opts.replicas, NodeTimeoutMs: c.opts.nodeTimeoutMs, TakenAt: time.Now().UTC()}
	m.Masters = make([]manifestMaster, len(masters))
	errs := make([]error, len(masters))
	var wg sync.WaitGroup
	for i, mm := range masters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.Masters[i], errs[i] = c.backupMaster(ctx, mm.node, mm.slots, dir)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return drivers.Backup{}, fmt.Errorf("redis: backup: %w", err)
	}
	var total, keys int64
	files := make([]string, len(m.Masters))
	for i, mm := range m.Masters {
		total += mm.Bytes
		keys += mm.Keys
		files[i] = mm.File
	}
	data, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, manifestName), append(data, '\n'), 0o644); err != nil {
		return drivers.Backup{}, fmt.Errorf("redis: backup: %w", err)
	}
	c.Logf("redis: backup of %d masters (%d keys, %d bytes) in %s", len(masters), keys, total, time.Since(t0).Round(time.Millisecond))
	return drivers.Backup{Path: dir, Bytes: total, Meta: map[string]string{
		"masters": strconv.Itoa(len(masters)), "files": strings.Join(files, ","), "keys": strconv.FormatInt(keys, 10),
		"manifest": manifestName,
	}}, nil
}

type masterSlots struct {
	node  *node
	slots []slotRange
}

// currentMasters returns the live masters with their slots (each as it
// sees itself) and checks that they cover every slot.
func (c *cluster) currentMasters(ctx context.Context) ([]masterSlots, error) {
	var out []masterSlots
	covered := 0
	for _, n := range c.Live() {
		view, err := c.clusterNodes(ctx, n)
		if err != nil {
			return nil, err
		}
		for _, l := range view {
			if l.myself() && l.master() && len(l.slots) > 0 {
				out = append(out, masterSlots{node: n, slots: l.slots})
				covered += l.slotCount()
			}
		}
	}
	if covered != numSlots {
		return nil, fmt.Errorf("the live masters serve %d slots of %d (a master is down or slots are moving)", covered, numSlots)
	}
	return out, nil
}

// backupMaster saves one master and copies its RDB file to dir.
func (c *cluster) backupMaster(ctx context.Context, n *node, slots []slotRange, dir string) (manifestMaster, error) {
	mm := manifestMaster{Index: n.Index, Name: n.Name, ID: n.id, File: n.Name + ".rdb", Slots: formatRanges(slots)}
	keys, err := c.bgsave(ctx, n)
	if err != nil {
		return mm, fmt.Errorf("%s: %w", n.Name, err)
	}
	mm.Keys = keys
	size, err := c.download(ctx, n, "/data/dump.rdb", filepath.Join(dir, mm.File))
	if err != nil {
		return mm, fmt.Errorf("%s: %w", n.Name, err)
	}
	mm.Bytes = size
	return mm, nil
}

// bgsave starts a BGSAVE on n (scheduled after a fork in progress, if
// any) and waits until a save that started after the call has finished.
// It returns the key count at the start.
func (c *cluster) bgsave(ctx context.Context, n *node) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, bgsaveTimeout)
	defer cancel()
	cl := adminClient(n)
	defer cl.Close()
	persistence := func() (map[string]string, error) {
		octx, ocancel := context.WithTimeout(ctx, adminTimeout)
		defer ocancel()
		s, err := cl.Info(octx, "persistence").Result()
		if err != nil {
			return nil, err
		}
		return parseInfo(s), nil
	}
	before, err := persistence()
	if err != nil {
		return 0, fmt.Errorf("INFO persistence: %w", err)
	}
	// rdb_saves (Redis >= 7.0) counts the saves started; else LASTSAVE.
	savesBefore, useSaves := atoi64(before["rdb_saves"])
	lastBefore, _ := atoi64(before["rdb_last_save_time"])
	octx, ocancel := context.WithTimeout(ctx, adminTimeout)
	keys, _ := cl.DBSize(octx).Result()
	reply, err := cl.Do(octx, "BGSAVE", "SCHEDULE").Text()
	ocancel()
	if err != nil {
		return 0, fmt.Errorf("BGSAVE: %w", err)
	}
	if !useSaves && lastBefore >= time.Now().Unix()-1 {
		// LASTSAVE has one-second resolution: make sure ours differs.
		_ = sleepCtx(ctx, time.Second)
	}
	for i := 0; ; i++ {
		p, err := persistence()
		if err == nil {
			saves, _ := atoi64(p["rdb_saves"])
			last, _ := atoi64(p["rdb_last_save_time"])
			started := saves > savesBefore
			if !useSaves {
				started = last > lastBefore
			}
			if started && p["rdb_bgsave_in_progress"] == "0" {
				if st := p["rdb_last_bgsave_status"]; st != "ok" {
					return 0, fmt.Errorf("BGSAVE (%s) ended with status %s", reply, st)
				}
				return keys, nil
			}
		}
		if err := sleepCtx(ctx, time.Duration(min(50*(i+1), 500))*time.Millisecond); err != nil {
			return 0, fmt.Errorf("BGSAVE (%s) not finished: %w", reply, err)
		}
	}
}

func atoi64(s string) (int64, bool) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return v, err == nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// download copies one regular file out of n's container to dst (Docker's
// archive API streams it as a tar) and returns its size.
func (c *cluster) download(ctx context.Context, n *node, src, dst string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, downloadTimeout)
	defer cancel()
	pr, pw := io.Pipe()
	go func() {
		err := c.Engine.Client().DownloadFromContainer(n.DN.ContainerID(), dc.DownloadFromContainerOptions{
			Path: src, OutputStream: pw, Context: ctx, InactivityTimeout: time.Minute,
		})
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	tr := tar.NewReader(pr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("copy %s: the archive holds no file", src)
		}
		if err != nil {
			return 0, fmt.Errorf("copy %s: %w", src, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		f, err := os.Create(dst)
		if err != nil {
			return 0, err
		}
		size, err := io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, fmt.Errorf("copy %s: %w", src, err)
		}
		return size, nil
	}
}

// readManifest reads and checks a backup's manifest.
func readManifest(b drivers.Backup) (manifest, error) {
	var m manifest
	data, err := os.ReadFile(filepath.Join(b.Path, manifestName))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("%s: %w", manifestName, err)
	}
	if m.Format != manifestFormat {
		return m, fmt.Errorf("%s: format %q, want %q", manifestName, m.Format, manifestFormat)
	}
	if len(m.Masters) == 0 {
		return m, fmt.Errorf("%s: no masters", manifestName)
	}
	seen := map[int]bool{}
	for _, mm := range m.Masters {
		rs, err := parseRanges(mm.Slots)
		if err != nil {
			return m, fmt.Errorf("%s: %s: %w", manifestName, mm.Name, err)
		}
		for _, r := range rs {
			for s := r.lo; s <= r.hi; s++ {
				if seen[s] {
					return m, fmt.Errorf("%s: slot %d is in two masters", manifestName, s)
				}
				seen[s] = true
			}
		}
		if mm.File == "" || strings.ContainsAny(mm.File, "/\\") {
			return m, fmt.Errorf("%s: %s: bad file name %q", manifestName, mm.Name, mm.File)
		}
	}
	if len(seen) != numSlots {
		return m, fmt.Errorf("%s: the masters cover %d slots of %d", manifestName, len(seen), numSlots)
	}
	sort.Slice(m.Masters, func(i, j int) bool { return m.Masters[i].Index < m.Masters[j].Index })
	return m, nil
}

// Restore implements drivers.BackupRestorer: a fresh cluster (run id
// spec.RunID, or <this run>-restore[-N] when that is this cluster's) with
// one master per saved master, each starting from its RDB file (copied into
// /data before Redis starts, appendonly off while loading) and given the
// same slots with CLUSTER ADDSLOTSRANGE and CLUSTER MEET (redis-cli
// --cluster create refuses nodes that hold data), then replicas (option
// "replicas" of spec). It returns once every node reports cluster_state:ok.
func (c *cluster) Restore(ctx context.Context, b drivers.Backup, spec drivers.ClusterSpec) (drivers.Cluster, error) {
	t0 := time.Now()
	m, err := readManifest(b)
	if err != nil {
		return nil, fmt.Errorf("redis: restore %s: %w", b.Path, err)
	}
	opts, err := parseOptions(spec.Options)
	if err != nil {
		return nil, err
	}
	if spec.Logf == nil {
		spec.Logf = c.Logf
	}
	if spec.Image == "" {
		spec.Image = c.Image
	}
	spec.Swept = true // the source cluster's connection swept already
	c.mu.Lock()
	c.restores++
	k := c.restores
	c.mu.Unlock()
	if spec.RunID == "" || docker.RunIDFrom(spec.RunID, "redis") == c.RunID {
		spec.RunID = c.RunID + "-restore"
		if k > 1 {
			spec.RunID += "-" + strconv.Itoa(k)
		}
	}
	nc, err := open(ctx, spec, opts)
	if err != nil {
		return nil, err
	}
	if err := nc.restoreFrom(ctx, b.Path, m); err != nil {
		nc.CloseAfterFailure(ctx)
		return nil, fmt.Errorf("redis: restore: %w", err)
	}
	spec.Logf("redis: restored %d masters from %s into run %s in %s", len(m.Masters), b.Path, nc.RunID, time.Since(t0).Round(time.Millisecond))
	return nc, nil
}

// restoreFrom starts the nodes of a restored cluster and assembles it.
func (c *cluster) restoreFrom(ctx context.Context, dir string, m manifest) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	files := make([]string, len(m.Masters)*(1+c.opts.replicas)) // masters first, then empty replicas
	for i, mm := range m.Masters {
		files[i] = filepath.Join(abs, mm.File)
		if _, err := os.Stat(files[i]); err != nil {
			return err
		}
	}
	ns, err := c.startNodes(ctx, files)
	if err != nil {
		return err
	}
	layout := make([]masterLayout, len(m.Masters))
	for i, mm := range m.Masters {
		rs, _ := parseRanges(mm.Slots)
		layout[i] = masterLayout{node: ns[i], slots: rs}
		for r := 0; r < c.opts.replicas; r++ {
			layout[i].replicas = append(layout[i].replicas, ns[len(m.Masters)+i*c.opts.replicas+r])
		}
	}
	if err := c.assemble(ctx, layout); err != nil {
		return err
	}
	if err := c.waitFormed(ctx, formTimeout); err != nil {
		return err
	}
	if c.opts.appendOnly {
		for _, n := range c.Live() {
			err := c.withAdmin(ctx, n, func(ctx context.Context, cl *goredis.Client) error {
				return cl.ConfigSet(ctx, "appendonly", "yes").Err()
			})
			if err != nil {
				return fmt.Errorf("%s: CONFIG SET appendonly yes: %w", n.Name, err)
			}
		}
	}
	return nil
}
