package runner

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/reports/model"
)

// minGaugeInterval bounds how often a cluster is asked, whatever it says.
const minGaugeInterval = 100 * time.Millisecond

// gaugeSample is one value a cluster reported, at a time of the run clock.
type gaugeSample struct {
	at    time.Duration
	gauge drivers.Gauge
}

// gaugeLog collects the samples of a run, and the notices of a
// drivers.NoticeReporter taken after each poll.
type gaugeLog struct {
	mu      sync.Mutex
	samples []gaugeSample
	notices []model.Event
	errors  int
	lastErr string
}

// pollGauges asks gr every interval, and after each poll takes the
// notices of a drivers.NoticeReporter, until ctx ends (the load stops).
func (r *run) pollGauges(ctx context.Context, gr drivers.GaugeReporter, log *gaugeLog) {
	every := max(gr.GaugeInterval(), minGaugeInterval)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		r.pollOnce(ctx, every, gr, log)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pollOnce takes one sample of the gauges and the notices since the last
// one. The driver is asked with log unlocked: a driver that panics
// (goBeside recovers it) leaves the log usable for the report.
func (r *run) pollOnce(ctx context.Context, every time.Duration, gr drivers.GaugeReporter, log *gaugeLog) {
	pctx, cancel := context.WithTimeout(ctx, every)
	gs, err := gr.Gauges(pctx)
	cancel()
	at := r.clock()
	var notices []drivers.Notice
	if nr, ok := gr.(drivers.NoticeReporter); ok {
		notices = nr.TakeNotices()
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			log.errors++
			log.lastErr = err.Error()
		}
	} else {
		for _, g := range gs {
			log.samples = append(log.samples, gaugeSample{at: at, gauge: g})
		}
	}
	for _, n := range notices {
		log.notices = append(log.notices, noticeEvent(n, at))
	}
}

// intoWindows writes each gauge's last sample of a window into that
// window (windows start when the recorder rolls them, about every
// windowMs); a sample in no window (a gap, after the last one) is
// dropped, and a window with no sample has no value: the plot holds a
// value from sample to sample, it does not invent values between them.
func (log *gaugeLog) intoWindows(ws []model.Window, windowMs int64) {
	log.mu.Lock()
	defer log.mu.Unlock()
	for _, s := range log.samples {
		at := s.at.Milliseconds()
		i := sort.Search(len(ws), func(i int) bool { return ws[i].StartMs > at }) - 1
		if i < 0 {
			continue
		}
		end := ws[i].StartMs + windowMs
		if i+1 < len(ws) {
			end = ws[i+1].StartMs
		}
		if at >= end {
			continue
		}
		if ws[i].Gauges == nil {
			ws[i].Gauges = map[string]float64{}
		}
		ws[i].Gauges[s.gauge.Name] = s.gauge.Value
	}
}

// intoPhases summarises each gauge's samples per phase: every sample whose
// time falls in [start, end) of the phase.
func (log *gaugeLog) intoPhases(phases []model.Phase) {
	log.mu.Lock()
	defer log.mu.Unlock()
	for i := range phases {
		p := &phases[i]
		byName := map[string][]float64{}
		for _, s := range log.samples {
			at := s.at.Milliseconds()
			if at < p.StartMs || at >= p.EndMs {
				continue
			}
			byName[s.gauge.Name] = append(byName[s.gauge.Name], s.gauge.Value)
		}
		if len(byName) == 0 {
			continue
		}
		p.Gauges = make(map[string]model.GaugeStats, len(byName))
		for name, vs := range byName {
			p.Gauges[name] = gaugeStats(vs)
		}
	}
}

// gaugeStats summarises samples in the order they were taken.
func gaugeStats(vs []float64) model.GaugeStats {
	st := model.GaugeStats{Samples: len(vs), Last: vs[len(vs)-1]}
	sorted := slices.Clone(vs)
	slices.Sort(sorted)
	st.Min, st.Max = sorted[0], sorted[len(sorted)-1]
	rank := int(math.Ceil(0.99*float64(len(sorted)))) - 1
	st.P99 = sorted[max(rank, 0)]
	return st
}

// noticeEvent is the report's event for a notice taken at the run time at.
func noticeEvent(n drivers.Notice, at time.Duration) model.Event {
	ms := at.Milliseconds()
	return model.Event{Step: "notice", Node: n.Node, StartMs: ms, EndMs: ms, Outcome: model.OutcomeObserved(n.What), Detail: n.Text}
}

// noticesIntoEvents adds the notices to events, in time order.
func (log *gaugeLog) noticesIntoEvents(events []model.Event) []model.Event {
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.notices) == 0 {
		return events
	}
	out := slices.Concat(events, log.notices)
	slices.SortStableFunc(out, func(a, b model.Event) int { return cmp.Compare(a.StartMs, b.StartMs) })
	return out
}
