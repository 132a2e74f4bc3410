package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/docker"
	"github.com/evalrun/evalrun/internal/errext"
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
			return nil, errext.BadInput(ue, "")
		}
		return nil, errext.BadInput(err, "")
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
				return errext.WithExitCode(err, errext.ExitInternal)
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
	var release, deb string
	build := &cobra.Command{
		Use:   "build DRIVER",
		Short: "Build DRIVER's image offline from Debian packages (no registry, no root), then docker import it",
		Long: "Build DRIVER's image offline from Debian packages: apt's configured mirror (or $EVALRUN_DEBIAN_MIRROR),\n" +
			"signatures and checksums verified, packages cached under ~/.cache/evalrun, imported with docker import.\n" +
			"etcd, redis and mariadb come from Debian's packages (tag evalrun/<driver>:<version>-<recipe>; a label lists every\n" +
			"package version). Debian ships no Riak: give a Riak release directory (--release, a built rel/riak with\n" +
			"its ERTS) or a Riak .deb (--deb); the image is evalrun/riak:<version>.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := a.registry.Lookup(args[0])
			if err != nil {
				return errext.BadInput(err, "see 'evalrun drivers'")
			}
			if release != "" || deb != "" {
				if release != "" && deb != "" {
					return errext.BadInput(errors.New("--release and --deb exclude each other"), "")
				}
				if _, ok := d.(drivers.SourceImageBuilder); !ok {
					return errext.BadInput(fmt.Errorf("driver %s builds its image from Debian packages; --release and --deb are for riak", d.Name()), "")
				}
				for _, p := range []string{release, deb} {
					if p == "" {
						continue
					}
					if _, err := os.Stat(p); err != nil {
						return errext.BadInput(fmt.Errorf("%s: no such file or directory", p), "")
					}
				}
			}
			if _, err := connectDocker(cmd.Context()); err != nil {
				return err
			}
			progress := func(line string) { fmt.Fprintf(a.stderr, "  %s\n", line) }
			t0 := time.Now()
			var ref string
			sb, fromSource := d.(drivers.SourceImageBuilder)
			b, fromDebian := d.(drivers.ImageBuilder)
			switch {
			case fromSource && (release != "" || deb != ""):
				ref, err = sb.BuildImageFrom(cmd.Context(), drivers.ImageSource{ReleaseDir: release, Package: deb}, progress)
			case fromDebian:
				ref, err = b.BuildImage(cmd.Context(), progress)
			case fromSource:
				return errext.BadInput(fmt.Errorf("driver %s: Debian ships no package of it, so there is nothing to build from", d.Name()),
					"give --release DIR (a built release with its ERTS) or --deb FILE")
			default:
				return errext.BadInput(fmt.Errorf("driver %s builds no image: %w", d.Name(), drivers.ErrNotSupported), "")
			}
			if err != nil {
				return errext.WithExitCode(fmt.Errorf("build %s image: %w", d.Name(), err), errext.ExitInternal)
			}
			fmt.Fprintf(a.stdout, "built %s in %v\n", ref, time.Since(t0).Round(time.Second))
			return nil
		},
	}
	build.Flags().StringVar(&release, "release", "", "riak: a Riak release directory (rel/riak with its bundled ERTS)")
	build.Flags().StringVar(&deb, "deb", "", "riak: a Riak .deb package")
	images.AddCommand(build)
	return images
}
