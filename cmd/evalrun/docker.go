package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/docker"
)

// connectDocker connects to the daemon; an unreachable daemon is bad input
// with its own one-line fix.
func connectDocker(ctx context.Context) (*docker.Engine, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	e, err := docker.Connect(ctx)
	if err != nil {
		var ue *docker.UnreachableError
		if errors.As(err, &ue) {
			return nil, badInput(ue, "")
		}
		return nil, badInput(err, "")
	}
	return e, nil
}

// sweepBeforeRun removes what runs killed with SIGKILL left behind, so a
// crash costs at most one run's containers until the next start.
func (a *app) sweepBeforeRun(ctx context.Context) error {
	e, err := connectDocker(ctx)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sw, err := e.Sweep(sctx, false)
	if err != nil {
		fmt.Fprintf(a.stderr, "  warning: %v\n", err)
	}
	if sw.Containers+sw.Networks > 0 {
		fmt.Fprintf(a.stderr, "  removed %d containers and %d networks left by earlier runs\n", sw.Containers, sw.Networks)
	}
	return nil
}

func (a *app) cleanCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "clean",
		Short: "Remove every container and network evalrun created (label evalrun.run), of any run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := connectDocker(cmd.Context())
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			sw, err := e.Sweep(ctx, true)
			fmt.Fprintf(a.stdout, "removed %d containers and %d networks\n", sw.Containers, sw.Networks)
			if err != nil {
				return &exitError{code: exitRunFailed, err: err}
			}
			return nil
		},
	}
}

func (a *app) imagesCommand() *cobra.Command {
	images := &cobra.Command{
		Use:   "images",
		Short: "Build the offline images of the docker provider",
	}
	images.AddCommand(&cobra.Command{
		Use:   "build DRIVER",
		Short: "Build DRIVER's image from Debian packages (debootstrap + docker import), for machines without a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := a.registry.Lookup(args[0])
			if err != nil {
				return badInput(err, "see 'evalrun drivers'")
			}
			b, ok := d.(drivers.ImageBuilder)
			if !ok {
				return badInput(fmt.Errorf("driver %s builds no image: %w", d.Name(), drivers.ErrNotSupported), "")
			}
			if _, err := connectDocker(cmd.Context()); err != nil {
				return err
			}
			t0 := time.Now()
			ref, err := b.BuildImage(cmd.Context(), func(line string) { fmt.Fprintf(a.stderr, "  %s\n", line) })
			if err != nil {
				return &exitError{code: exitRunFailed, err: fmt.Errorf("build %s image: %w", d.Name(), err)}
			}
			fmt.Fprintf(a.stdout, "built %s in %v\n", ref, time.Since(t0).Round(time.Second))
			return nil
		},
	})
	return images
}
