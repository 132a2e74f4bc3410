package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	dc "github.com/ory/dockertest/v3/docker"
)

// Label keys. Every container and network this package creates carries
// LabelRun, LabelCreated, LabelPID, LabelPIDStart and LabelHost; Sweep and
// Close find resources by them and never touch anything without LabelRun.
const (
	LabelRun      = "evalrun.run"      // the run id
	LabelCreated  = "evalrun.created"  // unix seconds
	LabelPID      = "evalrun.pid"      // pid of the creating process
	LabelPIDStart = "evalrun.pidstart" // that process's start time (field 22 of /proc/PID/stat), against pid reuse
	LabelHost     = "evalrun.host"     // hostname of the creating process
	LabelNode     = "evalrun.node"     // containers: the node name (node1)
	LabelRole     = "evalrun.role"     // networks: run | harness | partition
	LabelImage    = "evalrun.image"    // images built here: debian | scratch (images are never swept)
)

// Network roles (values of LabelRole).
const (
	RoleRun       = "run"
	RoleHarness   = "harness"
	RolePartition = "partition"
)

// owner identifies the process that creates resources.
type owner struct {
	host     string
	pid      int
	pidStart string
}

func thisOwner() owner {
	host, _ := os.Hostname()
	return owner{host: host, pid: os.Getpid(), pidStart: procStart(os.Getpid())}
}

// procStart returns the start time of process pid in clock ticks since boot
// (field 22 of /proc/PID/stat), or "" if it cannot be read.
func procStart(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name (field 2) is in parentheses and may contain spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// Labels returns the labels this package puts on every resource of run
// runID. Use them on anything a driver creates itself (volumes…) so that
// Sweep and `evalrun clean` find it.
func (e *Engine) Labels(runID string) map[string]string {
	return map[string]string{
		LabelRun:      runID,
		LabelCreated:  strconv.FormatInt(nowUnix(), 10),
		LabelPID:      strconv.Itoa(e.owner.pid),
		LabelPIDStart: e.owner.pidStart,
		LabelHost:     e.owner.host,
	}
}

// Swept counts what Sweep removed.
type Swept struct {
	Containers int
	Networks   int
}

// Sweep removes labelled containers (forcibly, with their anonymous volumes)
// and networks whose owning process is gone: created on this host (LabelHost)
// by a pid that no longer exists, or that now belongs to another process (its
// start time differs from LabelPIDStart; without that label, its command
// line does not look like evalrun or a Go test), or without a usable
// LabelPID. Resources of other hosts are left alone. With all, it removes
// every labelled resource, of live runs and other hosts too (`evalrun
// clean`). Resources without LabelRun are never touched. Images are never
// swept.
func (e *Engine) Sweep(ctx context.Context, all bool) (Swept, error) {
	var sw Swept
	var errs []error
	cs, err := e.client.ListContainers(dc.ListContainersOptions{
		All: true, Filters: map[string][]string{"label": {LabelRun}}, Context: ctx,
	})
	if err != nil {
		return sw, fmt.Errorf("docker: sweep: list containers: %w", err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range cs {
		if !all && !e.orphan(c.Labels) {
			continue
		}
		wg.Add(1)
		go func(id, name string) {
			defer wg.Done()
			err := e.removeContainer(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				sw.Containers++
			case isNotFound(err):
			default:
				errs = append(errs, fmt.Errorf("remove container %s: %w", name, err))
			}
		}(c.ID, strings.Join(c.Names, ","))
	}
	wg.Wait()
	nets, err := e.listNetworks(ctx, LabelRun)
	if err != nil {
		errs = append(errs, fmt.Errorf("list networks: %w", err))
	}
	for _, n := range nets {
		if !all && !e.orphan(n.Labels) {
			continue
		}
		switch err := e.removeNetwork(ctx, n.ID); {
		case err == nil:
			sw.Networks++
		case isNotFound(err):
		default:
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		}
	}
	if sw.Containers+sw.Networks > 0 {
		e.logf("docker: swept %d containers and %d networks left by earlier runs", sw.Containers, sw.Networks)
	}
	if len(errs) > 0 {
		return sw, fmt.Errorf("docker: sweep: %w", errors.Join(errs...))
	}
	return sw, nil
}

// orphan reports whether a labelled resource's owning process is gone.
func (e *Engine) orphan(labels map[string]string) bool {
	return isOrphan(labels, e.owner.host, procAlive)
}

// isOrphan is the decision of Sweep(false); alive(pid, pidStart) reports
// whether that process still exists and is the one that created it.
func isOrphan(labels map[string]string, host string, alive func(pid int, pidStart string) bool) bool {
	if _, ok := labels[LabelRun]; !ok {
		return false
	}
	if labels[LabelHost] != host {
		return false // another host's process: we cannot tell
	}
	pid, err := strconv.Atoi(labels[LabelPID])
	if err != nil || pid <= 0 {
		return true // labelled by us but without a usable owner
	}
	return !alive(pid, labels[LabelPIDStart])
}

// procAlive reports whether pid exists and is the process that wrote the
// labels: same start time when known, else an evalrun or test command line.
func procAlive(pid int, pidStart string) bool {
	if pid == os.Getpid() {
		return true
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return pidExists(pid) // no /proc (macOS): existence is all we can tell
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
		return false
	}
	if pidStart != "" {
		return procStart(pid) == pidStart
	}
	cmd, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return true // exists but unreadable: keep
	}
	s := strings.ToLower(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
	return strings.Contains(s, "evalrun") || strings.Contains(s, ".test")
}

func (e *Engine) removeContainer(ctx context.Context, id string) error {
	return e.client.RemoveContainer(dc.RemoveContainerOptions{ID: id, Force: true, RemoveVolumes: true, Context: ctx})
}

type apiNetwork struct {
	Name     string            `json:"Name"`
	ID       string            `json:"Id"`
	Internal bool              `json:"Internal"`
	Labels   map[string]string `json:"Labels"`
	IPAM     struct {
		Config []struct {
			Subnet  string `json:"Subnet"`
			Gateway string `json:"Gateway"`
		} `json:"Config"`
	} `json:"IPAM"`
	Options map[string]string `json:"Options"`
}

// listNetworks lists networks that carry label (key or key=value).
func (e *Engine) listNetworks(ctx context.Context, label string) ([]apiNetwork, error) {
	f, _ := json.Marshal(map[string][]string{"label": {label}})
	var out []apiNetwork
	err := e.doJSON(ctx, http.MethodGet, "/networks", url.Values{"filters": {string(f)}}, &out)
	return out, err
}

func (e *Engine) inspectNetwork(ctx context.Context, id string) (apiNetwork, error) {
	var n apiNetwork
	err := e.doJSON(ctx, http.MethodGet, "/networks/"+id, nil, &n)
	return n, err
}

func (e *Engine) removeNetwork(ctx context.Context, id string) error {
	return e.doJSON(ctx, http.MethodDelete, "/networks/"+id, nil, nil)
}

// pidExists reports whether a process with this pid exists (signal 0).
func pidExists(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	if runtime.GOOS == "windows" {
		return true // FindProcess opened it
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

var runIDBad = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// maxRunID bounds a run id, so that container names derived from it stay
// within what Docker and host names accept.
const maxRunID = 80

// RunIDFrom makes a valid run id (container and network names derive from
// it) of want: characters Docker refuses become '-', at most maxRunID long.
// A longer id keeps its start and ends in a hash of the whole, so two ids
// that differ only past the limit ("<run>" and "<run>-restore-1") stay
// different. An empty result becomes prefix-<random hex>.
func RunIDFrom(want, prefix string) string {
	id := strings.Trim(runIDBad.ReplaceAllString(want, "-"), "-_.")
	if id == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		id = prefix + "-" + hex.EncodeToString(b)
	}
	if len(id) > maxRunID {
		sum := sha256.Sum256([]byte(id))
		tail := "-" + hex.EncodeToString(sum[:4])
		id = strings.TrimRight(id[:maxRunID-len(tail)], "-_.") + tail
	}
	return id
}

// SweepTimeout bounds the sweep of ConnectSwept.
const SweepTimeout = 30 * time.Second

// ConnectSwept connects to Docker, sets the engine's Logf and, unless the
// caller already did (swept), removes what crashed runs left behind (a
// failed sweep is logged, not fatal): what a driver does before it starts
// a cluster.
func ConnectSwept(ctx context.Context, logf func(string, ...any), swept bool) (*Engine, error) {
	e, err := Connect(ctx)
	if err != nil {
		return nil, err
	}
	e.Logf = logf
	if swept {
		return e, nil
	}
	sctx, cancel := context.WithTimeout(ctx, SweepTimeout)
	defer cancel()
	if _, err := e.Sweep(sctx, false); err != nil {
		logf("%v", err)
	}
	return e, nil
}
