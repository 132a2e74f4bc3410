package runner

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/reports/model"
)

func TestParseSLO(t *testing.T) {
	tests := []struct {
		in      string
		want    model.SLO
		wantErr string
	}{
		{in: "p99=20ms", want: model.SLO{P99Us: 20000, ErrorShare: 0.01, MinAchieved: 0.95}},
		{in: "p99=20ms,errors=0.5%", want: model.SLO{P99Us: 20000, ErrorShare: 0.005, MinAchieved: 0.95}},
		{in: " P99 = 1.5s , errors=0% ,achieved=90%", want: model.SLO{P99Us: 1500000, ErrorShare: 0, MinAchieved: 0.9}},
		{in: "p99=500us", want: model.SLO{P99Us: 500, ErrorShare: 0.01, MinAchieved: 0.95}},
		{in: "p95=20ms", wantErr: `unknown key "p95" (known: p99, errors, achieved)`},
		{in: "p99=20", wantErr: "want a duration with its unit"},
		{in: "p99=20ms,errors=1", wantErr: "want a percentage with its % sign"},
		{in: "p99=20ms,errors=101%", wantErr: "want a percentage in (0, 100]"},
		{in: "p99=20ms,achieved=0%", wantErr: "want a percentage in (0, 100]"},
		{in: "errors=1%", wantErr: "p99 is required"},
		{in: "p99=20ms,p99=30ms", wantErr: "p99 given twice"},
		{in: "p99", wantErr: "is not key=value"},
		{in: "", wantErr: "is not key=value"},
		{in: "p99=-1ms", wantErr: "between 1us and 1h"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSLO(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("ParseSLO(%q) = %v, want one line containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			text := got.Text
			got.Text = ""
			if got != tt.want {
				t.Fatalf("ParseSLO(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			again, err := ParseSLO(text) // the text it writes reads back the same
			if again.Text = ""; err != nil || again != tt.want {
				t.Fatalf("ParseSLO(%q) (its own text) = %+v, %v; want %+v", text, again, err, tt.want)
			}
		})
	}
}

func TestJudgeStage(t *testing.T) {
	slo := model.SLO{P99Us: 20000, ErrorShare: 0.01, MinAchieved: 0.95}
	ok := model.CapacityStage{Offered: 1000, Achieved: 990, Count: 20000, P99Us: 15000}
	tests := []struct {
		name   string
		change func(*model.CapacityStage)
		held   bool
		broke  string
	}{
		{name: "within", change: func(*model.CapacityStage) {}, held: true},
		{name: "p99 at the SLO holds", change: func(s *model.CapacityStage) { s.P99Us = 20000 }, held: true},
		{name: "p99 above", change: func(s *model.CapacityStage) { s.P99Us = 20001 }, broke: "p99 20.001ms > 20ms"},
		{name: "errors at the SLO hold", change: func(s *model.CapacityStage) { s.Errors = 150; s.Missed = 50 }, held: true},
		{name: "missed count as errors", change: func(s *model.CapacityStage) { s.Errors = 150; s.Missed = 51 }, broke: "errors 1.005% > 1%"},
		{name: "late alone does not break", change: func(s *model.CapacityStage) { s.Late = 5000 }, held: true},
		{name: "achieved at 95% holds", change: func(s *model.CapacityStage) { s.Achieved = 950 }, held: true},
		{name: "achieved below", change: func(s *model.CapacityStage) { s.Achieved = 949 }, broke: "achieved 94.9% of offered < 95%"},
		{name: "every part", change: func(s *model.CapacityStage) { s.P99Us, s.Errors, s.Achieved = 30000, 1000, 500 },
			broke: "p99 30ms > 20ms; errors 5% > 1%; achieved 50% of offered < 95%"},
		{name: "nothing recorded", change: func(s *model.CapacityStage) { s.Count = 0 }, broke: "no operation recorded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := ok
			tt.change(&st)
			judgeStage(slo, &st)
			if st.Held != tt.held || !strings.HasPrefix(st.Broke, tt.broke) || (tt.broke == "") != (st.Broke == "") {
				t.Fatalf("held %v broke %q; want held %v broke %q", st.Held, st.Broke, tt.held, tt.broke)
			}
		})
	}
	st := ok
	st.Errors, st.Missed, st.Late = 100, 100, 2000
	judgeStage(slo, &st)
	if st.ErrorShare != 0.01 || st.LateShare != 0.1 {
		t.Fatalf("error share %v late share %v, want 0.01 and 0.1", st.ErrorShare, st.LateShare)
	}
}

// fakeCluster is a stage runner for a cluster that carries capacity
// ops/s: above it the achieved rate stays at capacity and latency grows.
func fakeCluster(capacity float64, stopAt int) (stageRunner, *[]stageSpec) {
	var ran []stageSpec
	return func(ctx context.Context, s stageSpec) (model.CapacityStage, error) {
		if stopAt > 0 && len(ran)+1 == stopAt {
			return model.CapacityStage{}, context.Canceled
		}
		ran = append(ran, s)
		st := model.CapacityStage{N: s.N, Offered: s.Rate, Bisect: s.Bisect, Count: int64(s.Rate * 20), P99Us: 5000, Achieved: s.Rate}
		if s.Rate > capacity {
			st.Achieved, st.P99Us = capacity, 900000
		}
		return st, nil
	}, &ran
}

func TestSearchCapacityStages(t *testing.T) {
	base := CapacityOptions{SLO: model.SLO{P99Us: 20000, ErrorShare: 0.01, MinAchieved: 0.95}, StartRate: 100, Factor: 2,
		Stage: 20 * time.Second, Settle: 3 * time.Second, MaxStages: 10}
	tests := []struct {
		name       string
		capacity   float64
		maxRate    float64
		maxStages  int
		bisect     int
		stopAt     int
		wantRates  []float64
		wantResult string
		held, brk  float64 // 0: absent
	}{
		{name: "found", capacity: 500, wantRates: []float64{100, 200, 400, 800}, wantResult: model.CapacityFound, held: 400, brk: 800},
		{name: "found, bisected", capacity: 500, bisect: 2, wantRates: []float64{100, 200, 400, 800, 565.7, 475.7},
			wantResult: model.CapacityFound, held: 475.7, brk: 565.7},
		{name: "first stage broke", capacity: 50, bisect: 2, wantRates: []float64{100}, wantResult: model.CapacityBelowStart, brk: 100},
		{name: "max rate held", capacity: 1e9, maxRate: 700, bisect: 2, wantRates: []float64{100, 200, 400, 700},
			wantResult: model.CapacityNotReached, held: 700},
		{name: "max rate broke", capacity: 600, maxRate: 700, wantRates: []float64{100, 200, 400, 700}, wantResult: model.CapacityFound, held: 400, brk: 700},
		{name: "max stages", capacity: 1e9, maxStages: 3, wantRates: []float64{100, 200, 400}, wantResult: model.CapacityNotReached, held: 400},
		{name: "interrupted before a break", capacity: 1e9, stopAt: 3, wantRates: []float64{100, 200}, wantResult: model.CapacityIncomplete, held: 200},
		{name: "interrupted in bisection", capacity: 500, bisect: 2, stopAt: 6, wantRates: []float64{100, 200, 400, 800, 565.7},
			wantResult: model.CapacityFound, held: 400, brk: 565.7},
		{name: "interrupted at the first stage", capacity: 500, stopAt: 1, wantResult: model.CapacityIncomplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			o.MaxRate, o.Bisect = tt.maxRate, tt.bisect
			if tt.maxStages > 0 {
				o.MaxStages = tt.maxStages
			}
			if err := o.Check(); err != nil {
				t.Fatal(err)
			}
			var judged []int
			o.OnStage = func(s model.CapacityStage) { judged = append(judged, s.N) }
			capc := o.skeleton()
			run, ran := fakeCluster(tt.capacity, tt.stopAt)
			err := searchCapacity(context.Background(), &o, capc, run, 5*time.Second)
			checkRecovery(t, *ran, tt.capacity)
			if (err != nil) != (tt.stopAt > 0) || (err != nil && !errors.Is(err, context.Canceled)) {
				t.Fatalf("err %v", err)
			}
			var rates []float64
			for i, s := range *ran {
				rates = append(rates, s.Rate)
				if s.N != i+1 {
					t.Errorf("stage %d: %+v", i+1, s)
				}
			}
			if !slices.Equal(rates, tt.wantRates) || len(capc.Stages) != len(rates) || len(judged) != len(rates) {
				t.Fatalf("rates %v (%d judged, %d reported), want %v", rates, len(judged), len(capc.Stages), tt.wantRates)
			}
			if capc.Result != tt.wantResult || !ratePtrIs(capc.MaxHeldRate, tt.held) || !ratePtrIs(capc.FirstBrokenRate, tt.brk) {
				t.Fatalf("result %s held %v broken %v; want %s %v %v", capc.Result, fmtPtr(capc.MaxHeldRate), fmtPtr(capc.FirstBrokenRate), tt.wantResult, tt.held, tt.brk)
			}
			checkShown(t, capc)
		})
	}
}

// checkRecovery: a stage after a broken one recovers first, at a
// quarter of the rate that held; none other does. fakeCluster holds up
// to capacity.
func checkRecovery(t *testing.T, ran []stageSpec, capacity float64) {
	t.Helper()
	held := 0.0
	for i, s := range ran {
		brokeBefore := i > 0 && ran[i-1].Rate > capacity
		if got := s.Recover > 0; got != brokeBefore || (got && (s.Recover != 5*time.Second || s.RecoverRate != roundRate(held/4))) {
			t.Errorf("stage %d (%v ops/s): recover %v at %v, after held %v", s.N, s.Rate, s.Recover, s.RecoverRate, held)
		}
		if s.Rate <= capacity {
			held = max(held, s.Rate)
		}
	}
}

// checkShown: the max held rate is a stage that held, the first broken a
// stage that broke; no number the stages did not show.
func checkShown(t *testing.T, capc *model.Capacity) {
	t.Helper()
	shown := func(r *float64, held bool) bool {
		for _, s := range capc.Stages {
			if s.Offered == *r && s.Held == held {
				return true
			}
		}
		return false
	}
	if capc.MaxHeldRate != nil && !shown(capc.MaxHeldRate, true) {
		t.Errorf("max held rate %v: no stage held at it", *capc.MaxHeldRate)
	}
	if capc.FirstBrokenRate != nil && !shown(capc.FirstBrokenRate, false) {
		t.Errorf("first broken rate %v: no stage broke at it", *capc.FirstBrokenRate)
	}
	if capc.MaxHeldRate != nil && capc.FirstBrokenRate != nil && *capc.MaxHeldRate >= *capc.FirstBrokenRate {
		t.Errorf("held %v not below broken %v", *capc.MaxHeldRate, *capc.FirstBrokenRate)
	}
}

func ratePtrIs(p *float64, want float64) bool {
	if want == 0 {
		return p == nil
	}
	return p != nil && *p == want
}

func fmtPtr(p *float64) any {
	if p == nil {
		return "absent"
	}
	return *p
}

func TestCapacityOptionsCheck(t *testing.T) {
	ok := CapacityOptions{SLO: model.SLO{P99Us: 1}, StartRate: 100, Factor: 1.5, Stage: 20 * time.Second, MaxStages: 10}
	tests := []struct {
		name   string
		change func(*CapacityOptions)
		want   string
	}{
		{"ok", func(*CapacityOptions) {}, ""},
		{"factor 1", func(o *CapacityOptions) { o.Factor = 1 }, "--factor"},
		{"no start rate", func(o *CapacityOptions) { o.StartRate = 0 }, "--start-rate"},
		{"short stage", func(o *CapacityOptions) { o.Stage = 500 * time.Millisecond }, "--stage"},
		{"max below start", func(o *CapacityOptions) { o.MaxRate = 50 }, "--max-rate"},
		{"no stages", func(o *CapacityOptions) { o.MaxStages = 0 }, "--max-stages"},
		{"negative bisect", func(o *CapacityOptions) { o.Bisect = -1 }, "--bisect"},
		{"negative settle", func(o *CapacityOptions) { o.Settle = -time.Second }, "--settle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.change(&o)
			err := o.Check()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Check() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSettleCoversWhatTheWorkersClaimed(t *testing.T) {
	tests := []struct {
		settle      time.Duration
		concurrency int
		oldRate     float64
		want        time.Duration
	}{
		{3 * time.Second, 4000, 1000, 5 * time.Second},   // 4 s claimed ahead, and a quarter more
		{3 * time.Second, 16, 1000, 3 * time.Second},     // 16 ms claimed: the settle asked for
		{0, 4000, 500, 10 * time.Second},                 // 8 s claimed
		{3 * time.Second, 0, 1000, 3 * time.Second},      // no workers known
		{3 * time.Second, 4000, 0, 3 * time.Second},      // no old rate
		{20 * time.Second, 4000, 1000, 20 * time.Second}, // a settle longer than needed stays
	}
	for _, tt := range tests {
		if got := settleFor(tt.settle, tt.concurrency, tt.oldRate); got != tt.want {
			t.Errorf("settleFor(%v, %d, %g) = %v, want %v", tt.settle, tt.concurrency, tt.oldRate, got, tt.want)
		}
	}
}
