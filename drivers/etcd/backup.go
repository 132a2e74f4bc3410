package etcd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"

	"github.com/evalrun/evalrun/drivers"
)

// snapshotFile is the name of the backup file under the backup directory.
const snapshotFile = "etcd-snapshot.db"

// snapshotFrom streams a snapshot from the member called name at endpoint
// into dir/etcd-snapshot.db after a linearizable read through that member
// (see Backup), and describes it.
func snapshotFrom(ctx context.Context, endpoint, name, dir string, logf func(string, ...any)) (drivers.Backup, error) {
	cli, err := newEtcdClient([]string{endpoint})
	if err != nil {
		return drivers.Backup{}, err
	}
	defer cli.Close()
	if _, err := cli.Get(ctx, "evalrun/backup-barrier"); err != nil {
		return drivers.Backup{}, fmt.Errorf("read barrier: %w", err)
	}
	resp, err := cli.SnapshotWithVersion(ctx)
	if err != nil {
		return drivers.Backup{}, err
	}
	defer resp.Snapshot.Close()

	tmp, err := os.CreateTemp(dir, "."+snapshotFile+".*.tmp")
	if err != nil {
		return drivers.Backup{}, err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, resp.Snapshot)
	if err != nil {
		return drivers.Backup{}, fmt.Errorf("receiving the snapshot: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return drivers.Backup{}, err
	}
	if err := tmp.Close(); err != nil {
		return drivers.Backup{}, err
	}
	path := filepath.Join(dir, snapshotFile)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return drivers.Backup{}, err
	}
	done = true
	if d, err := os.Open(dir); err == nil { // make the rename durable
		err = d.Sync()
		if cerr := d.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return drivers.Backup{}, fmt.Errorf("etcd: backup: sync %s: %w", dir, err)
		}
	}

	meta := map[string]string{"member": name}
	if resp.Version != "" {
		meta["storage-version"] = resp.Version
	}
	// The revision and key count of the file itself (not of the cluster
	// now, which moves on under load).
	st, err := snapshot.NewV3(zap.NewNop()).Status(path)
	if err != nil {
		return drivers.Backup{}, fmt.Errorf("reading the snapshot %s: %w", path, err)
	}
	meta["revision"] = strconv.FormatInt(st.Revision, 10)
	meta["keys"] = strconv.Itoa(st.TotalKey)
	meta["hash"] = strconv.FormatUint(uint64(st.Hash), 10)
	logf("etcd: backup from %s: %d bytes, revision %d, %d keys", name, n, st.Revision, st.TotalKey)
	return drivers.Backup{Path: path, Bytes: n, Meta: meta}, nil
}

// Restore implements drivers.BackupRestorer: it restores b into the data
// directories of a new cluster of spec.Nodes members under spec.WorkDir
// (etcdutl snapshot restore, once per member, which checks the snapshot's
// hash), starts it and waits until every member is ready. The new cluster
// is independent of c; the caller closes it.
func (c *embeddedCluster) Restore(ctx context.Context, b drivers.Backup, spec drivers.ClusterSpec) (drivers.Cluster, error) {
	switch spec.Provider {
	case drivers.ProviderEmbedded, "":
	default:
		return nil, fmt.Errorf("etcd: restore into provider %q: %w", spec.Provider, drivers.ErrNotSupported)
	}
	path, err := snapshotPath(b)
	if err != nil {
		return nil, err
	}
	nc, err := startEmbedded(ctx, spec, path)
	if err != nil {
		return nil, fmt.Errorf("etcd: restore: %w", err)
	}
	return nc, nil
}

// restoreMember writes m's data directory from the snapshot file.
func (c *embeddedCluster) restoreMember(path string, m *member) error {
	lf, lg, err := openLog(m.logPath)
	if err != nil {
		return fmt.Errorf("etcd: restore %s: %w", m.name, err)
	}
	defer lf.Close()
	err = snapshot.NewV3(lg).Restore(snapshot.RestoreConfig{
		SnapshotPath:        path,
		Name:                m.name,
		OutputDataDir:       m.dir,
		PeerURLs:            []string{m.peerURL.String()},
		InitialCluster:      m.initialCluster,
		InitialClusterToken: c.token,
	})
	if err != nil {
		return fmt.Errorf("etcd: restore %s from %s: %w", m.name, path, err)
	}
	return nil
}

// snapshotPath is the snapshot file of b: b.Path itself, or the snapshot
// file in it when b.Path is a backup directory.
func snapshotPath(b drivers.Backup) (string, error) {
	path := b.Path
	if fi, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("etcd: restore: %w", err)
	} else if fi.IsDir() {
		path = filepath.Join(path, snapshotFile)
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("etcd: restore: %w", err)
	}
	return path, nil
}
