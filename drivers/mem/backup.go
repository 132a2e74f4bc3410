package mem

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/evalrun/evalrun/drivers"
)

// backupMagic starts a backup file; then, per key in key order, the
// key's and the value's lengths (uvarint) and bytes.
const backupMagic = "evalrun-mem-backup/1\n"

// maxBackupField bounds a key or value read from a backup file.
const maxBackupField = 64 << 20

// Backup implements drivers.BackupRestorer: the leader's map (every
// write acknowledged so far) written to dir/mem.backup.
func (c *cluster) Backup(ctx context.Context, dir string) (drivers.Backup, error) {
	var data map[string][]byte
	var source string
	var position int64
	err := c.waitLeader(ctx, func(l *node, _ time.Time) error {
		data, source, position = maps.Clone(l.kv), l.name, l.applied
		return nil
	})
	if err != nil {
		return drivers.Backup{}, fmt.Errorf("mem: backup: %w", err)
	}
	path := filepath.Join(dir, "mem.backup")
	n, err := writeBackup(path, data)
	if err != nil {
		return drivers.Backup{}, fmt.Errorf("mem: backup: %w", err)
	}
	c.logf("mem: backup of %d keys from %s (%d bytes)", len(data), source, n)
	return drivers.Backup{Path: path, Bytes: n, Meta: map[string]string{
		drivers.MetaMethod: "snapshot", drivers.MetaSource: source, drivers.MetaPosition: "log index " + strconv.FormatInt(position, 10),
	}}, nil
}

// Restore implements drivers.BackupRestorer: a fresh cluster of spec
// whose every node holds the backup's data.
func (c *cluster) Restore(ctx context.Context, b drivers.Backup, spec drivers.ClusterSpec) (drivers.Cluster, error) {
	data, err := readBackup(b.Path)
	if err != nil {
		return nil, fmt.Errorf("mem: restore: %w", err)
	}
	r, err := start(ctx, spec, data)
	if err != nil {
		return nil, fmt.Errorf("mem: restore: %w", err)
	}
	return r, nil
}

func writeBackup(path string, data map[string][]byte) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	// A bufio.Writer keeps its first error and Flush returns it: the
	// writes below need no check of their own.
	w := bufio.NewWriter(f)
	_, _ = w.WriteString(backupMagic)
	var lenBuf [binary.MaxVarintLen64]byte
	field := func(b []byte) {
		_, _ = w.Write(lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(b)))])
		_, _ = w.Write(b)
	}
	for _, k := range slices.Sorted(maps.Keys(data)) {
		field([]byte(k))
		field(data[k])
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func readBackup(path string) (map[string][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	head := make([]byte, len(backupMagic))
	if _, err := io.ReadFull(r, head); err != nil || string(head) != backupMagic {
		return nil, fmt.Errorf("%s is not a mem backup", path)
	}
	field := func() ([]byte, error) {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, err
		}
		if n > maxBackupField {
			return nil, fmt.Errorf("a field of %d bytes", n)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, noEOF(err)
		}
		return b, nil
	}
	data := map[string][]byte{}
	for {
		k, err := field()
		if errors.Is(err, io.EOF) {
			return data, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		v, err := field()
		if err != nil {
			return nil, fmt.Errorf("%s: truncated: %w", path, noEOF(err))
		}
		data[string(k)] = v
	}
}

// noEOF turns an EOF inside a record into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
