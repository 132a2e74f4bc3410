package docker

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Ready helpers for NodeSpec.Ready. A bare TCP connect to a published port
// proves nothing: Docker's port proxy accepts connections even when nothing
// listens in the container. A Ready check must exchange data.

// ReadyHTTP returns a Ready func that GETs http://<Addr(port)><path> and
// wants a 2xx answer within 2 s.
func ReadyHTTP(port, path string) func(ctx context.Context, n *Node) error {
	client := &http.Client{Timeout: 2 * time.Second}
	return func(ctx context.Context, n *Node) error {
		addr := n.Addr(port)
		if addr == "" {
			return fmt.Errorf("port %s is not published", port)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil
	}
}

// ReadyExec returns a Ready func that runs cmd in the node and wants exit
// code 0 within 5 s.
func ReadyExec(cmd ...string) func(ctx context.Context, n *Node) error {
	return func(ctx context.Context, n *Node) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		r, err := n.Exec(ctx, cmd)
		if err != nil {
			return err
		}
		if r.ExitCode != 0 {
			out := strings.TrimSpace(r.Stdout + " " + r.Stderr)
			if len(out) > 200 {
				out = out[:200] + "…"
			}
			return fmt.Errorf("%q exited with %d: %s", cmd, r.ExitCode, out)
		}
		return nil
	}
}
