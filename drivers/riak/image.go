package riak

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/docker"
)

// Images.
const (
	// OfficialImage is the public Riak KV image (a Riak 2.2 release) the
	// docker provider uses unless --image names another or only a local
	// evalrun/riak image is available.
	OfficialImage = "basho/riak-kv"
	// ImageRepo is the repository of images built by BuildImageFrom:
	// evalrun/riak:<Riak version>.
	ImageRepo = "evalrun/riak"

	debianSuite = "bookworm"
)

// runtimePackages are the Debian packages a Riak release with its own ERTS
// needs at run time (ldd of erts and the NIFs of Riak 3.2 built on
// bookworm), plus the tools the entrypoint and the driver use.
var runtimePackages = []string{"libtinfo6", "zlib1g", "libstdc++6", "libssl3", "libpam0g", "procps"}

// debPackages are added for an image built from a Riak .deb: its
// maintainer scripts do not run, so the riak user is created by the
// entrypoint (adduser) and Riak 2.x's start script switches to it (sudo).
var debPackages = []string{"adduser", "sudo", "logrotate"}

var _ drivers.SourceImageBuilder = Driver{}

// BuildImageFrom implements drivers.SourceImageBuilder: it builds
// evalrun/riak:<version> on a Debian base (internal/debian, cached) with the
// runtime libraries, our entrypoint at /usr/local/bin/evalrun-riak, and
//   - a release directory copied to /opt/riak (riak at /opt/riak/bin/riak), or
//   - a .deb's files unpacked in place (riak at /usr/sbin/riak).
func (Driver) BuildImageFrom(ctx context.Context, src drivers.ImageSource, progress func(string)) (string, error) {
	if progress == nil {
		progress = func(string) {}
	}
	var d docker.DebianImage
	var cleanup func()
	var err error
	switch {
	case src.ReleaseDir != "" && src.Package != "":
		return "", errors.New("riak: give a release directory or a package, not both")
	case src.ReleaseDir != "":
		d, err = releaseImage(src.ReleaseDir)
	case src.Package != "":
		d, cleanup, err = debImage(ctx, src.Package)
	default:
		return "", errors.New("riak: no source: give --release DIR or --deb FILE")
	}
	if cleanup != nil {
		defer cleanup()
	}
	if err != nil {
		return "", err
	}
	d.Progress = progress
	ref, err := docker.BuildOffline(ctx, d)
	if err != nil {
		return "", fmt.Errorf("riak: %w", err)
	}
	return ref, nil
}

// baseImage is the part of the recipe both sources share.
func baseImage(version string, extra []string) docker.DebianImage {
	return docker.DebianImage{
		Tag:        ImageRepo + ":" + tagSafe(version),
		Suite:      debianSuite,
		Packages:   append(append([]string{}, runtimePackages...), extra...),
		Files:      map[string]docker.FileSpec{"/usr/local/bin/evalrun-riak": {Mode: 0o755, Data: []byte(entrypointScript)}},
		Entrypoint: []string{"/usr/local/bin/evalrun-riak"},
		Env:        []string{"PATH=/opt/riak/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Expose:     []string{pbPort + "/tcp", httpPort + "/tcp"},
	}
}

var tagBad = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func tagSafe(v string) string {
	t := strings.Trim(tagBad.ReplaceAllString(v, "_"), "._-")
	if t == "" {
		t = "unknown"
	}
	if len(t) > 120 {
		t = t[:120]
	}
	return t
}

// releaseImage checks that dir is a Riak release with its own ERTS and
// returns the recipe that copies it to /opt/riak.
func releaseImage(dir string) (docker.DebianImage, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return docker.DebianImage{}, err
	}
	for _, need := range []string{"bin/riak", "etc/riak.conf", "releases"} {
		if _, err := os.Stat(filepath.Join(abs, need)); err != nil {
			return docker.DebianImage{}, fmt.Errorf("riak: %s is not a Riak release directory: no %s (want a built rel/riak)", dir, need)
		}
	}
	if erts, _ := filepath.Glob(filepath.Join(abs, "erts-*", "bin", "beam.smp")); len(erts) == 0 {
		return docker.DebianImage{}, fmt.Errorf("riak: %s has no bundled ERTS (erts-*/bin/beam.smp); build the release with include_erts", dir)
	}
	version, err := releaseVersion(abs)
	if err != nil {
		return docker.DebianImage{}, err
	}
	d := baseImage(version, nil)
	d.Trees = map[string]string{"/opt/riak": abs}
	return d, nil
}

// releaseVersion reads the release version from releases/start_erl.data
// ("ERTS_VSN REL_VSN"), else from the only releases/<version>/ directory.
func releaseVersion(dir string) (string, error) {
	if b, err := os.ReadFile(filepath.Join(dir, "releases", "start_erl.data")); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			return f[1], nil
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, "releases"))
	if err != nil {
		return "", fmt.Errorf("riak: release version: %w", err)
	}
	var vs []string
	for _, e := range entries {
		if e.IsDir() {
			vs = append(vs, e.Name())
		}
	}
	sort.Strings(vs)
	if len(vs) == 0 {
		return "", fmt.Errorf("riak: %s/releases holds no release", dir)
	}
	return vs[len(vs)-1], nil
}

// debImage unpacks a Riak .deb with dpkg-deb and returns the recipe that
// puts its files in place; cleanup removes the unpacked copy.
func debImage(ctx context.Context, pkg string) (docker.DebianImage, func(), error) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		return docker.DebianImage{}, nil, errors.New("riak: --deb needs dpkg-deb (Debian's dpkg package) on this machine")
	}
	out, err := exec.CommandContext(ctx, "dpkg-deb", "-f", pkg, "Package", "Version").Output()
	if err != nil {
		return docker.DebianImage{}, nil, fmt.Errorf("riak: %s is not a readable .deb: %w", pkg, err)
	}
	fields := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	if !strings.HasPrefix(fields["Package"], "riak") {
		return docker.DebianImage{}, nil, fmt.Errorf("riak: %s is package %q, not Riak", pkg, fields["Package"])
	}
	tmp, err := os.MkdirTemp("", "evalrun-riak-deb-")
	if err != nil {
		return docker.DebianImage{}, nil, err
	}
	cleanup := func() { _ = os.RemoveAll(tmp) }
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", pkg, tmp).CombinedOutput(); err != nil {
		cleanup()
		return docker.DebianImage{}, nil, fmt.Errorf("riak: unpack %s: %w: %s", pkg, err, strings.TrimSpace(string(out)))
	}
	trees, err := debTrees(tmp)
	if err != nil {
		cleanup()
		return docker.DebianImage{}, nil, err
	}
	d := baseImage(fields["Version"], debPackages)
	d.Trees = trees
	return d, cleanup, nil
}

// debTrees maps the top-level directories of an unpacked package to image
// paths, folding /bin, /sbin and /lib into /usr (merged-/usr Debian).
func debTrees(root string) (map[string]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	trees := map[string]string{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		switch name {
		case "bin", "sbin", "lib", "lib32", "lib64":
			// merged /usr: /bin is a symlink to /usr/bin in the image
			if _, dup := trees["/usr/"+name]; dup {
				return nil, fmt.Errorf("riak: the package has both /%s and /usr/%s", name, name)
			}
			trees["/usr/"+name] = filepath.Join(root, name)
		case "usr":
			// /usr itself exists in the image; add its subdirectories
			subs, err := os.ReadDir(filepath.Join(root, "usr"))
			if err != nil {
				return nil, err
			}
			for _, s := range subs {
				if s.IsDir() {
					if _, dup := trees["/usr/"+s.Name()]; dup {
						return nil, fmt.Errorf("riak: the package has both /%s and /usr/%s", s.Name(), s.Name())
					}
					trees["/usr/"+s.Name()] = filepath.Join(root, "usr", s.Name())
				}
			}
		default:
			trees["/"+name] = filepath.Join(root, name)
		}
	}
	if _, ok := trees["/usr/sbin"]; !ok {
		if _, ok := trees["/usr/lib"]; !ok {
			return nil, errors.New("riak: the package installs nothing under /usr: not a Riak package?")
		}
	}
	return trees, nil
}

// buildHint says how to get a Riak image without a registry.
const buildHint = "build one with `evalrun images build riak --release DIR` (or --deb FILE), or pass --image"

// imageChoice is what a cluster may run, in docker.Engine.ResolveImage's
// order: --image when given (local, else pulled; our evalrun/riak tags are
// never pulled), else the official image when local, else the newest
// local evalrun/riak image, else the official image pulled, else an error
// that says how to build one.
func imageChoice() docker.ImageChoice {
	return docker.ImageChoice{Official: OfficialImage, OwnRepo: ImageRepo, Hint: buildHint}
}
