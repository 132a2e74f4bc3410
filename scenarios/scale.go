package scenarios

import (
	"maps"
	"math"
	"time"
)

// Clone returns a deep copy of p.
func (p *Plan) Clone() *Plan {
	if p == nil {
		return nil
	}
	c := *p
	c.Cluster.Options = maps.Clone(p.Cluster.Options)
	c.Cluster.OptionLines = maps.Clone(p.Cluster.OptionLines)
	c.Cluster.PerNode = maps.Clone(p.Cluster.PerNode)
	c.Cluster.PerNodeLines = maps.Clone(p.Cluster.PerNodeLines)
	c.Workload.Mix = maps.Clone(p.Workload.Mix)
	if p.Steps != nil {
		c.Steps = make([]Step, len(p.Steps))
		for i, s := range p.Steps {
			if s.Node != nil {
				n := *s.Node
				s.Node = &n
			}
			if s.Degrade != nil {
				d := *s.Degrade
				s.Degrade = &d
			}
			if s.Groups != nil {
				gs := make([][]int, len(s.Groups))
				for j, g := range s.Groups {
					if g != nil {
						gs[j] = append([]int{}, g...)
					}
				}
				s.Groups = gs
			}
			c.Steps[i] = s
		}
	}
	return &c
}

// Scaled returns a deep copy of p whose sleeps and `at` offsets are
// multiplied by total/p.Duration, so that the planned length becomes total
// (up to rounding). Timeouts are not scaled; a scaled sleep or offset is at
// least 1ms. When p.Duration or total is not positive, the copy is
// unchanged.
func (p *Plan) Scaled(total time.Duration) *Plan {
	c := p.Clone()
	if c == nil || p.Duration <= 0 || total <= 0 {
		return c
	}
	f := float64(total) / float64(p.Duration)
	scale := func(d time.Duration) time.Duration {
		if d <= 0 {
			return d
		}
		v := math.Round(float64(d) * f)
		switch {
		case v >= math.MaxInt64:
			return math.MaxInt64
		case v < float64(time.Millisecond):
			return time.Millisecond
		}
		return time.Duration(v)
	}
	for i := range c.Steps {
		c.Steps[i].For = scale(c.Steps[i].For)
		c.Steps[i].At = scale(c.Steps[i].At)
	}
	c.Duration = plannedDuration(c.Steps)
	return c
}

// plannedDuration is the timeline length of steps: the sum of sleeps,
// where a step's `at` beyond the running offset moves the offset there.
func plannedDuration(steps []Step) time.Duration {
	var off time.Duration
	for _, s := range steps {
		if s.At > off {
			off = s.At
		}
		if s.For > 0 {
			off = satAdd(off, s.For)
		}
	}
	return off
}

func satAdd(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// OpenEnded reports whether the timeline can outlast Duration: a step that
// waits on the cluster (settling, a membership change, a backup or restore)
// takes as long as the cluster needs, which Duration does not count. The
// planned length is then a lower bound.
func (p *Plan) OpenEnded() bool {
	for _, s := range p.Steps {
		if a, ok := ActionOf(s.Action); ok && (a.Timeout || a.Members != 0) {
			return true
		}
	}
	return false
}
