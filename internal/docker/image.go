package docker

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	dc "github.com/ory/dockertest/v3/docker"
)

// PullTimeout bounds the pull attempt of EnsureImage.
const PullTimeout = 20 * time.Second

// FileSpec is a file to put into an image.
type FileSpec struct {
	Mode fs.FileMode // permission bits (0755 for a binary); 0 means 0644
	Data []byte
}

var refRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._/:@-]*$`)

// ImageID returns the ID of a local image, and whether it exists.
func (e *Engine) ImageID(ctx context.Context, ref string) (string, bool, error) {
	if !refRe.MatchString(ref) {
		return "", false, fmt.Errorf("docker: bad image reference %q", ref)
	}
	var img struct {
		ID string `json:"Id"`
	}
	err := e.doJSON(ctx, http.MethodGet, "/images/"+ref+"/json", nil, &img)
	if apiStatus(err) == http.StatusNotFound {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("docker: inspect image %s: %w", ref, err)
	}
	return img.ID, true, nil
}

// EnsureImage makes ref present locally: a local image is used as is;
// otherwise a pull is tried (bounded by PullTimeout), and when it fails the
// failure is reported through Logf and build is called, which must create
// ref (BuildDebianImage, BuildScratchImage).
func (e *Engine) EnsureImage(ctx context.Context, ref string, build func(ctx context.Context) error) (string, error) {
	id, ok, err := e.ImageID(ctx, ref)
	if err != nil {
		return "", err
	}
	if ok {
		return id, nil
	}
	e.logf("docker: image %s is not present locally; pulling it", ref)
	pctx, cancel := context.WithTimeout(ctx, PullTimeout)
	repo, tag := splitRef(ref)
	t0 := time.Now()
	err = e.client.PullImage(dc.PullImageOptions{Repository: repo, Tag: tag, Context: pctx,
		InactivityTimeout: PullTimeout / 2}, dc.AuthConfiguration{})
	cancel()
	if err == nil {
		if id, ok, err := e.ImageID(ctx, ref); err == nil && ok {
			e.logf("docker: pulled %s in %s", ref, time.Since(t0).Round(time.Millisecond))
			return id, nil
		}
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	cause := "the pull left no image"
	if err != nil {
		cause = oneLine(err)
	}
	if build == nil {
		return "", fmt.Errorf("docker: image %s is not present locally and cannot be pulled (%s)", ref, cause)
	}
	e.logf("docker: cannot pull %s (%s); building it locally", ref, cause)
	t0 = time.Now()
	if err := build(ctx); err != nil {
		return "", fmt.Errorf("docker: build image %s: %w", ref, err)
	}
	id, ok, err = e.ImageID(ctx, ref)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("docker: building image %s did not create it", ref)
	}
	e.logf("docker: built %s in %s", ref, time.Since(t0).Round(time.Second))
	return id, nil
}

// splitRef splits "repo[:tag]" (the repo may contain a registry port);
// digests stay in the repo part.
func splitRef(ref string) (repo, tag string) {
	if strings.Contains(ref, "@") {
		return ref, ""
	}
	i := strings.LastIndexByte(ref, ':')
	if i < 0 || strings.Contains(ref[i+1:], "/") {
		return ref, "latest"
	}
	return ref[:i], ref[i+1:]
}

// BuildScratchImage builds a FROM-scratch style image that holds only files
// (typically one static binary) and runs entrypoint, tagged tag.
func (e *Engine) BuildScratchImage(ctx context.Context, tag string, files map[string]FileSpec, entrypoint []string) (string, error) {
	if len(files) == 0 {
		return "", fmt.Errorf("docker: scratch image %s: no files", tag)
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := writeFiles(tw, files, map[string]bool{}, nil)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	changes, err := imageChanges(entrypoint, nil, nil, nil, "scratch")
	if err != nil {
		pr.Close()
		return "", err
	}
	id, err := e.importImage(ctx, tag, changes, pr)
	pr.Close()
	return id, err
}

// imageChanges renders Dockerfile instructions for the import, as
// `docker import --change` takes them.
func imageChanges(entrypoint, cmd, env, expose []string, kind string) ([]string, error) {
	var ch []string
	if len(entrypoint) > 0 {
		b, _ := json.Marshal(entrypoint)
		ch = append(ch, "ENTRYPOINT "+string(b))
	}
	if len(cmd) > 0 {
		b, _ := json.Marshal(cmd)
		ch = append(ch, "CMD "+string(b))
	}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\n=\"") {
			return nil, fmt.Errorf("docker: bad env entry %q: want KEY=VALUE", kv)
		}
		ch = append(ch, "ENV "+k+"="+dockerfileQuote(v))
	}
	for _, p := range expose {
		np, err := normPort(p)
		if err != nil {
			return nil, err
		}
		ch = append(ch, "EXPOSE "+np)
	}
	ch = append(ch, "LABEL "+LabelImage+"="+kind)
	return ch, nil
}

func dockerfileQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// importImage imports a root filesystem tar stream as image tag, applying
// changes, through POST /images/create?fromSrc=- (go-dockerclient's
// ImportImage cannot pass "changes").
func (e *Engine) importImage(ctx context.Context, tag string, changes []string, rootfs io.Reader) (string, error) {
	if !refRe.MatchString(tag) || strings.Contains(tag, "@") {
		return "", fmt.Errorf("docker: bad image tag %q", tag)
	}
	repo, t := splitRef(tag)
	q := url.Values{"fromSrc": {"-"}, "repo": {repo}, "tag": {t}, "message": {"evalrun import"}}
	for _, c := range changes {
		q.Add("changes", c)
	}
	resp, err := e.do(ctx, http.MethodPost, "/images/create", q, rootfs, "application/x-tar")
	if err != nil {
		return "", fmt.Errorf("docker: import image %s: %w", tag, err)
	}
	defer resp.Body.Close()
	// The answer is a stream of JSON messages; errors come in-band.
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		if json.Unmarshal(sc.Bytes(), &m) == nil && m.Error != "" {
			return "", fmt.Errorf("docker: import image %s: %s", tag, m.Error)
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("docker: import image %s: %w", tag, err)
	}
	id, ok, err := e.ImageID(ctx, tag)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("docker: import image %s: no image after the import", tag)
	}
	return id, nil
}

// fixedTime is the modification time of files this package writes, so
// that equal inputs give equal layers.
var fixedTime = time.Unix(1700000000, 0)

// writeFiles appends files (absolute paths) to tw, after the directories
// they need that are not in haveDirs; a path under a symlink in symlinks is
// an error (merged-/usr Debian: /bin, /lib… are symlinks).
func writeFiles(tw *tar.Writer, files map[string]FileSpec, haveDirs map[string]bool, symlinks map[string]string) error {
	for _, p := range slices.Sorted(maps.Keys(files)) {
		rel, err := relPath(p)
		if err != nil {
			return err
		}
		if err := writeParents(tw, "file "+p, rel, haveDirs, symlinks); err != nil {
			return err
		}
		f := files[p]
		mode := int64(f.Mode.Perm())
		if mode == 0 {
			mode = 0o644
		}
		if f.Mode&fs.ModeSetuid != 0 {
			mode |= 0o4000
		}
		if f.Mode&fs.ModeSetgid != 0 {
			mode |= 0o2000
		}
		if f.Mode&fs.ModeSticky != 0 {
			mode |= 0o1000
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: mode, Size: int64(len(f.Data)), ModTime: fixedTime}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return err
		}
	}
	return nil
}

// relPath turns "/etc/x" into "etc/x", rejecting relative and odd paths.
func relPath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "/" {
		return "", fmt.Errorf("docker: bad file path %q: want a clean absolute path", p)
	}
	return strings.TrimPrefix(p, "/"), nil
}

// writeParents writes the directories above rel (a relative path) that are
// not in haveDirs yet; a parent that is a symlink in the image is an error
// (merged-/usr Debian: /bin, /lib… are symlinks), naming what.
func writeParents(tw *tar.Writer, what, rel string, haveDirs map[string]bool, symlinks map[string]string) error {
	var dirs []string
	for d := path.Dir(rel); d != "." && d != "/"; d = path.Dir(d) {
		if target, ok := symlinks[d]; ok {
			return fmt.Errorf("docker: %s: /%s is a symlink (to %s) in the image; use the real path", what, d, target)
		}
		dirs = append(dirs, d)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if haveDirs[dirs[i]] {
			continue
		}
		haveDirs[dirs[i]] = true
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dirs[i] + "/", Mode: 0o755, ModTime: fixedTime}); err != nil {
			return err
		}
	}
	return nil
}

// writeTrees appends host directory trees (image path → host dir) to tw,
// after the parent directories they need that are not in haveDirs. Regular
// files, directories and symlinks are copied with their permission bits;
// owners become root and times fixedTime. Other file types are an error.
func writeTrees(tw *tar.Writer, trees map[string]string, haveDirs map[string]bool, symlinks map[string]string) error {
	for _, p := range slices.Sorted(maps.Keys(trees)) {
		rel, err := relPath(p)
		if err != nil {
			return err
		}
		if err := writeParents(tw, "tree "+p, rel, haveDirs, symlinks); err != nil {
			return err
		}
		root := trees[p]
		err = filepath.WalkDir(root, func(hostPath string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			sub, err := filepath.Rel(root, hostPath)
			if err != nil {
				return err
			}
			name := rel
			if sub != "." {
				name = rel + "/" + filepath.ToSlash(sub)
			}
			info, err := de.Info()
			if err != nil {
				return err
			}
			mode := int64(info.Mode().Perm())
			switch {
			case info.Mode().IsDir():
				haveDirs[name] = true
				return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: fixedTime})
			case info.Mode()&fs.ModeSymlink != 0:
				target, err := os.Readlink(hostPath)
				if err != nil {
					return err
				}
				return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: fixedTime})
			case info.Mode().IsRegular():
				f, err := os.Open(hostPath)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: info.Size(), ModTime: fixedTime}); err != nil {
					return err
				}
				n, err := io.Copy(tw, f)
				if err == nil && n != info.Size() {
					err = fmt.Errorf("%s changed while it was copied", hostPath)
				}
				return err
			default:
				return fmt.Errorf("docker: tree %s: %s is neither a file, a directory nor a symlink", p, hostPath)
			}
		})
		if err != nil {
			return fmt.Errorf("docker: copy %s into the image: %w", root, err)
		}
	}
	return nil
}

// treeSummary is a cheap fingerprint of a directory tree (file count, total
// size, newest modification time), for image recipe hashes.
func treeSummary(dir string) string {
	var files, size, newest int64
	_ = filepath.WalkDir(dir, func(_ string, de fs.DirEntry, err error) error {
		if err != nil {
			return nil //nolint:nilerr // an unreadable entry only leaves the fingerprint coarser
		}
		if info, err := de.Info(); err == nil {
			files++
			size += info.Size()
			if t := info.ModTime().UnixNano(); t > newest {
				newest = t
			}
		}
		return nil
	})
	return fmt.Sprintf("%d/%d/%d", files, size, newest)
}
