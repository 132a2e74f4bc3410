package debian

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"pault.ag/go/debian/deb"
)

// User is an account a package's maintainer scripts would have created.
type User struct {
	Name  string
	UID   int
	Home  string // default /nonexistent
	Shell string // default /usr/sbin/nologin
}

// mergedUsr are the top-level directories that are symlinks into /usr on
// a merged-/usr system (what debootstrap makes for bookworm).
var mergedUsr = []string{"bin", "sbin", "lib", "lib32", "lib64", "libx32"}

// Alternatives are symlinks that update-alternatives would make in a
// maintainer script; each is written when its target is in the tree.
var Alternatives = map[string]string{
	"usr/bin/awk":   "/usr/bin/mawk",
	"usr/bin/which": "/usr/bin/which.debianutils",
	"usr/bin/pager": "/usr/bin/more",
}

// Excluded are left out of the tree, as Debian's container images do
// (dpkg path-exclude): documentation, manual pages and translations. The
// copyright files stay.
var Excluded = []string{"usr/share/doc/", "usr/share/man/", "usr/share/info/", "usr/share/locale/", "usr/share/lintian/", "usr/share/linda/"}

func excluded(name string) bool {
	for _, p := range Excluded {
		if strings.HasPrefix(name+"/", p) && name+"/" != p {
			return p != "usr/share/doc/" || !strings.HasSuffix(name, "/copyright")
		}
	}
	return false
}

// fixedTime is the modification time of the entries this package makes,
// so that equal inputs give equal streams.
var fixedTime = time.Unix(1700000000, 0)

// RootfsWriter writes one root file system, as a tar stream, from the data
// archives of .deb files. Paths under /bin, /lib… are written under /usr
// (merged /usr) with the top-level symlinks; the first package to ship a
// path keeps it. No maintainer script runs: Close writes what they would
// have made that matters (passwd and group, alternatives, /tmp…).
type RootfsWriter struct {
	tw    *tar.Writer
	seen  map[string]byte // name → tar type flag written
	users []User
}

// NewRootfsWriter starts a stream on w with the merged-/usr symlinks.
func NewRootfsWriter(w io.Writer, users []User) (*RootfsWriter, error) {
	rw := &RootfsWriter{tw: tar.NewWriter(w), seen: map[string]byte{}, users: users}
	if err := rw.dir("usr", 0o755); err != nil {
		return nil, err
	}
	for _, d := range mergedUsr {
		if err := rw.dir("usr/"+d, 0o755); err != nil {
			return nil, err
		}
		if err := rw.write(&tar.Header{Typeflag: tar.TypeSymlink, Name: d, Linkname: "usr/" + d, Mode: 0o777, ModTime: fixedTime}, nil); err != nil {
			return nil, err
		}
	}
	return rw, nil
}

// canonical maps a package path ("./bin/sh", "lib/x") to its place in a
// merged-/usr tree ("usr/bin/sh"); "" for the root.
func canonical(name string) string {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if name == "" || name == "." {
		return ""
	}
	top, rest, _ := strings.Cut(name, "/")
	for _, d := range mergedUsr {
		if top == d {
			if rest == "" {
				return "usr/" + d
			}
			return "usr/" + d + "/" + rest
		}
	}
	return name
}

func (rw *RootfsWriter) dir(name string, mode int64) error {
	return rw.write(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: fixedTime}, nil)
}

// write writes hdr (and body) unless the name was written before.
func (rw *RootfsWriter) write(hdr *tar.Header, body io.Reader) error {
	name := strings.TrimSuffix(hdr.Name, "/")
	if _, ok := rw.seen[name]; ok {
		return nil
	}
	rw.seen[name] = hdr.Typeflag
	hdr.Format = tar.FormatPAX
	hdr.Uname, hdr.Gname = "", ""
	if err := rw.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if body != nil {
		if _, err := io.Copy(rw.tw, body); err != nil {
			return err
		}
	}
	return nil
}

// Entry is one file of a package's data archive, read into memory (so
// that packages can be decompressed in parallel and written in order).
type Entry struct {
	Header *tar.Header // Name already canonical (merged /usr)
	Body   []byte
}

// ReadDeb decompresses the data archive of the .deb at file, leaving out
// Excluded paths and special files.
func ReadDeb(file, pkg string) ([]Entry, error) {
	d, closer, err := deb.LoadFile(file)
	if err != nil {
		return nil, fmt.Errorf("debian: read %s (%s): %w", pkg, file, err)
	}
	defer func() { _ = closer() }() // read only: nothing to lose on close
	var out []Entry
	for {
		hdr, err := d.Data.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("debian: unpack %s: %w", pkg, err)
		}
		name := canonical(hdr.Name)
		if name == "" || excluded(name) {
			continue
		}
		h := &tar.Header{Typeflag: hdr.Typeflag, Name: name, Mode: hdr.Mode, Uid: hdr.Uid, Gid: hdr.Gid,
			Size: hdr.Size, ModTime: hdr.ModTime, Linkname: hdr.Linkname}
		var body []byte
		switch hdr.Typeflag {
		case tar.TypeDir:
			h.Name += "/"
			h.Size = 0
		case tar.TypeReg:
			body = make([]byte, hdr.Size)
			if _, err := io.ReadFull(d.Data, body); err != nil {
				return nil, fmt.Errorf("debian: unpack %s: %s: %w", pkg, name, err)
			}
		case tar.TypeSymlink:
		case tar.TypeLink:
			h.Linkname = canonical(hdr.Linkname)
			h.Size = 0
		default:
			continue // devices and fifos: none in Debian's packages that matter here
		}
		out = append(out, Entry{Header: h, Body: body})
	}
}

// AddEntries appends what ReadDeb read.
func (rw *RootfsWriter) AddEntries(entries []Entry, pkg string) error {
	for _, e := range entries {
		var body io.Reader
		if e.Header.Typeflag == tar.TypeReg {
			body = bytes.NewReader(e.Body)
		}
		if err := rw.write(e.Header, body); err != nil {
			return fmt.Errorf("debian: unpack %s: %s: %w", pkg, e.Header.Name, err)
		}
	}
	return nil
}

// AddFile appends a regular file (a clean relative path) with mode.
func (rw *RootfsWriter) AddFile(name string, mode int64, data []byte) error {
	return rw.write(&tar.Header{Typeflag: tar.TypeReg, Name: canonical(name), Mode: mode, Size: int64(len(data)), ModTime: fixedTime},
		strings.NewReader(string(data)))
}

// Close writes what maintainer scripts would have made, then ends the
// stream: /etc/passwd, /etc/group and /etc/shadow with root, nobody and
// the users asked for (unless a package shipped them), the alternatives
// whose targets exist, and the directories a container needs.
func (rw *RootfsWriter) Close() error {
	for _, d := range []struct {
		name string
		mode int64
	}{{"etc", 0o755}, {"root", 0o700}, {"tmp", 0o1777}, {"var", 0o755}, {"var/tmp", 0o1777},
		{"run", 0o755}, {"proc", 0o555}, {"sys", 0o555}, {"dev", 0o755}, {"home", 0o755}} {
		if err := rw.dir(d.name, d.mode); err != nil {
			return err
		}
	}
	passwd := "root:x:0:0:root:/root:/bin/bash\n"
	group := "root:x:0:\n"
	shadow := "root:*:19000:0:99999:7:::\n"
	users := append([]User(nil), rw.users...)
	sort.Slice(users, func(i, j int) bool { return users[i].UID < users[j].UID })
	for _, u := range users {
		home, shell := u.Home, u.Shell
		if home == "" {
			home = "/nonexistent"
		}
		if shell == "" {
			shell = "/usr/sbin/nologin"
		}
		passwd += fmt.Sprintf("%s:x:%d:%d::%s:%s\n", u.Name, u.UID, u.UID, home, shell)
		group += fmt.Sprintf("%s:x:%d:\n", u.Name, u.UID)
		shadow += u.Name + ":*:19000:0:99999:7:::\n"
		if home != "/nonexistent" {
			if err := rw.write(&tar.Header{Typeflag: tar.TypeDir, Name: canonical(home) + "/", Mode: 0o755, Uid: u.UID, Gid: u.UID, ModTime: fixedTime}, nil); err != nil {
				return err
			}
		}
	}
	passwd += "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
	group += "nogroup:x:65534:\n"
	for _, f := range []struct {
		name string
		mode int64
		data string
	}{{"etc/passwd", 0o644, passwd}, {"etc/group", 0o644, group}, {"etc/shadow", 0o640, shadow},
		{"etc/nsswitch.conf", 0o644, "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"}} {
		if err := rw.AddFile(f.name, f.mode, []byte(f.data)); err != nil {
			return err
		}
	}
	for _, link := range slices.Sorted(maps.Keys(Alternatives)) {
		target := Alternatives[link]
		if t, ok := rw.seen[canonical(target)]; ok && t != tar.TypeDir {
			if err := rw.write(&tar.Header{Typeflag: tar.TypeSymlink, Name: link, Linkname: target, Mode: 0o777, ModTime: fixedTime}, nil); err != nil {
				return err
			}
		}
	}
	return rw.tw.Close()
}
