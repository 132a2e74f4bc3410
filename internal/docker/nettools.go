package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	dc "github.com/ory/dockertest/v3/docker"
)

// RoleNettools is the LabelRole of the short-lived helper containers that
// SetShaping, NetState and HasNetem run.
const RoleNettools = "nettools"

// NettoolsImage is the recipe of the helper image evalrun/nettools:
// Debian's iproute2 (tc, ip) and iptables (both the nf_tables and the
// legacy backend), nothing else. Its tag carries iproute2's version.
func NettoolsImage() DebianImage {
	return DebianImage{
		Repo:      "evalrun/nettools",
		VersionOf: "iproute2",
		Suite:     "bookworm",
		Packages:  []string{"iproute2", "iptables"},
	}
}

// helperTimeout bounds one helper container, start to removal, when the
// caller's ctx allows more.
const helperTimeout = 60 * time.Second

// helperOutputLimit bounds what a helper's output may grow to.
const helperOutputLimit = 1 << 20

// grayState is the per-Engine state of the gray-failure mechanisms.
type grayState struct {
	imgMu    sync.Mutex
	nettools string // image reference, once ensured

	netemMu sync.Mutex
	netem   *bool // nil until checked
}

// nettoolsImage returns the helper image, building it the first time (the
// Debian recipe's local image is reused across processes).
func (e *Engine) nettoolsImage(ctx context.Context) (string, error) {
	e.gray.imgMu.Lock()
	defer e.gray.imgMu.Unlock()
	if e.gray.nettools != "" {
		return e.gray.nettools, nil
	}
	ref, _, err := e.EnsureDebianImage(ctx, NettoolsImage())
	if err != nil {
		return "", fmt.Errorf("docker: the network helper image (evalrun/nettools): %w", err)
	}
	e.gray.nettools = ref
	return ref, nil
}

// helperRun is one short-lived helper container.
type helperRun struct {
	runID   string   // its LabelRun (so Close and Sweep find it)
	name    string   // container name; "" lets Docker pick
	netMode string   // "container:<id>" to join a node's namespace, "none" for one of its own
	cmd     []string // argv; no shell unless cmd says so
}

// helperResult is what a helper printed and how it exited.
type helperResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
	Took     time.Duration // create to removal
}

// runHelper runs h in the nettools image with NET_ADMIN, auto-removed, and
// returns its output and exit code. ctx (at most helperTimeout) bounds it:
// when it ends, the container is removed forcibly. An error means the
// helper could not run; a non-zero exit is in the result.
func (e *Engine) runHelper(ctx context.Context, h helperRun) (helperResult, error) {
	t0 := time.Now()
	id, err := e.createHelper(ctx, h)
	if err != nil {
		return helperResult{ExitCode: -1}, err
	}
	ctx, cancel := context.WithTimeout(ctx, helperTimeout)
	defer cancel()
	res, err := e.startHelper(ctx, id)
	if err != nil || ctx.Err() != nil {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer rcancel()
		if rerr := e.removeContainer(rctx, id); rerr != nil && !isNotFound(rerr) && err == nil {
			err = fmt.Errorf("docker: remove network helper: %w", rerr)
		}
	}
	res.Took = time.Since(t0)
	return res, err
}

// createHelper creates h's container, building the image if needed (again
// if it was removed since this Engine last used it).
func (e *Engine) createHelper(ctx context.Context, h helperRun) (string, error) {
	labels := e.Labels(h.runID)
	labels[LabelRole] = RoleNettools
	var err error
	for attempt := 1; attempt <= 2; attempt++ {
		var img string
		if img, err = e.nettoolsImage(ctx); err != nil {
			return "", err
		}
		var cont *dc.Container
		cont, err = e.client.CreateContainer(dc.CreateContainerOptions{
			Name:   h.name,
			Config: &dc.Config{Image: img, Cmd: h.cmd, Labels: labels},
			HostConfig: &dc.HostConfig{
				NetworkMode: h.netMode, CapAdd: []string{"NET_ADMIN"}, AutoRemove: true,
				Memory: 64 << 20, MemorySwap: 64 << 20,
			},
			Context: ctx,
		})
		if err == nil {
			return cont.ID, nil
		}
		if !errors.Is(err, dc.ErrNoSuchImage) {
			break
		}
		e.gray.imgMu.Lock()
		e.gray.nettools = "" // removed meanwhile (evalrun clean, image prune)
		e.gray.imgMu.Unlock()
	}
	return "", fmt.Errorf("docker: create network helper: %w", err)
}

// startHelper attaches to the created container id, registers a wait for
// its removal, starts it and collects its output and exit code.
func (e *Engine) startHelper(ctx context.Context, id string) (helperResult, error) {
	res := helperResult{ExitCode: -1}
	var stdout, stderr bytes.Buffer
	success := make(chan struct{})
	cw, err := e.client.AttachToContainerNonBlocking(dc.AttachToContainerOptions{
		Container: id, OutputStream: &limitedBuffer{b: &stdout, n: helperOutputLimit},
		ErrorStream: &limitedBuffer{b: &stderr, n: helperOutputLimit},
		Stream:      true, Stdout: true, Stderr: true, Success: success,
	})
	if err != nil {
		return res, fmt.Errorf("docker: attach to network helper: %w", err)
	}
	defer cw.Close()
	select {
	case <-success:
		success <- struct{}{}
	case <-ctx.Done():
		return res, fmt.Errorf("docker: attach to network helper: %w", ctx.Err())
	}
	// The daemon answers a wait's headers at once (API >= 1.30), so once do
	// returns the wait is registered: it cannot miss the removal.
	resp, err := e.do(ctx, http.MethodPost, "/containers/"+id+"/wait", url.Values{"condition": {"removed"}}, nil, "")
	if err != nil {
		return res, fmt.Errorf("docker: wait for network helper: %w", err)
	}
	defer resp.Body.Close()
	if err := e.client.StartContainerWithContext(id, nil, ctx); err != nil {
		return res, fmt.Errorf("docker: start network helper: %w", err)
	}
	var w struct {
		StatusCode int
		Error      *struct{ Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&w); err != nil {
		return res, fmt.Errorf("docker: wait for network helper: %w", err)
	}
	if w.Error != nil && w.Error.Message != "" {
		return res, fmt.Errorf("docker: network helper: %s", w.Error.Message)
	}
	// The output stream ends when the process does; removal follows it.
	done := make(chan error, 1)
	go func() { done <- cw.Wait() }()
	select {
	case err := <-done:
		if err != nil { // the exit code stands; only the output may be cut
			e.logf("docker: network helper %s: output stream: %v", shortID(id), err)
		}
	case <-ctx.Done():
		return res, fmt.Errorf("docker: network helper output: %w", ctx.Err())
	}
	res.ExitCode, res.Stdout, res.Stderr = w.StatusCode, stdout.String(), stderr.String()
	return res, nil
}

// limitedBuffer keeps the first n bytes written to it and drops the rest
// (without failing the writer, so the stream is drained).
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// randomHex is n random bytes in hex, for unique names.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
