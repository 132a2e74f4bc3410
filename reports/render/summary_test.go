package render

import (
	"strings"
	"testing"

	"github.com/evalrun/evalrun/reports/internal/reporttest"
	"github.com/evalrun/evalrun/reports/judge"
	"github.com/evalrun/evalrun/reports/model"
)

// The saturation line appears when the load generator was the bottleneck
// (many operations behind and too few workers for the service time), and
// not for a short stall of the database alone.
func TestSaturationLine(t *testing.T) {
	ms := func(v int64) *int64 { return &v }
	phase := func(name string, svcP99Us int64) model.Phase {
		return model.Phase{Name: name, Total: model.OpStats{Count: 1000, ServiceP99Us: svcP99Us}}
	}
	behind := func(p model.Phase, late, missed int64) model.Phase {
		p.Total.Late, p.Total.Missed = late, missed
		return p
	}
	for _, tc := range []struct {
		name    string
		load    model.LoadInfo
		phases  []model.Phase
		windows []model.Window
		want    []string // substrings; none: no line
		max     int      // workload.max-concurrency (0: a fixed pool)
	}{
		{
			name:    "riak rebalance: workers too few for the service time",
			load:    model.LoadInfo{Intended: 1_200_000, Late: 20_000, Missed: 196_000, FirstLateMs: ms(35_200), FirstMissedMs: ms(36_000)},
			phases:  []model.Phase{phase("baseline", 20_000), behind(phase("add", 1_900_000), 100, 200), behind(phase("remove", 800_000), 200, 400)},
			windows: []model.Window{{StartMs: 35_000, Count: 500, Late: 1}, {StartMs: 36_000, Count: 500, Late: 20, Missed: 40}},
			want:    []string{"216,000 of 1,200,000 operations (18.0%)", "20,000 late, 196,000 missed", "from 36.00s on", "most in the remove phase (60.0% of its operations)", "all 32 workers", "add phase", "about 950", "Raise workload.concurrency"},
		},
		{
			name:   "a 1.5 s leader election stalls every worker, service stays short",
			load:   model.LoadInfo{Intended: 40_512, Late: 859, FirstLateMs: ms(30_000)},
			phases: []model.Phase{phase("baseline", 1_441), phase("fault", 6_291), phase("recovery", 5_505)},
		},
		{
			name:   "few behind",
			load:   model.LoadInfo{Intended: 100_000, Late: 900, Missed: 50},
			phases: []model.Phase{phase("main", 900_000)},
		},
		{
			// the scenario's rate is 500, but a rate step made the spike
			// phase run at 4,000 ops/s: its rate, not the scenario's, needs
			// the workers
			name:   "a rate step's spike",
			load:   model.LoadInfo{Intended: 60_000, Late: 9_000},
			phases: []model.Phase{phase("baseline", 2_000), {Name: "spike", StartMs: 10_000, EndMs: 20_000, Total: model.OpStats{Count: 40_000, Late: 9_000, ServiceP99Us: 50_000}}},
			want:   []string{"at the spike phase's 4,000 ops/s and service p99 of 50ms about 200 would be in flight"},
		},
		{
			name:   "a pool that grew on demand and kept up: the lateness is the database's",
			load:   model.LoadInfo{Intended: 1_200_000, Late: 20_000, Missed: 196_000, PeakInFlight: 960, Workers: 970},
			max:    1024,
			phases: []model.Phase{phase("baseline", 20_000), behind(phase("add", 1_900_000), 100, 200)},
		},
		{
			name:   "a pool that grew to its bound",
			load:   model.LoadInfo{Intended: 1_200_000, Late: 20_000, Missed: 196_000, PeakInFlight: 64, Workers: 64, BoundWaits: 216_000},
			max:    64,
			phases: []model.Phase{phase("baseline", 20_000), behind(phase("add", 1_900_000), 100, 200)},
			want:   []string{"all 64 workers were busy (the pool had grown to its bound, workload.max-concurrency)", "Raise workload.max-concurrency"},
		},
		{
			name: "nothing ran",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &model.Report{Load: tc.load, Phases: tc.phases, Windows: tc.windows, Workload: model.WorkloadInfo{TargetRate: 500, Concurrency: 32, MaxConcurrency: tc.max}}
			line := judge.Saturation(r)
			if len(tc.want) == 0 {
				if line != "" {
					t.Fatalf("unexpected line: %s", line)
				}
				return
			}
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("line %q\nlacks %q", line, w)
				}
			}
			md, err := Markdown(r)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(md), "**Load generator saturated**") || !strings.Contains(string(md), "- **Load generator:**") {
				t.Errorf("Markdown lacks the saturation callout or summary line:\n%s", md)
			}
			page, err := HTML(r)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(page), "Load generator saturated:") {
				t.Error("HTML lacks the saturation banner")
			}
		})
	}
}

// A report whose read-back found keys missing shows how each was judged
// and what each replica held (golden file), and counts quorum not-found
// keys apart from lost ones.
func TestLossEvidenceGolden(t *testing.T) {
	r := reporttest.Read(t, "report-a.json")
	s := &r.Safety
	s.ReadSettings = "r=quorum, pr=0, notfound_ok=true, basic_quorum=false"
	s.StrictReadSettings = "r=all, pr=all, notfound_ok=true: every primary replica answers, any value found counts"
	s.Verified, s.Lost, s.QuorumNotFound = 9997, 2, 1
	s.LostKeys = []string{"key000000017", "key000000042"}
	s.QuorumNotFoundKeys = []string{"key000000099"}
	judged := "read (r=quorum): not found; strict read (r=all, pr=all): not found"
	s.Evidence = []model.KeyEvidence{
		{Key: "key000000017", Verdict: "lost", Judged: judged, Replicas: []model.ReplicaEvidence{
			{Partition: "182687704666362864775460604089535377456991567872", Node: "riak@node2", Primary: true, Holds: "nothing"},
			{Partition: "205523667749658222872393179600727299639115513856", Node: "riak@node3", Primary: true, Holds: "nothing"},
			{Partition: "228359630832953580969325755111919221821239459840", Node: "riak@node4", Primary: true, Holds: "nothing"},
		}},
		{Key: "key000000042", Verdict: "lost", Judged: judged, InspectError: "riak eval: node down"},
		{Key: "key000000099", Verdict: "quorum_notfound", Judged: "read (r=quorum): not found; strict read (r=all, pr=all): the acknowledged value", Replicas: []model.ReplicaEvidence{
			{Partition: "0", Node: "riak@node2", Primary: true, Holds: "nothing"},
			{Partition: "22835963083295358096932575511191922182123945984", Node: "riak@node3", Primary: true, Holds: "nothing"},
			{Partition: "45671926166590716193865151022383844364247891968", Node: "riak@node4", Primary: true, Holds: "the acknowledged value (write 31337)"},
		}},
	}
	md, err := Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "report-loss.md", md)
	verdict, loss := judge.SafetyVerdict(r.Safety, r.Phases)
	if !loss || !strings.Contains(verdict, "2 lost") || !strings.Contains(verdict, "1 quorum not-found") {
		t.Errorf("verdict %q, want 2 lost and 1 quorum not-found apart", verdict)
	}
	page, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Keys not verified", "riak@node4", "the acknowledged value (write 31337)", "not inspected: riak eval: node down"} {
		if !strings.Contains(string(page), w) {
			t.Errorf("HTML lacks %q", w)
		}
	}
}

func TestHarnessCPULine(t *testing.T) {
	r := &model.Report{Phases: []model.Phase{
		{Name: "a", StartMs: 0, EndMs: 10_000, Total: model.OpStats{Count: 50_000}, HarnessCPU: &model.HarnessCPU{UserUs: 1_000_000, SysUs: 500_000}},
		{Name: "b", StartMs: 10_000, EndMs: 20_000, Total: model.OpStats{Count: 60_000, Missed: 10_000}, HarnessCPU: &model.HarnessCPU{UserUs: 1_000_000, SysUs: 1_500_000}},
	}}
	want := "40µs per operation (user 20µs, sys 20µs), 20.0% of one core over the run"
	if got := HarnessCPULine(r); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := HarnessCPULine(&model.Report{Phases: []model.Phase{{Name: "a", Total: model.OpStats{Count: 5}}}}); got != "" {
		t.Errorf("no CPU measured, got %q", got)
	}
}
