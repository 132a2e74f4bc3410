package docker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// buildRootfs runs debootstrap into a temporary directory next to the
// cache and packs the result into job.tarPath. One process at a time builds
// a given root filesystem (a lock file); the others wait and reuse it.
func buildRootfs(ctx context.Context, job rootfsJob) error {
	deb, err := exec.LookPath("debootstrap")
	if err != nil {
		return fmt.Errorf("docker: %w: building the Debian image (%s) needs it; install it with 'sudo apt-get install debootstrap'", errNoDebootstrap, job.desc)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("docker: debootstrap must run as root to build the Debian root filesystem (%s); run once as root (the result is cached under %s)", job.desc, job.dir)
	}
	unlock, err := lockFile(ctx, job.tarPath+".lock", job.progress)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(job.tarPath); err == nil {
		return nil // built by another process while we waited
	}
	mirror := job.mirror
	keyring := ""
	if mirror == "" {
		if srcs := aptSourcesFor(job.suite); len(srcs) > 0 {
			mirror, keyring = srcs[0].URI, srcs[0].Keyring
		} else {
			mirror = "http://deb.debian.org/debian"
			job.progress(fmt.Sprintf("docker: apt has no source for %s/main; using %s", job.suite, mirror))
		}
	}
	tmp, err := os.MkdirTemp(job.dir, "rootfs-")
	if err != nil {
		return fmt.Errorf("docker: %w", err)
	}
	defer func() {
		if err := safeRemoveAll(tmp); err != nil {
			job.progress(fmt.Sprintf("docker: could not remove %s: %v", tmp, err))
		}
	}()
	target := filepath.Join(tmp, "root")
	args := []string{"--variant=minbase", "--components=main", "--arch=" + job.arch}
	if len(job.pkgs) > 0 {
		args = append(args, "--include="+strings.Join(job.pkgs, ","))
	}
	if keyring != "" {
		if _, err := os.Stat(keyring); err == nil {
			args = append(args, "--keyring="+keyring)
		}
	}
	args = append(args, job.suite, target, mirror)
	job.progress(fmt.Sprintf("docker: building a Debian %s root filesystem (%s) with debootstrap from %s; this takes a minute or two and is cached",
		job.suite, job.desc, mirror))
	t0 := time.Now()
	if err := runLogged(ctx, deb, args, job.progress); err != nil {
		tail := ""
		if b, rerr := os.ReadFile(filepath.Join(target, "debootstrap", "debootstrap.log")); rerr == nil {
			tail = lastLines(string(b), 15)
		}
		if tail != "" {
			return fmt.Errorf("docker: debootstrap %s (%s) failed: %w; end of debootstrap.log:\n%s", job.suite, job.desc, err, indent(tail, "    "))
		}
		return fmt.Errorf("docker: debootstrap %s (%s) failed: %w", job.suite, job.desc, err)
	}
	job.progress(fmt.Sprintf("docker: debootstrap done in %s; packing it", time.Since(t0).Round(time.Second)))
	part := job.tarPath + ".part"
	tarArgs := []string{"--numeric-owner", "-C", target, "-cf", part,
		"--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./dev/*", "--exclude=./debootstrap",
		"--exclude=./var/cache/apt/archives/*.deb", "--exclude=./var/lib/apt/lists/*", "."}
	if out, err := exec.CommandContext(ctx, "tar", tarArgs...).CombinedOutput(); err != nil {
		os.Remove(part)
		return fmt.Errorf("docker: pack root filesystem: %w: %s", err, lastLines(string(out), 5))
	}
	if err := os.Rename(part, job.tarPath); err != nil {
		os.Remove(part)
		return fmt.Errorf("docker: %w", err)
	}
	_ = os.WriteFile(strings.TrimSuffix(job.tarPath, ".tar")+".txt",
		[]byte(fmt.Sprintf("suite: %s\narch: %s\npackages: %s\nmirror: %s\nbuilt: %s\n", job.suite, job.arch,
			strings.Join(job.pkgs, ","), mirror, time.Now().UTC().Format(time.RFC3339))), 0o644)
	return nil
}

// runLogged runs a command in its own process group (killed as a whole when
// ctx ends) and reports its output: the first line of each kind
// ("I: Retrieving …", "I: Unpacking …") and every warning or error.
func runLogged(ctx context.Context, name string, args []string, progress func(string)) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LANG=C", "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(out)
	seen := map[string]int{}
	var tail []string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		tail = append(tail, line)
		if len(tail) > 10 {
			tail = tail[1:]
		}
		// "I: Retrieving libc6 …", "I: Validating libc6 …" come per
		// package: report the first of each kind only.
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "I:" || seen[f[1]] == 0 {
			progress("debootstrap: " + line)
		}
		if len(f) >= 2 {
			seen[f[1]]++
		}
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w (last output: %s)", err, strings.Join(tail, " | "))
	}
	return nil
}

// lockWait bounds how long lockFile waits for another builder.
const lockWait = 20 * time.Minute

// lockFile takes an exclusive flock on path, waiting while another process
// holds it (bounded by ctx and lockWait).
func lockFile(ctx context.Context, path string, progress func(string)) (func(), error) {
	ctx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("docker: lock %s: %w", path, err)
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("docker: lock %s: %w", path, err)
		}
		if !told {
			progress("docker: another process is building the same root filesystem; waiting for it")
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// safeRemoveAll unmounts whatever debootstrap left mounted under dir (it
// bind-mounts /dev, /proc, /sys in some setups) before removing dir, and
// refuses to remove it while anything is still mounted there.
func safeRemoveAll(dir string) error {
	dir = filepath.Clean(dir)
	for range 3 {
		mounts := mountsUnder(dir)
		if len(mounts) == 0 {
			return os.RemoveAll(dir)
		}
		sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
		for _, m := range mounts {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}
	return fmt.Errorf("still mounted: %s", strings.Join(mountsUnder(dir), ", "))
}

func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		if strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

// unescapeMount decodes the octal escapes (\040) of /proc/self/mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
