package riak

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
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
	"github.com/evalrun/evalrun/drivers/riak/admin"
	"github.com/evalrun/evalrun/internal/driverkit"
)

// Backups.
//
// Riak 3.2's `riak admin backup` calls a module that no longer exists
// (admin.ErrBackupUnsupported), so the driver does what operators do: a rolling
// cold backup. For each member in turn it stops the node (an orderly
// shutdown: bitcask files and the ring are closed), archives its whole data
// directory (ring, cluster metadata, backend files, and the effective
// riak.conf the entrypoint left there) into node<i>.tar.gz, starts it again
// and waits until riak_kv serves and the ring is ready before the next node.
// Only one node is down at a time, so with n_val 3 the cluster keeps
// serving under load.
//
// Restore starts a fresh cluster with the same node names (riak@node<i>) on
// the unpacked directories: the nodes find each other through the ring they
// saved and the cluster is whole again without any join.
//
// What it guarantees: every write acknowledged (w >= 1 primary or fallback
// replica) before the backup began and still held by one of the replicas
// when its node was archived is in the backup, and reads with r=quorum
// after the restore find it (notfound_ok lets one replica answer). What it
// does not: the archives are taken at different moments, so the backup is
// not a point-in-time snapshot of the cluster; writes made during the
// backup may be in some archives and not others; a replica held only by a
// fallback vnode that hands it off between two archives can be missed when
// n_val or w is 1; and a restore needs the same number of nodes with the
// same names.
const manifestFile = "manifest.json"

// manifest describes a backup.
type manifest struct {
	Format    string         `json:"format"` // "evalrun-riak-cold/1"
	Taken     time.Time      `json:"taken"`
	DBVersion string         `json:"db_version"`
	Image     string         `json:"image"`
	RingSize  int            `json:"ring_size"`
	Backend   string         `json:"backend"`
	Nodes     []manifestNode `json:"nodes"`
}

// manifestNode is one node's archive.
type manifestNode struct {
	Index   int    `json:"index"`
	Name    string `json:"name"` // riak@node1.riak
	Archive string `json:"archive"`
	Bytes   int64  `json:"bytes"`
	DownMs  int64  `json:"down_ms"` // how long the node was stopped
}

const manifestFormat = "evalrun-riak-cold/1"

// Backup implements drivers.BackupRestorer (see the comment above).
func (c *cluster) Backup(ctx context.Context, dir string) (drivers.Backup, error) {
	return driverkit.Exclusive(ctx, c.Base, "backup", func(ctx context.Context) (drivers.Backup, error) { return c.backup(ctx, dir) })
}

func (c *cluster) backup(ctx context.Context, dir string) (drivers.Backup, error) {
	members := c.Members()
	for _, n := range members {
		if c.State(n) != driverkit.StateUp {
			return drivers.Backup{}, fmt.Errorf("riak: backup: node %d is not up; a rolling cold backup needs every member running", n.Index)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return drivers.Backup{}, err
	}
	info, _ := c.Info(ctx)
	m := manifest{Format: manifestFormat, Taken: time.Now().UTC(), DBVersion: info.DBVersion, Image: c.Image,
		RingSize: c.opts.ringSize, Backend: c.opts.backend}
	var total int64
	for _, n := range members {
		t0 := time.Now()
		if err := n.DN.Stop(ctx, stopGrace); err != nil {
			return drivers.Backup{}, fmt.Errorf("riak: backup: stop %s: %w", n.Name, err)
		}
		c.SetState(n, driverkit.StateDown)
		archive := n.Name + ".tar.gz"
		size, aerr := archiveDir(n.data, filepath.Join(dir, archive))
		// start the node again whatever happened to the archive
		serr := n.DN.Start(ctx)
		if serr == nil {
			c.SetState(n, driverkit.StateUp)
		}
		if aerr != nil {
			return drivers.Backup{}, fmt.Errorf("riak: backup: archive %s: %w", n.Name, aerr)
		}
		if serr != nil {
			return drivers.Backup{}, fmt.Errorf("riak: backup: restart %s: %w", n.Name, serr)
		}
		down := time.Since(t0)
		if err := c.waitRingReady(ctx, 2*time.Minute); err != nil {
			return drivers.Backup{}, fmt.Errorf("riak: backup: after restarting %s: %w", n.Name, err)
		}
		m.Nodes = append(m.Nodes, manifestNode{Index: n.Index, Name: n.riakName(), Archive: archive, Bytes: size, DownMs: down.Milliseconds()})
		total += size
		c.Logf("riak: backup: %s archived (%d bytes), down %s", n.Name, size, down.Round(time.Millisecond))
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return drivers.Backup{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, manifestFile), b, 0o644); err != nil {
		return drivers.Backup{}, err
	}
	return drivers.Backup{Path: dir, Bytes: total, Meta: map[string]string{
		"method": "rolling cold copy of each node's data directory",
		"nodes":  strconv.Itoa(len(m.Nodes)),
	}}, nil
}

// waitRingReady waits until ringready is true on the first live node.
func (c *cluster) waitRingReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	last := "no node is up"
	for {
		if live := c.Live(); len(live) > 0 {
			out, code, err := c.admin(ctx, live[0], "ringready")
			var r admin.RingReadiness
			if err == nil {
				r, err = admin.ParseRingReadiness(out, code)
			}
			switch {
			case err != nil:
				last = err.Error()
			case r.Ready:
				return nil
			default:
				last = r.Detail
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ring not ready after %s: %s", limit, last)
		case <-time.After(time.Second):
		}
	}
}

// Restore implements drivers.BackupRestorer: a fresh cluster of the same
// size whose node<i> starts on node<i>'s archive.
func (c *cluster) Restore(ctx context.Context, b drivers.Backup, spec drivers.ClusterSpec) (drivers.Cluster, error) {
	raw, err := os.ReadFile(filepath.Join(b.Path, manifestFile))
	if err != nil {
		return nil, fmt.Errorf("riak: restore: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil || m.Format != manifestFormat {
		return nil, fmt.Errorf("riak: restore: %s is not an evalrun Riak backup manifest", filepath.Join(b.Path, manifestFile))
	}
	if len(m.Nodes) == 0 {
		return nil, errors.New("riak: restore: the backup has no node")
	}
	opts, err := parseOptions(spec.Options)
	if err != nil {
		return nil, err
	}
	opts.ringSize, opts.backend = m.RingSize, m.Backend
	if spec.Image == "" {
		spec.Image = c.Image
	}
	rc, err := open(ctx, spec, opts)
	if err != nil {
		return nil, err
	}
	data := map[int]string{}
	var idx []int
	for _, n := range m.Nodes {
		d := rc.nodeData(n.Index)
		if n.Name != riakNodeName(n.Index) {
			rc.CloseAfterFailure(ctx)
			return nil, fmt.Errorf("riak: restore: unexpected node name %q for node %d", n.Name, n.Index)
		}
		if err := extractArchive(filepath.Join(b.Path, n.Archive), d); err != nil {
			rc.CloseAfterFailure(ctx)
			return nil, fmt.Errorf("riak: restore %s: %w", n.Name, err)
		}
		data[n.Index] = d
		idx = append(idx, n.Index)
	}
	// Indexes need not be 1..n (nodes may have been added and removed):
	// the indexes in between stay removed.
	ns, err := rc.startNodes(ctx, idx, func(i int) string { return data[i] })
	if err != nil {
		rc.CloseAfterFailure(ctx)
		return nil, err
	}
	if err := rc.detectAdmin(ctx, ns[0]); err != nil {
		rc.CloseAfterFailure(ctx)
		return nil, err
	}
	if err := rc.waitRingReady(ctx, 5*time.Minute); err != nil {
		rc.CloseAfterFailure(ctx)
		return nil, fmt.Errorf("riak: restore: %w", err)
	}
	return rc, nil
}

// archiveDir writes dir as a gzipped tar to path and returns its size.
func archiveDir(dir, path string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	werr := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			src, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, src)
			src.Close()
			return err
		}
		return nil
	})
	errs := []error{werr, tw.Close(), zw.Close()}
	if err := f.Sync(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, f.Close())
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// extractArchive unpacks an archiveDir archive into dir (created), refusing
// entries that would land outside it.
func extractArchive(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		name := filepath.FromSlash(strings.TrimSuffix(hdr.Name, "/"))
		if name == "" || filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			return fmt.Errorf("%s: bad entry %q", path, hdr.Name)
		}
		target := filepath.Join(dir, name)
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, mode|0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: entry %q has an unsupported type", path, hdr.Name)
		}
	}
}
