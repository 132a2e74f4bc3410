package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	dc "github.com/ory/dockertest/v3/docker"
)

// LogTailLines is how many log lines a ReadyError carries.
const LogTailLines = 20

// Node is one container of a Cluster.
type Node struct {
	c     *Cluster
	spec  NodeSpec
	name  string
	cname string
	id    string
	ip    string
	ports map[string]int // "6379/tcp" -> host port

	mu       sync.Mutex
	offRun   bool    // cut off the run network by Partition
	groupNet string  // its partition group's network ID
	shaping  Shaping // what SetShaping last set (shape.go)

	shapeMu sync.Mutex // serialises the helpers that shape the node
}

// Name is the node name (node1): its hostname and DNS alias.
func (n *Node) Name() string { return n.name }

// Hostname is the node's hostname: Name, or Name.Domain when the spec sets
// a domain.
func (n *Node) Hostname() string {
	if n.spec.Domain != "" {
		return n.name + "." + n.spec.Domain
	}
	return n.name
}

// aliases are the node's DNS names on each of its networks.
func (n *Node) aliases() []string {
	if n.spec.Domain != "" {
		return []string{n.name, n.Hostname()}
	}
	return []string{n.name}
}

// ContainerID is the Docker container ID.
func (n *Node) ContainerID() string { return n.id }

// IP is the node's fixed address on the run network, for configuring peers
// (advertise addresses, cluster-announce-ip). The host never dials it: use
// Addr.
func (n *Node) IP() string { return n.ip }

// Addr returns "127.0.0.1:<host port>" for a published container port
// ("6379/tcp" or "6379"), or "" if that port is not published.
func (n *Node) Addr(port string) string {
	hp := n.HostPort(port)
	if hp == 0 {
		return ""
	}
	return "127.0.0.1:" + strconv.Itoa(hp)
}

// HostPort returns the host port of a published container port, or 0.
func (n *Node) HostPort(port string) int {
	p, err := normPort(port)
	if err != nil {
		return 0
	}
	return n.ports[p]
}

func (n *Node) setOffRun(v bool) {
	n.mu.Lock()
	n.offRun = v
	n.mu.Unlock()
}

func (n *Node) setGroup(id string) {
	n.mu.Lock()
	n.groupNet = id
	n.mu.Unlock()
}

func (n *Node) partitionState() (offRun bool, group string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.offRun, n.groupNet
}

// ReadyError says why a node did not become ready, with the end of its log.
type ReadyError struct {
	Node      string // node1
	Container string // evalrun-<run>-node1
	After     time.Duration
	Exited    bool // the container stopped before it was ready
	ExitCode  int
	Cause     error // the last error of Ready, or ctx's
	LogTail   string
}

func (e *ReadyError) Error() string {
	var b strings.Builder
	if e.Exited {
		fmt.Fprintf(&b, "node %s (container %s) exited with code %d before it was ready", e.Node, e.Container, e.ExitCode)
	} else {
		fmt.Fprintf(&b, "node %s (container %s) not ready after %s", e.Node, e.Container, e.After.Round(time.Millisecond))
		if e.Cause != nil {
			fmt.Fprintf(&b, ": %v", e.Cause)
		}
	}
	tail := strings.TrimRight(e.LogTail, "\n")
	if tail == "" {
		b.WriteString("; its log is empty")
	} else {
		fmt.Fprintf(&b, "; last lines of its log:\n%s", indent(tail, "    "))
	}
	return b.String()
}

func (e *ReadyError) Unwrap() error { return e.Cause }

func indent(s, pre string) string {
	return pre + strings.ReplaceAll(s, "\n", "\n"+pre)
}

// WaitReady polls the spec's Ready until it succeeds, the container stops,
// or ReadyTimeout passes (*ReadyError). Start and StartNode call it.
func (n *Node) WaitReady(ctx context.Context) error {
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, n.spec.ReadyTimeout)
	defer cancel()
	var last error
	interval := 100 * time.Millisecond
	for attempt := 0; attempt < 100000; attempt++ {
		st, err := n.inspect(rctx)
		switch {
		case err != nil:
			// An inspect cut short by the ready deadline says nothing
			// about the node: keep the check's own failure as the cause.
			if last == nil || rctx.Err() == nil {
				last = err
			}
		case !st.Running:
			return n.readyError(ctx, start, true, st.ExitCode, nil)
		case n.spec.Ready == nil:
			return nil
		default:
			if last = n.spec.Ready(rctx, n); last == nil {
				return nil
			}
		}
		select {
		case <-rctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("docker: node %s: waiting for ready: %w", n.name, ctx.Err())
			}
			return n.readyError(ctx, start, false, 0, last)
		case <-time.After(interval):
		}
		interval = min(interval*3/2, 500*time.Millisecond)
	}
	return n.readyError(ctx, start, false, 0, last)
}

func (n *Node) readyError(ctx context.Context, start time.Time, exited bool, code int, cause error) error {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	tail, err := n.Logs(lctx, LogTailLines)
	// Docker may still be copying the last output of a process that just
	// exited into its log: read again until it stops changing (bounded).
	for i := 0; exited && err == nil && i < 6; i++ {
		time.Sleep(150 * time.Millisecond)
		again, err2 := n.Logs(lctx, LogTailLines)
		if err2 != nil || again == tail {
			break
		}
		tail = again
	}
	if err != nil {
		tail = fmt.Sprintf("(log unavailable: %v)", err)
	}
	return &ReadyError{Node: n.name, Container: n.cname, After: time.Since(start), Exited: exited,
		ExitCode: code, Cause: cause, LogTail: tail}
}

// NodeState is what Docker says about a node's container.
type NodeState struct {
	Status   string // created, running, paused, exited…
	Running  bool   // also true while paused
	Paused   bool
	ExitCode int
	Started  time.Time
}

// State inspects the container.
func (n *Node) State(ctx context.Context) (NodeState, error) {
	st, err := n.inspect(ctx)
	if err != nil {
		return NodeState{}, err
	}
	return NodeState{Status: st.Status, Running: st.Running, Paused: st.Paused, ExitCode: st.ExitCode, Started: st.StartedAt}, nil
}

func (n *Node) inspect(ctx context.Context) (dc.State, error) {
	c, err := n.c.e.client.InspectContainerWithContext(n.id, ctx)
	if err != nil {
		return dc.State{}, fmt.Errorf("docker: node %s: inspect: %w", n.name, err)
	}
	return c.State, nil
}

// Kill stops the node abruptly (SIGKILL) and returns once it is down.
// Killing a node that is not running is a no-op; a paused node is thawed
// first (Docker refuses to signal a frozen container).
func (n *Node) Kill(ctx context.Context) error {
	if err := n.Unpause(ctx); err != nil {
		return err
	}
	err := n.c.e.client.KillContainer(dc.KillContainerOptions{ID: n.id, Signal: dc.SIGKILL, Context: ctx})
	var nr *dc.ContainerNotRunning
	if err != nil && !errors.As(err, &nr) {
		return fmt.Errorf("docker: node %s: kill: %w", n.name, err)
	}
	return n.waitStopped(ctx, 10*time.Second)
}

// Stop stops the node gracefully: SIGTERM (or the image's stop signal),
// then SIGKILL after grace (rounded up to whole seconds). ctx should allow
// for grace. Stopping a node that is not running is a no-op; a paused node
// is thawed first.
func (n *Node) Stop(ctx context.Context, grace time.Duration) error {
	if err := n.Unpause(ctx); err != nil {
		return err
	}
	secs := uint(math.Ceil(max(grace, 0).Seconds()))
	err := n.c.e.client.StopContainerWithContext(n.id, secs, ctx)
	var nr *dc.ContainerNotRunning
	if err != nil && !errors.As(err, &nr) {
		return fmt.Errorf("docker: node %s: stop: %w", n.name, err)
	}
	return n.waitStopped(ctx, 10*time.Second)
}

func (n *Node) waitStopped(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		st, err := n.inspect(ctx)
		if err != nil {
			return err
		}
		if !st.Running {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("docker: node %s: still running: %w", n.name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Start starts a stopped or killed node (same container: same data, IP and
// host ports) and waits for it to be ready. Unlike StartNode, a node that
// does not become ready is left in place. A paused node is thawed (and
// then counts as started).
func (n *Node) Start(ctx context.Context) error {
	if err := n.Unpause(ctx); err != nil {
		return err
	}
	err := n.c.e.client.StartContainerWithContext(n.id, nil, ctx)
	var ar *dc.ContainerAlreadyRunning
	if err != nil && !errors.As(err, &ar) {
		return fmt.Errorf("docker: node %s: start: %w", n.name, err)
	}
	if err == nil {
		if err := n.reapplyShaping(ctx); err != nil { // a new network namespace
			return err
		}
	}
	return n.WaitReady(ctx)
}

// Restart stops the node gracefully (the spec's StopGrace) and starts it.
func (n *Node) Restart(ctx context.Context) error {
	if err := n.Stop(ctx, n.spec.StopGrace); err != nil {
		return err
	}
	return n.Start(ctx)
}

// Pause freezes every process of the node (cgroup freezer): connections
// stay open and the kernel still completes TCP handshakes, but nothing
// answers. Pausing a paused node is a no-op.
//
// The cgroup freezer gives up when a process does not stop in time (one
// blocked in the kernel, say an fsync under load: runc's "unable to
// freeze"); Pause tries up to pauseAttempts times before it reports that.
func (n *Node) Pause(ctx context.Context) error {
	var err error
	for attempt := 1; attempt <= pauseAttempts; attempt++ {
		err = n.c.e.doJSON(ctx, http.MethodPost, "/containers/"+n.id+"/pause", nil, nil)
		if err == nil || strings.Contains(err.Error(), "already paused") {
			return nil
		}
		if !strings.Contains(err.Error(), "unable to freeze") || attempt == pauseAttempts {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("docker: node %s: pause: %w", n.name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("docker: node %s: pause: %w", n.name, err)
}

// pauseAttempts bounds Pause's retries of a freeze that timed out.
const pauseAttempts = 5

// Unpause thaws a paused node. Unpausing a node that is not paused is a no-op.
func (n *Node) Unpause(ctx context.Context) error {
	err := n.c.e.doJSON(ctx, http.MethodPost, "/containers/"+n.id+"/unpause", nil, nil)
	if err != nil && !strings.Contains(err.Error(), "is not paused") {
		return fmt.Errorf("docker: node %s: unpause: %w", n.name, err)
	}
	return nil
}

// Remove removes the node's container (forcibly, with anonymous volumes) and
// forgets the node (remove-node).
func (n *Node) Remove(ctx context.Context) error {
	err := n.c.e.removeContainer(ctx, n.id)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("docker: node %s: remove: %w", n.name, err)
	}
	// The Engine API takes a network's name where it takes its ID.
	if err := n.c.removeNetworkRetry(ctx, harnessNetworkName(n.c.runID, n.name)); err != nil && !isNotFound(err) {
		return fmt.Errorf("docker: node %s: remove its harness network: %w", n.name, err)
	}
	n.c.forget(n)
	return nil
}

// ExecResult is the outcome of Exec.
type ExecResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// Exec runs cmd in the node (no shell: cmd[0] is looked up in the image's
// PATH) and returns its exit code and output. When ctx ends first, Exec
// returns ctx's error at once; the command itself may go on running in the
// container (Docker cannot kill an exec), so bound long commands inside
// too (e.g. `timeout 5 …`).
func (n *Node) Exec(ctx context.Context, cmd []string) (ExecResult, error) {
	if len(cmd) == 0 {
		return ExecResult{}, fmt.Errorf("docker: node %s: exec: empty command", n.name)
	}
	ex, err := n.c.e.client.CreateExec(dc.CreateExecOptions{
		Container: n.id, Cmd: cmd, AttachStdout: true, AttachStderr: true, Context: ctx,
	})
	if err != nil {
		return ExecResult{ExitCode: -1}, fmt.Errorf("docker: node %s: exec %q: %w", n.name, cmd, err)
	}
	var stdout, stderr bytes.Buffer
	cw, err := n.c.e.client.StartExecNonBlocking(ex.ID, dc.StartExecOptions{
		OutputStream: &stdout, ErrorStream: &stderr, Context: ctx,
	})
	if err != nil {
		return ExecResult{ExitCode: -1}, fmt.Errorf("docker: node %s: exec %q: %w", n.name, cmd, err)
	}
	done := make(chan error, 1)
	go func() { done <- cw.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = cw.Close() // ends the exec's output; its own error says nothing more
		select {
		case werr := <-done:
			_ = werr // the exec ended because ctx did: ctx's error is the cause
		case <-time.After(time.Second):
			return ExecResult{ExitCode: -1}, fmt.Errorf("docker: node %s: exec %q: %w", n.name, cmd, ctx.Err())
		}
		return ExecResult{ExitCode: -1, Stdout: stdout.String(), Stderr: stderr.String()},
			fmt.Errorf("docker: node %s: exec %q: %w", n.name, cmd, ctx.Err())
	}
	res := ExecResult{ExitCode: -1, Stdout: stdout.String(), Stderr: stderr.String()}
	if err != nil {
		return res, fmt.Errorf("docker: node %s: exec %q: %w", n.name, cmd, err)
	}
	// The stream ends when the process does; its exit code follows shortly.
	for i := 0; i < 100; i++ {
		var ins struct {
			Running  bool
			ExitCode int
		}
		if err := n.c.e.doJSON(ctx, http.MethodGet, "/exec/"+ex.ID+"/json", nil, &ins); err != nil {
			return res, fmt.Errorf("docker: node %s: exec %q: inspect: %w", n.name, cmd, err)
		}
		if !ins.Running {
			res.ExitCode = ins.ExitCode
			return res, nil
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("docker: node %s: exec %q: %w", n.name, cmd, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return res, fmt.Errorf("docker: node %s: exec %q: still running after its output ended", n.name, cmd)
}

// Logs returns the last tail lines of the node's stdout and stderr,
// interleaved as written (tail <= 0: all of it).
func (n *Node) Logs(ctx context.Context, tail int) (string, error) {
	t := "all"
	if tail > 0 {
		t = strconv.Itoa(tail)
	}
	var buf bytes.Buffer
	err := n.c.e.client.Logs(dc.LogsOptions{
		Context: ctx, Container: n.id, OutputStream: &buf, ErrorStream: &buf,
		Stdout: true, Stderr: true, Tail: t,
	})
	if err != nil {
		return buf.String(), fmt.Errorf("docker: node %s: logs: %w", n.name, err)
	}
	return buf.String(), nil
}
