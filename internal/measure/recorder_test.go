package measure

import (
	"bytes"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// The interval log is read back by HdrHistogram's own log reader: one
// tagged histogram per op type and one untagged total per window, with the
// counts and maxima that were recorded.
func TestIntervalLogReadsBack(t *testing.T) {
	var log bytes.Buffer
	start := time.Now()
	rec, err := NewRecorder(Config{Ops: []string{"read", "write"}, Start: start, HdrLog: &log})
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	for w := 0; w < 3; w++ {
		base := time.Duration(w) * time.Second
		for i := 0; i < 100; i++ {
			rec.Record(i, Outcome{Op: i % 2, Intended: base, Start: base, End: base + time.Duration(1+i)*ms})
		}
		rec.Roll(base + time.Second)
	}
	if err := rec.LogErr(); err != nil {
		t.Fatal(err)
	}
	text := log.String()
	for _, want := range []string{"#[Histogram log format version", "#[StartTime:", "#[BaseTime:", "Tag=read,", "Tag=write,"} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	r := hdr.NewHistogramLogReader(strings.NewReader(text))
	var tagged, untagged int
	for {
		h, err := r.NextIntervalHistogram()
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			break
		}
		switch h.Tag() {
		case "":
			untagged++
			if h.TotalCount() != 100 {
				t.Errorf("total histogram count %d, want 100", h.TotalCount())
			}
			if got := h.Max(); got < int64(99*ms) || got > int64(101*ms) {
				t.Errorf("total max %v, want ~100ms", time.Duration(got))
			}
		default:
			tagged++
			if h.TotalCount() != 50 {
				t.Errorf("%s histogram count %d, want 50", h.Tag(), h.TotalCount())
			}
		}
	}
	if tagged != 6 || untagged != 3 {
		t.Errorf("read %d tagged and %d untagged histograms, want 6 and 3", tagged, untagged)
	}
	if ws := rec.Windows(); len(ws) != 3 || ws[1].Count != 100 || ws[1].StartMs != 1000 {
		t.Errorf("windows: %+v", ws)
	}
}

// Phase statistics: latency from the intended start, service time from
// the actual start, errors by class, throughput of successes.
func TestPhaseStats(t *testing.T) {
	rec, err := NewRecorder(Config{Ops: []string{"read", "write"}, Start: time.Now(), FirstPhase: "baseline"})
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	// baseline: 10 reads, 1 ms service, on time
	for i := 0; i < 10; i++ {
		at := time.Duration(i) * 100 * ms
		rec.Record(0, Outcome{Op: 0, Intended: at, Start: at, End: at + ms})
	}
	rec.SetPhase("fault", time.Second)
	// fault: 10 writes that waited 500 ms for a slot, then 1 ms service;
	// 2 time out, 1 missed
	for i := 0; i < 10; i++ {
		at := time.Second + time.Duration(i)*100*ms
		c := OK
		if i < 2 {
			c = Timeout
		}
		rec.Record(1, Outcome{Op: 1, Intended: at, Start: at + 500*ms, End: at + 501*ms, Class: c})
	}
	rec.Record(1, Outcome{Op: 1, Intended: 1500 * ms, Start: 3500 * ms, End: 3500 * ms, Class: Missed})
	// fault: 3 reads found nothing, 2 of them keys acknowledged before
	for i := 0; i < 3; i++ {
		at := 1200*ms + time.Duration(i)*ms
		rec.Record(2, Outcome{Op: 0, Intended: at, Start: at, End: at + ms, NotFound: true, NotFoundAcked: i < 2})
	}
	ps := rec.PhaseStats(2 * time.Second)
	if len(ps) != 2 || ps[0].Name != "baseline" || ps[1].Name != "fault" {
		t.Fatalf("phases: %+v", ps)
	}
	b := ps[0].Ops["read"]
	if b.Count != 10 || b.Errors != 0 || b.MaxUs < 990 || b.MaxUs > 1010 || b.Throughput != 10 {
		t.Errorf("baseline read: %+v", b)
	}
	f := ps[1].Ops["write"]
	// the missed op is recorded (count, latency) but is not the database's error
	if f.Count != 11 || f.Errors != 2 || f.ErrorsByClass["timeout"] != 2 || f.Missed != 1 || f.ErrorsByClass["missed"] != 0 {
		t.Errorf("fault write counts: %+v", f)
	}
	if f.P50Us < 490_000 || f.P50Us > 510_000 {
		t.Errorf("fault p50 = %dus, want ~501ms (from the intended start)", f.P50Us)
	}
	if f.MaxUs < 1_990_000 {
		t.Errorf("fault max = %dus, want ~2s (the missed op's lag)", f.MaxUs)
	}
	if f.ServiceP99Us > 1100 {
		t.Errorf("fault service p99 = %dus, want ~1ms (from the actual start)", f.ServiceP99Us)
	}
	if f.Throughput != 8 {
		t.Errorf("fault throughput = %v, want 8 successes/s", f.Throughput)
	}
	// the timeline (unavailability, time to first error) sees the two
	// timeouts, not the op the generator never sent
	var tlErrs int64
	for _, n := range rec.Timeline().Errs {
		tlErrs += n
	}
	if tlErrs != 2 {
		t.Errorf("timeline errors = %d, want 2 (the missed op is not the database's error)", tlErrs)
	}
	rec.Roll(4 * time.Second)
	if ws := rec.Windows(); len(ws) != 1 || ws[0].Errors != 2 || ws[0].Missed != 1 || ws[0].Count != 24 {
		t.Errorf("window: %+v, want 24 ops, 2 errors, 1 missed", ws)
	}
	if r := ps[1].Ops["read"]; r.NotFound != 3 || r.NotFoundAcked != 2 || ps[1].Total.NotFoundAcked != 2 || ps[0].Total.NotFoundAcked != 0 {
		t.Errorf("not-found reads: fault read %+v, totals %d/%d", r, ps[0].Total.NotFoundAcked, ps[1].Total.NotFoundAcked)
	}
}

// Each phase carries the CPU time the process spent in it (from phase
// change to phase change; the open phase until the last Roll) and per
// operation sent: missed operations cost nothing and do not count.
func TestPhaseCPU(t *testing.T) {
	reads := []CPUTime{
		{User: 1 * time.Second, Sys: 2 * time.Second}, // start of "baseline"
		{User: 3 * time.Second, Sys: 3 * time.Second}, // SetPhase("fault")
		{User: 4 * time.Second, Sys: 5 * time.Second}, // Roll at 2 s
		{User: 9 * time.Second, Sys: 9 * time.Second}, // read after the run: not counted
	}
	next := 0
	cpu := func() CPUTime { c := reads[next]; next++; return c }
	rec, err := NewRecorder(Config{Ops: []string{"read"}, Start: time.Now(), FirstPhase: "baseline", CPU: cpu})
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	for i := 0; i < 1000; i++ {
		at := time.Duration(i) * ms
		rec.Record(0, Outcome{Intended: at, Start: at, End: at + ms})
	}
	rec.SetPhase("fault", time.Second)
	for i := 0; i < 500; i++ {
		at := time.Second + time.Duration(i)*ms
		rec.Record(0, Outcome{Intended: at, Start: at, End: at + ms})
	}
	for i := 0; i < 500; i++ { // never sent
		rec.Record(0, Outcome{Intended: 1500 * ms, Start: 1600 * ms, End: 1600 * ms, Class: Missed})
	}
	rec.Roll(2 * time.Second)
	ps := rec.PhaseStats(2 * time.Second)
	b, f := ps[0].HarnessCPU, ps[1].HarnessCPU
	if b == nil || b.UserUs != 2_000_000 || b.SysUs != 1_000_000 || b.PerOpUs != 3000 {
		t.Errorf("baseline harness CPU %+v, want user 2s sys 1s, 3000us/op", b)
	}
	if f == nil || f.UserUs != 1_000_000 || f.SysUs != 2_000_000 || f.PerOpUs != 6000 {
		t.Errorf("fault harness CPU %+v, want user 1s sys 2s, 6000us per sent op (missed ones excluded)", f)
	}
}
