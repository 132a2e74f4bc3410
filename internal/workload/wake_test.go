package workload

import (
	"testing"
	"time"
)

// TestWakeDelaySettlesLow: fed a fixed spread of wake-up delays, the
// estimate settles near their lower quarter (so most sleeps need no spin),
// stays within [0, limit], and a delay past limit (a thread with the
// kernel's default timer slack) asks for the slack to be set again.
func TestWakeDelaySettlesLow(t *testing.T) {
	us := time.Microsecond
	tests := []struct {
		name     string
		delays   []time.Duration // repeated in turn
		min, max time.Duration   // where the estimate must end
		slackSet bool            // after the last delay
	}{
		{"steady 20 µs", []time.Duration{20 * us}, 19 * us, 21 * us, true},
		{"20 to 60 µs spread", []time.Duration{20 * us, 30 * us, 40 * us, 50 * us, 60 * us, 25 * us, 35 * us, 45 * us}, 20 * us, 36 * us, true},
		{"early wake-ups only", []time.Duration{-5 * us}, 0, 0, true},
		{"default slack: past the limit", []time.Duration{80 * us}, 50 * us, 50 * us, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &wakeDelay{estimate: 25 * us, limit: 50 * us}
			for i := range 400 {
				w.note(tt.delays[i%len(tt.delays)])
			}
			if w.estimate < tt.min || w.estimate > tt.max {
				t.Errorf("estimate %v, want within [%v, %v]", w.estimate, tt.min, tt.max)
			}
			if w.slackSet != tt.slackSet {
				t.Errorf("slackSet %v, want %v", w.slackSet, tt.slackSet)
			}
		})
	}
}
