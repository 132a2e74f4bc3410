package etcd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	dc "github.com/ory/dockertest/v3/docker"

	"github.com/evalrun/evalrun/internal/docker"
)

// errNoTool: the image lacks the restore tool a container was started with.
var errNoTool = errors.New("executable not in the image")

// restoreTools returns the tools to try, in order: etcdutl (etcd 3.5+,
// where `etcdctl snapshot restore` is deprecated and, from 3.6, gone), then
// etcdctl (etcd 3.4, which has no etcdutl) — the other way round for the
// Debian image, which runs etcd 3.4.
func (c *dockerCluster) restoreTools() []string {
	if isOfflineImage(c.Image) {
		return []string{"etcdctl", "etcdutl"}
	}
	return []string{"etcdutl", "etcdctl"}
}

// restoreAll writes the data directory of every initial member from the
// snapshot in c.restoreDir, one restore container per member, all at the
// same time.
func (c *dockerCluster) restoreAll(ctx context.Context, ms []*dockerMember, initialCluster string) error {
	begin := time.Now()
	errs := make([]error, len(ms))
	tools := make([]string, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Go(func() {
			for _, t := range c.restoreTools() {
				tools[i] = t
				if errs[i] = c.restoreMember(ctx, m, initialCluster, t); !errors.Is(errs[i], errNoTool) {
					return
				}
			}
			errs[i] = fmt.Errorf("image %s has neither etcdutl nor etcdctl: %w", c.Image, errs[i])
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	c.Logf("etcd: restored the data of %d members with %s snapshot restore in %s", len(ms), tools[0], time.Since(begin).Round(time.Millisecond))
	return nil
}

// restoreMember runs `tool snapshot restore` in a one-shot container of
// the image, which writes m's data directory on the host. The container
// carries the run's labels, so Close removes it should it be left.
func (c *dockerCluster) restoreMember(ctx context.Context, m *dockerMember, initialCluster, tool string) error {
	ctx, cancel := context.WithTimeout(ctx, restoreTimeout)
	defer cancel()
	cli := c.Engine.Client()
	labels := c.Engine.Labels(c.RunID)
	labels[docker.LabelNode] = m.Name + "-restore"
	labels[dbLabel] = "etcd"
	cont, err := cli.CreateContainer(dc.CreateContainerOptions{
		Name: "evalrun-" + c.RunID + "-" + m.Name + "-restore",
		Config: &dc.Config{
			Image:      c.Image,
			Entrypoint: []string{tool},
			Cmd: []string{"snapshot", "restore", restoreMount + "/" + restoreSnap,
				"--name=" + m.Name,
				"--initial-cluster=" + initialCluster,
				"--initial-cluster-token=" + c.token,
				"--initial-advertise-peer-urls=" + peerURLOf(m.Name),
				"--data-dir=" + restoreDataMount + "/" + m.Name,
			},
			Env:    []string{"ETCDCTL_API=3"},
			User:   docker.CallerUser(),
			Labels: labels,
		},
		HostConfig: &dc.HostConfig{
			NetworkMode: "none",
			Binds:       []string{c.dataRoot + ":" + restoreDataMount, c.restoreDir + ":" + restoreMount + ":ro"},
		},
		Context: ctx,
	})
	if err != nil {
		return fmt.Errorf("%s: create the restore container: %w", m.Name, err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		_ = cli.RemoveContainer(dc.RemoveContainerOptions{ID: cont.ID, Force: true, RemoveVolumes: true, Context: rctx})
	}()
	if err := cli.StartContainerWithContext(cont.ID, nil, ctx); err != nil {
		if s := err.Error(); strings.Contains(s, "executable file not found") || strings.Contains(s, "no such file or directory") {
			return fmt.Errorf("%s: %s: %w", m.Name, tool, errNoTool)
		}
		return fmt.Errorf("%s: start the restore container: %w", m.Name, err)
	}
	code, err := cli.WaitContainerWithContext(cont.ID, ctx)
	if err != nil {
		return fmt.Errorf("%s: %s snapshot restore: %w", m.Name, tool, err)
	}
	if code != 0 {
		var out bytes.Buffer
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = cli.Logs(dc.LogsOptions{Context: lctx, Container: cont.ID, OutputStream: &out, ErrorStream: &out,
			Stdout: true, Stderr: true, Tail: "15"})
		cancel()
		return fmt.Errorf("%s: %s snapshot restore exited with %d: %s", m.Name, tool, code, strings.TrimSpace(out.String()))
	}
	return nil
}
