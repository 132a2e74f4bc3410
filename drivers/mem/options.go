package mem

import (
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/driverkit"
)

// Option names accepted in drivers.ClusterSpec.Options.
const (
	optElection  = "election-timeout"
	optLatency   = "op-latency"
	optBug       = "bug"
	optBugRate   = "bug-rate"
	optBugLag    = "bug-lag"
	optBugSeed   = "bug-seed"
	defaultElect = 300 * time.Millisecond
	wantFraction = "want a fraction above 0 and at most 1"
)

// Bug is a deliberate defect a cluster is started with.
type Bug string

// The bug modes (see the package documentation).
const (
	BugNone               Bug = "none"
	BugLoseAckedWrites    Bug = "lose-acked-writes"
	BugStaleReads         Bug = "stale-reads"
	BugAckBeforeReplicate Bug = "ack-before-replicate"
)

// options are the knobs of a cluster.
type options struct {
	election time.Duration
	latency  time.Duration
	bug      Bug
	bugRate  float64
	bugLag   time.Duration
	bugSeed  int
}

func (o *options) table() driverkit.Options {
	return driverkit.Options{
		driverkit.Duration(optElection, &o.election, 0, time.Minute, "0s"),
		driverkit.Duration(optLatency, &o.latency, 0, time.Second, "none"),
		driverkit.OneOf(optBug, &o.bug, BugNone, BugLoseAckedWrites, BugStaleReads, BugAckBeforeReplicate),
		driverkit.Func(optBugRate, wantFraction, func(v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f > 0 && f <= 1) {
				return errors.New(wantFraction)
			}
			o.bugRate = f
			return nil
		}, func() string { return strconv.FormatFloat(o.bugRate, 'g', -1, 64) }),
		driverkit.Duration(optBugLag, &o.bugLag, time.Millisecond, time.Minute, "0s"),
		driverkit.Int(optBugSeed, &o.bugSeed, 0, 1<<31-1),
	}
}

// parseOptions validates the scenario's options (*drivers.OptionError).
// A bug knob is refused when the bug chosen does not use it, so that a
// scenario never believes it tuned what it did not.
func parseOptions(in map[string]string) (options, error) {
	o := options{election: defaultElect, bug: BugNone, bugRate: 0.01, bugLag: 500 * time.Millisecond, bugSeed: 1}
	if err := o.table().Parse(Name, in); err != nil {
		return options{}, err
	}
	uses := map[string][]Bug{
		optBugRate: {BugLoseAckedWrites},
		optBugSeed: {BugLoseAckedWrites},
		optBugLag:  {BugStaleReads, BugAckBeforeReplicate},
	}
	for _, name := range []string{optBugRate, optBugLag, optBugSeed} {
		v, given := in[name]
		if !given || slices.Contains(uses[name], o.bug) {
			continue
		}
		want := "only with bug: " + string(uses[name][0])
		if len(uses[name]) > 1 {
			want += " or " + string(uses[name][1])
		}
		return options{}, &drivers.OptionError{Driver: Name, Name: name, Value: v, Want: want}
	}
	return o, nil
}

// config is what the report shows: the knobs that apply.
func (o options) config() map[string]string {
	m := o.table().Config()
	if o.bug != BugLoseAckedWrites {
		delete(m, optBugRate)
		delete(m, optBugSeed)
	}
	if o.bug != BugStaleReads && o.bug != BugAckBeforeReplicate {
		delete(m, optBugLag)
	}
	return m
}

// replicationDelay is how late followers receive an entry.
func (o options) replicationDelay() time.Duration {
	if o.bug == BugAckBeforeReplicate {
		return o.bugLag
	}
	return 0
}

// applyDelay is how late followers apply an entry they hold.
func (o options) applyDelay() time.Duration {
	if o.bug == BugStaleReads {
		return o.bugLag
	}
	return 0
}
