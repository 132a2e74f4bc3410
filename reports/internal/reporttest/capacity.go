package reporttest

import (
	"fmt"
	"math"
	"testing"

	"github.com/evalrun/evalrun/reports/model"
)

// CapacityReport is report-a.json made a capacity report: stages from 100
// ops/s doubling until one offers more than capacity (which breaks: p99
// past the SLO of 20ms, achieved at capacity), a stage bisecting between
// the last held and the first broken, and the result they show. maxRate
// bounds the stages (0: none); a capacity below 100 breaks the first.
func CapacityReport(t testing.TB, capacity, maxRate float64) *model.Report {
	t.Helper()
	r := Read(t, "report-a.json")
	c := &model.Capacity{SLO: model.SLO{Text: "p99=20ms,errors=1%,achieved=95%", P99Us: 20000, ErrorShare: 0.01, MinAchieved: 0.95},
		StartRate: 100, Factor: 2, StageMs: 20000, SettleMs: 3000, MaxRate: maxRate, MaxStages: 8, Bisect: 1, Result: model.CapacityNotReached}
	add := func(rate float64, bisect bool) bool {
		n := len(c.Stages) + 1
		s := model.CapacityStage{N: n, Phase: fmt.Sprintf("stage %d (%g ops/s)", n, rate), Bisect: bisect, Offered: rate, Achieved: rate,
			StartMs: int64(n) * 23000, EndMs: int64(n)*23000 + 20000, Count: int64(rate * 20), P50Us: 800 + int64(rate), P99Us: 4000 + 10*int64(rate),
			ServiceP50Us: 700, Held: true}
		if rate > capacity {
			s.Achieved, s.P50Us, s.P99Us, s.Late = capacity, 30000, 250000, s.Count/2
			s.LateShare, s.Held = 0.5, false
			s.Broke = fmt.Sprintf("p99 250ms > 20ms; achieved %.4g%% of offered < 95%%", capacity/rate*100)
		}
		c.Stages = append(c.Stages, s)
		return s.Held
	}
	held, broken := 0.0, 0.0
	for rate := 100.0; len(c.Stages) < c.MaxStages && (maxRate == 0 || rate <= maxRate); rate *= 2 {
		if !add(rate, false) {
			broken = rate
			break
		}
		held = rate
	}
	if held > 0 && broken > 0 {
		mid := math.Round(math.Sqrt(held*broken)*10) / 10
		if add(mid, true) {
			held = mid
		} else {
			broken = mid
		}
	}
	if held > 0 {
		c.MaxHeldRate = &held
	}
	if broken > 0 {
		c.FirstBrokenRate = &broken
		c.Result = model.CapacityBelowStart
		if held > 0 {
			c.Result = model.CapacityFound
		}
	}
	r.Capacity = c
	return r
}
