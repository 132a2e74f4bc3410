package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/ory/dockertest/v3"
	dc "github.com/ory/dockertest/v3/docker"

	"github.com/evalrun/evalrun/internal/errext"
)

// PingTimeout bounds the reachability check of Connect.
const PingTimeout = 5 * time.Second

// UnreachableError is returned by Connect when the Docker daemon cannot be
// reached. Its message is one line that says what to do; the CLI can
// recognise it with errors.As and print it as is.
type UnreachableError struct {
	Endpoint string // the daemon address tried (unix:///var/run/docker.sock)
	Cause    string // the root cause, one line
	Err      error  // the underlying error
}

func (e *UnreachableError) Error() string {
	hint := "start it (e.g. 'sudo systemctl start docker') or use --provider embedded"
	if errors.Is(e.Err, fs.ErrPermission) || errors.Is(e.Err, syscall.EACCES) {
		hint = "add your user to the 'docker' group (or run as root) or use --provider embedded"
	}
	return fmt.Sprintf("Docker is not reachable (%s); %s", e.Cause, hint)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ExitCode implements errext.HasExitCode: the user starts Docker (or
// picks the embedded provider); evalrun cannot fix it.
func (e *UnreachableError) ExitCode() errext.ExitCode { return errext.ExitBadInput }

// Engine is a connection to the Docker daemon plus the identity (host, pid,
// process start time) that labels everything this process creates.
type Engine struct {
	pool   *dockertest.Pool
	client *dc.Client
	base   string // base URL for the requests this package makes itself
	owner  owner

	// Logf receives progress lines (image pulls and builds, sweeps). It is a
	// no-op by default; set it right after Connect, before other calls.
	Logf func(format string, args ...any)

	gray grayState // the network helper image and the netem check (shape.go)
}

// Connect connects to the Docker daemon named by DOCKER_HOST (default: the
// local unix socket) and checks that it answers within PingTimeout. When it
// does not, the error is an *UnreachableError.
func Connect(ctx context.Context) (*Engine, error) {
	endpoint := os.Getenv("DOCKER_HOST")
	if endpoint == "" {
		endpoint = "unix:///var/run/docker.sock"
	}
	pool, err := dockertest.NewPool("")
	if err != nil {
		return nil, &UnreachableError{Endpoint: endpoint, Cause: oneLine(err), Err: err}
	}
	base, err := baseURL(pool.Client)
	if err != nil {
		return nil, &UnreachableError{Endpoint: endpoint, Cause: oneLine(err), Err: err}
	}
	e := &Engine{pool: pool, client: pool.Client, base: base, owner: thisOwner(), Logf: func(string, ...any) {}}
	pctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	if err := e.ping(pctx); err != nil {
		cause := rootCause(err)
		if pctx.Err() != nil && ctx.Err() == nil {
			cause = fmt.Sprintf("no answer from %s within %s", pool.Client.Endpoint(), PingTimeout)
		}
		return nil, &UnreachableError{Endpoint: pool.Client.Endpoint(), Cause: cause, Err: err}
	}
	return e, nil
}

// Client is the underlying go-dockerclient client, for what this package
// does not wrap. Label what you create with Labels.
func (e *Engine) Client() *dc.Client { return e.client }

func (e *Engine) logf(format string, args ...any) {
	if e.Logf != nil {
		e.Logf(format, args...)
	}
}

func (e *Engine) ping(ctx context.Context) error {
	resp, err := e.do(ctx, http.MethodGet, "/_ping", nil, nil, "")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// ServerVersion is the Docker daemon's version ("20.10.24+dfsg1"), for
// the report's record of where a run ran.
func (e *Engine) ServerVersion(ctx context.Context) (string, error) {
	var v struct{ Version string }
	if err := e.doJSON(ctx, http.MethodGet, "/version", nil, &v); err != nil {
		return "", fmt.Errorf("docker: version: %w", err)
	}
	return v.Version, nil
}

// baseURL is the URL prefix for requests made with the client's HTTPClient
// (which already dials the unix socket or speaks TLS).
func baseURL(c *dc.Client) (string, error) {
	ep := c.Endpoint()
	u, err := url.Parse(ep)
	if err != nil {
		return "", fmt.Errorf("bad Docker endpoint %q: %w", ep, err)
	}
	switch u.Scheme {
	case "unix":
		return "http://unix.sock", nil
	case "tcp":
		if c.TLSConfig != nil {
			return "https://" + u.Host, nil
		}
		return "http://" + u.Host, nil
	case "http", "https":
		return strings.TrimRight(ep, "/"), nil
	}
	return "", fmt.Errorf("Docker endpoint %q: scheme %q is not supported", ep, u.Scheme)
}

// do makes one API request honouring ctx. A status >= 400 becomes a
// *dc.Error carrying the daemon's message.
func (e *Engine) do(ctx context.Context, method, path string, query url.Values, body io.Reader, contentType string) (*http.Response, error) {
	u := e.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil && contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.client.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var m struct {
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &m) == nil && m.Message != "" {
			msg = m.Message
		}
		return nil, &dc.Error{Status: resp.StatusCode, Message: msg}
	}
	return resp, nil
}

// doJSON makes a request and decodes a JSON answer into out (if not nil).
func (e *Engine) doJSON(ctx context.Context, method, path string, query url.Values, out any) error {
	resp, err := e.do(ctx, method, path, query, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func apiStatus(err error) int {
	var de *dc.Error
	if errors.As(err, &de) {
		return de.Status
	}
	return 0
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var nsc *dc.NoSuchContainer
	var nsn *dc.NoSuchNetwork
	return apiStatus(err) == http.StatusNotFound || errors.As(err, &nsc) || errors.As(err, &nsn) ||
		errors.Is(err, dc.ErrNoSuchImage)
}

// rootCause reduces a transport error to its innermost useful line, e.g.
// "dial unix /var/run/docker.sock: connect: no such file or directory".
func rootCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oneLine(oe)
	}
	return oneLine(err)
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
