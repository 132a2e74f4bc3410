package debian

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// CacheDirEnv names the cache's parent when set (XDG's variable).
const CacheDirEnv = "XDG_CACHE_HOME"

// DefaultCacheDir is $XDG_CACHE_HOME/evalrun, else ~/.cache/evalrun.
func DefaultCacheDir() (string, error) {
	if x := os.Getenv(CacheDirEnv); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "evalrun"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("debian: no cache directory (set %s): %w", CacheDirEnv, err)
	}
	return filepath.Join(home, ".cache", "evalrun"), nil
}

// Cache keeps files by content (SHA256) in Dir. Files appear whole or not
// at all (written to a temporary name, checked, then renamed), and a file
// is fetched by one process at a time (a lock file per digest): others
// wait for it and reuse it.
type Cache struct {
	Dir string
}

// LockWait bounds how long a process waits for another's lock.
const LockWait = 20 * time.Minute

// Lock takes the exclusive lock named name (a file under Dir/locks),
// waiting while another process holds it, bounded by ctx and LockWait.
// waiting is called once if it has to wait.
func (c Cache) Lock(ctx context.Context, name string, waiting func()) (unlock func(), err error) {
	dir := filepath.Join(c.Dir, "locks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("debian: cache: %w", err)
	}
	fl := flock.New(filepath.Join(dir, name+".lock"))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("debian: lock %s: %w", fl.Path(), err)
	}
	if !ok {
		if waiting != nil {
			waiting()
		}
		lctx, cancel := context.WithTimeout(ctx, LockWait)
		defer cancel()
		if ok, err = fl.TryLockContext(lctx, 200*time.Millisecond); err != nil || !ok {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("debian: another process held %s for over %s", fl.Path(), LockWait)
		}
	}
	return func() { _ = fl.Unlock() }, nil
}

// Path is where the file of digest sum (lower-case hex SHA256) with suffix
// ext lives in kind (e.g. "debs", ".deb").
func (c Cache) Path(kind, sum, ext string) string {
	return filepath.Join(c.Dir, kind, sum+ext)
}

// Fetch returns the path of the cached file with digest sum, downloading
// it from url with client when it is missing. The download is checked
// against size and sum before it is kept; a mismatch or an HTTP error is an
// error naming url, and leaves nothing in the cache.
func (c Cache) Fetch(ctx context.Context, client *http.Client, url, kind, sum, ext string, size int64) (string, error) {
	dst := c.Path(kind, sum, ext)
	if ok, _ := fileHasSize(dst, size); ok {
		return dst, nil
	}
	unlock, err := c.Lock(ctx, kind+"-"+sum, nil)
	if err != nil {
		return "", err
	}
	defer unlock()
	if ok, _ := fileHasSize(dst, size); ok {
		return dst, nil // fetched by another process while we waited
	}
	if err := writeAtomic(dst, func(w io.Writer) error { return download(ctx, client, url, w, sum, size) }); err != nil {
		return "", err
	}
	return dst, nil
}

func fileHasSize(p string, size int64) (bool, error) {
	st, err := os.Stat(p)
	if err != nil {
		return false, err
	}
	return st.Mode().IsRegular() && (size < 0 || st.Size() == size), nil
}

// download copies url into w, checking size (unless negative) and sum.
func download(ctx context.Context, client *http.Client, url string, w io.Writer, sum string, size int64) error {
	body, err := get(ctx, client, url)
	if err != nil {
		return err
	}
	defer body.Close()
	h := sha256.New()
	var r io.Reader = body
	if size >= 0 {
		r = io.LimitReader(body, size+1)
	}
	n, err := io.Copy(io.MultiWriter(w, h), r)
	if err != nil {
		return fmt.Errorf("debian: download %s: %w", url, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("debian: %s: %d bytes, the signed index says %d", url, n, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("debian: %s: SHA256 %s, the signed index says %s (checksum mismatch)", url, got, sum)
	}
	return nil
}

// get starts a GET of url; a status other than 200 is an error naming it.
func get(ctx context.Context, client *http.Client, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("debian: %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("debian: cannot reach %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("debian: %s: %s", url, resp.Status)
	}
	return resp.Body, nil
}
