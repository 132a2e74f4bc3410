package driverkit

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/docker"
)

// fakeCluster is a cluster on Base with no Docker behind it.
type fakeCluster struct {
	*Base[*testNode]
	closedAfterFailure bool
}

func (*fakeCluster) Info(context.Context) (drivers.ClusterInfo, error) {
	return drivers.ClusterInfo{}, nil
}
func (*fakeCluster) NewClient(context.Context) (drivers.Client, error) {
	return nil, errors.New("no client")
}
func (c *fakeCluster) CloseAfterFailure(context.Context) { c.closedAfterFailure = true }

func TestDockerDriver(t *testing.T) {
	errForm := errors.New("form failed")
	var opened *fakeCluster
	d := DockerDriver[int, *fakeCluster]{DB: "fake",
		Options: func(in map[string]string) (int, error) {
			if len(in) > 0 {
				return 0, &drivers.OptionError{Driver: "fake", Name: "x", Known: []string{}}
			}
			return 7, nil
		},
		Topology: func(nodes, opts int) (drivers.Topology, error) {
			if opts != 7 {
				t.Errorf("Topology got options %d, want what Options parsed", opts)
			}
			if nodes < 1 {
				return drivers.Topology{}, errors.New("fake: no nodes")
			}
			return drivers.Topology{Nodes: nodes}, nil
		},
		Open: func(_ context.Context, _ drivers.ClusterSpec, opts int) (*fakeCluster, error) {
			opened = &fakeCluster{Base: &Base[*testNode]{Driver: "fake"}}
			return opened, nil
		},
		Form: func(c *fakeCluster, _ context.Context, nodes int) error {
			if nodes == 2 {
				return errForm
			}
			return nil
		},
	}
	var oe *drivers.OptionError
	for _, tt := range []struct {
		name     string
		provider string
		nodes    int
		options  map[string]string
		check    func(error) bool
	}{
		{"another provider", drivers.ProviderEmbedded, 3, nil, func(err error) bool { return errors.Is(err, drivers.ErrNotSupported) }},
		{"a bad option", drivers.ProviderDocker, 3, map[string]string{"x": "1"}, func(err error) bool { return errors.As(err, &oe) }},
		{"a bad size", "", 0, nil, func(err error) bool { return err != nil && strings.Contains(err.Error(), "no nodes") }},
		{"fine", drivers.ProviderDocker, 3, nil, func(err error) bool { return err == nil }},
		{"the default provider", "", 3, nil, func(err error) bool { return err == nil }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			top, err := d.Plan(tt.provider, tt.nodes, tt.options)
			if !tt.check(err) {
				t.Fatalf("Plan: %v", err)
			}
			if err != nil {
				return
			}
			// Base's controls, and nothing the fake does not implement.
			for c, want := range map[drivers.Capability]bool{drivers.CapKill: true, drivers.CapPause: true, drivers.CapPartition: true,
				drivers.CapAddNode: false, drivers.CapBackup: false} {
				if drivers.Supports(top.Capabilities, c) != want {
					t.Errorf("capabilities %v: %s %v, want %v", top.Capabilities, c, !want, want)
				}
			}
		})
	}

	c, err := d.StartCluster(t.Context(), drivers.ClusterSpec{Nodes: 3})
	if err != nil || c != drivers.Cluster(opened) {
		t.Fatalf("StartCluster: %v, %v", c, err)
	}
	c, err = d.StartCluster(t.Context(), drivers.ClusterSpec{Nodes: 2})
	if !errors.Is(err, errForm) || c != nil {
		t.Fatalf("StartCluster with a failing Form: %v, %v; want its error and no cluster", c, err)
	}
	if !opened.closedAfterFailure {
		t.Error("a cluster whose Form failed was not closed")
	}
	if _, err := d.StartCluster(t.Context(), drivers.ClusterSpec{Provider: "k8s", Nodes: 3}); !errors.Is(err, drivers.ErrNotSupported) {
		t.Errorf("StartCluster on k8s: %v", err)
	}
}

func TestOfflineImage(t *testing.T) {
	var got []string
	o := OfflineImage{Driver: "fake", Official: "fake:1", Recipe: func(progress func(string)) docker.DebianImage {
		return docker.DebianImage{Repo: "evalrun/fake", VersionOf: "fake-server", Progress: progress}
	}}
	ch := o.Choice(func(s string) { got = append(got, s) })
	if o.DefaultImage() != "fake:1" || ch.Official != "fake:1" || ch.Offline == nil || ch.Offline.Repo != "evalrun/fake" {
		t.Fatalf("choice %+v", ch)
	}
	if want := "`evalrun images build fake` builds evalrun/fake"; !strings.Contains(ch.Hint, want) {
		t.Errorf("hint %q, want it to say %q", ch.Hint, want)
	}
	ch.Offline.Progress("line")
	if len(got) != 1 {
		t.Errorf("the recipe's progress did not reach the caller: %v", got)
	}
}

func TestExclusiveAndWithNode(t *testing.T) {
	b := tableOf(t, 3)
	b.SetState(b.All()[1], StateRemoved)
	// While an operation holds the slot, another one waits for it.
	held := func(ctx context.Context) (int, error) {
		done, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, err := b.Acquire(done); !errors.Is(err, context.Canceled) {
			return 0, errors.New("a second operation got the slot")
		}
		return 42, nil
	}
	if got, err := Exclusive(t.Context(), b, "add-node", held); got != 42 || err != nil {
		t.Fatalf("Exclusive: %d, %v", got, err)
	}
	for _, tt := range []struct {
		index int
		want  string // "" for op to run on node<index>
	}{
		{1, ""},
		{3, ""},
		{2, "node 2 was removed"},
		{9, "no node 9"},
	} {
		ran := 0
		err := b.WithNode(t.Context(), tt.index, "remove-node", func(ctx context.Context, n *testNode) error {
			ran = n.Index
			_, err := held(ctx)
			return err
		})
		switch {
		case tt.want == "" && (err != nil || ran != tt.index):
			t.Errorf("node %d: ran on %d, %v", tt.index, ran, err)
		case tt.want != "" && (ran != 0 || err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("node %d: ran on %d, %v; want %q and nothing run", tt.index, ran, err, tt.want)
		}
	}
}

func TestSlotShutWaitsForTheOperation(t *testing.T) {
	var s Slot
	_, release, err := s.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	expired, cancel := context.WithCancel(t.Context())
	cancel()
	// The operation holds the slot: Shut gives up when its context ends.
	if _, err := s.Shut(expired); !errors.Is(err, context.Canceled) {
		t.Errorf("Shut while the slot is held: %v", err)
	}
	release()
	// Called again (a retried Close), it gets the slot.
	rel, err := s.Shut(t.Context())
	if err != nil {
		t.Fatalf("Shut again: %v", err)
	}
	rel()
	if _, _, err := s.Acquire(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire after Shut: %v", err)
	}
}

func TestDBVersion(t *testing.T) {
	errDown := errors.New("down")
	for _, tt := range []struct {
		name    string
		answers map[int]string // node index -> version; missing: an error
		want    string
		wantErr error
	}{
		{"the first that tells", map[int]string{2: "", 3: "7.2"}, "7.2", nil},
		{"nobody tells", map[int]string{2: ""}, "", errDown},
		{"an empty answer is no answer", map[int]string{1: "", 2: "", 3: ""}, "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := tableOf(t, 3)
			asked := 0
			ask := func(_ context.Context, n *testNode) (string, error) {
				asked++
				v, ok := tt.answers[n.Index]
				if !ok {
					return "", errDown
				}
				return v, nil
			}
			got, err := b.DBVersion(t.Context(), ask)
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Fatalf("DBVersion = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
			before := asked
			again, _ := b.DBVersion(t.Context(), ask)
			if again != got || got != "" && asked != before {
				t.Errorf("asked again (%d times) for %q: %q", asked-before, got, again)
			}
		})
	}
}
