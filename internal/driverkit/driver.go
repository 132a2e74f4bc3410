package driverkit

import (
	"context"
	"fmt"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/docker"
)

// DockerCluster is what every cluster on Base implements: drivers.Cluster
// (with the driver's Info and NewClient) and the node controls, pause and
// partitions Base gives it. A driver asserts it once and lists only what
// its cluster adds (Membership, BackupRestorer…).
type DockerCluster interface {
	drivers.Cluster
	drivers.NodeController
	drivers.Pauser
	drivers.Partitioner
	// CloseAfterFailure removes what a failed start left (Base has it).
	CloseAfterFailure(ctx context.Context)
}

// DockerDriver is drivers.Driver for a database that runs on the docker
// provider only: a driver's Driver type embeds it and fills in how its
// options are read and its cluster opened and formed. O is the driver's
// parsed options, C its cluster type.
type DockerDriver[O any, C DockerCluster] struct {
	DB    string // the --driver name ("redis"); every error starts with it
	About string // one line for `evalrun drivers`
	// Options parses cluster.options (*drivers.OptionError).
	Options func(in map[string]string) (O, error)
	// Topology says what a cluster of nodes with these options will be,
	// or why it cannot be: its nodes and roles. Plan adds what C
	// implements (Capabilities, BackupMethods).
	Topology func(nodes int, opts O) (drivers.Topology, error)
	// Open connects to Docker and creates the run's networks (Open of this
	// package); it starts no node.
	Open func(ctx context.Context, spec drivers.ClusterSpec, opts O) (C, error)
	// Form starts the nodes of an opened cluster and makes them a cluster
	// of nodes (ClusterSpec.Nodes); it returns once the cluster is ready.
	Form func(c C, ctx context.Context, nodes int) error
}

// Name implements drivers.Driver.
func (d DockerDriver[O, C]) Name() string { return d.DB }

// Description implements drivers.Driver.
func (d DockerDriver[O, C]) Description() string { return d.About }

// Providers implements drivers.Driver: docker only.
func (DockerDriver[O, C]) Providers() []string { return []string{drivers.ProviderDocker} }

// Plan implements drivers.Driver: Options and Topology, with the
// capabilities and backup methods of C.
func (d DockerDriver[O, C]) Plan(provider string, nodes int, options map[string]string) (drivers.Topology, error) {
	if err := CheckDocker(d.DB, provider); err != nil {
		return drivers.Topology{}, err
	}
	_, top, err := d.check(nodes, options)
	return top, err
}

func (d DockerDriver[O, C]) check(nodes int, options map[string]string) (O, drivers.Topology, error) {
	opts, err := d.Options(options)
	if err != nil {
		return opts, drivers.Topology{}, err
	}
	top, err := d.Topology(nodes, opts)
	if err != nil {
		return opts, drivers.Topology{}, err
	}
	var prototype C // a nil pointer: enough to say what the type implements
	top.Capabilities = drivers.CapabilitiesOf(prototype)
	top.BackupMethods = drivers.BackupMethodsOf(prototype)
	top.Resources = drivers.LimitsResources(prototype)
	return opts, top, nil
}

// StartCluster implements drivers.Driver: Plan's checks, Open, Form. On
// error nothing it started is left running.
func (d DockerDriver[O, C]) StartCluster(ctx context.Context, spec drivers.ClusterSpec) (drivers.Cluster, error) {
	if err := CheckDocker(d.DB, spec.Provider); err != nil {
		return nil, err
	}
	opts, _, err := d.check(spec.Nodes, spec.Options)
	if err != nil {
		return nil, err
	}
	c, err := d.Open(ctx, spec, opts)
	if err != nil {
		return nil, err
	}
	if err := d.Form(c, ctx, spec.Nodes); err != nil {
		c.CloseAfterFailure(ctx)
		return nil, err
	}
	return c, nil
}

// CheckDocker refuses a provider other than docker ("" is the default,
// docker) for a driver that runs on the docker provider only.
func CheckDocker(driver, provider string) error {
	switch provider {
	case drivers.ProviderDocker, "":
		return nil
	}
	return fmt.Errorf("%s: provider %q: %w (%s runs on the docker provider)", driver, provider, drivers.ErrNotSupported, driver)
}

// OfflineImage is drivers.ImageBuilder for a driver whose nodes run an
// official image or, when that cannot be had, one built from Debian
// packages (docker.DebianImage). A driver's Driver type embeds it.
type OfflineImage struct {
	Driver   string // "redis": the argument of `evalrun images build`, and what errors start with
	Official string // the official image, e.g. "redis:7.2"
	// Recipe is the Debian image; progress gets its build's lines.
	Recipe func(progress func(string)) docker.DebianImage
}

// DefaultImage implements drivers.ImageBuilder.
func (o OfflineImage) DefaultImage() string { return o.Official }

// BuildImage implements drivers.ImageBuilder: it builds the Debian image
// anew (packages fetched and checked the first time, cached afterwards)
// and returns its reference.
func (o OfflineImage) BuildImage(ctx context.Context, progress func(string)) (string, error) {
	ref, err := docker.BuildOffline(ctx, o.Recipe(progress))
	if err != nil {
		return "", fmt.Errorf("%s: %w", o.Driver, err)
	}
	return ref, nil
}

// Choice is what a cluster may run, in docker.Engine.ResolveImage's order:
// ClusterSpec.Image when given, else the official image when local, else
// ours when local, else the official image pulled, else ours built.
func (o OfflineImage) Choice(progress func(string)) docker.ImageChoice {
	recipe := o.Recipe(progress)
	return docker.ImageChoice{Official: o.Official, Offline: &recipe,
		Hint: "`evalrun images build " + o.Driver + "` builds " + recipe.Repo + " from Debian packages"}
}
