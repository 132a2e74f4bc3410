package runner

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/safety"
	"github.com/evalrun/evalrun/reports/model"
)

// inspectCluster holds, for key k1, write 1 on two replicas and write 2 (the
// acknowledged one) on the third.
type inspectCluster struct{ drivers.Cluster }

func (inspectCluster) InspectReplicas(_ context.Context, keys []string) ([]drivers.KeyReplicas, error) {
	value := func(seq uint64) []byte {
		b := make([]byte, safety.ValueHeader)
		safety.Encode(b, 1, seq)
		return b
	}
	var out []drivers.KeyReplicas
	for _, k := range keys {
		out = append(out, drivers.KeyReplicas{Key: k, Replicas: []drivers.ReplicaRead{
			{Partition: "p1", Node: "n1", Primary: true, Found: true, Header: value(1)},
			{Partition: "p1", Node: "n2", Primary: true, Found: true, Header: value(1)},
			{Partition: "p1", Node: "n3", Primary: true, Found: true, Header: value(2)},
		}})
	}
	return out, nil
}

// A stale key gets evidence like a lost one: which replicas hold the
// acknowledged value and which an older one.
func TestEvidenceOfStaleKeys(t *testing.T) {
	l := safety.New(2, time.Minute)
	for i := range 2 { // writes 1 and 2 of key 1, one after the other
		at := time.Duration(2*i) * time.Millisecond
		seq := l.Begin(1, false, at)
		l.End(1, seq, true, at+time.Millisecond)
	}
	r := &run{o: Options{Logf: t.Logf}, cluster: inspectCluster{}, ledger: l, keyNames: []string{"k0", "k1"},
		rep: &model.Report{Safety: model.Safety{ReadSettings: "r=quorum"}}}
	ev := r.evidence(t.Context(), safety.Result{StaleKeys: []string{"k1"}})
	if len(ev) != 1 || ev[0].Verdict != "stale" || ev[0].Key != "k1" || !strings.Contains(ev[0].Judged, "older value") {
		t.Fatalf("evidence %+v", ev)
	}
	var holds []string
	for _, re := range ev[0].Replicas {
		holds = append(holds, re.Holds)
	}
	if got := strings.Join(holds, "; "); got != "an older value (write 1); an older value (write 1); the acknowledged value (write 2)" {
		t.Errorf("replicas hold: %s", got)
	}
}
