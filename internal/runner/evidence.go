package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/safety"
	"github.com/evalrun/evalrun/reports/model"
)

// evidenceTimeout bounds the replica reads after the final read-back.
const evidenceTimeout = 2 * time.Minute

// readSettings states how c reads back, and how it reads a key again
// before counting it lost (empty: no stricter read).
func readSettings(c drivers.Client) (read, strict string) {
	read = "the driver's default read"
	if d, ok := c.(drivers.ReadDescriber); ok {
		read = d.ReadSettings()
	}
	if s, ok := c.(drivers.StrictReader); ok {
		strict = s.StrictReadSettings()
	}
	return read, strict
}

// evidence says how each listed key the final read-back did not verify was
// judged and, when the cluster can read replicas one at a time, what each
// replica holds, judged against the ledger like the read-back.
func (r *run) evidence(ctx context.Context, res safety.Result) []model.KeyEvidence {
	s := r.rep.Safety
	read, strict := s.ReadSettings, s.StrictReadSettings
	var out []model.KeyEvidence
	add := func(keys []string, verdict, judged string) {
		for _, k := range keys {
			out = append(out, model.KeyEvidence{Key: k, Verdict: verdict, Judged: judged})
		}
	}
	if strict == "" {
		add(res.LostKeys, "lost", fmt.Sprintf("read (%s): not found; no stricter read", read))
	} else {
		add(res.LostKeys, "lost", fmt.Sprintf("read (%s): not found; strict read (%s): not found", read, strict))
		add(res.QuorumNotFoundKeys, "quorum_notfound", fmt.Sprintf("read (%s): not found; strict read (%s): the acknowledged value", read, strict))
		add(res.UnconfirmedKeys, "unconfirmed", fmt.Sprintf("read (%s): not found; strict read (%s): failed", read, strict))
		add(res.ReadStaleKeys, "read_stale", fmt.Sprintf("read (%s): an older value; strict read (%s): the acknowledged value", read, strict))
	}
	// a stale key: which replicas still hold the acknowledged value, if any
	// (a read that picked older replicas) or none (the update is gone)
	add(res.StaleKeys, "stale", fmt.Sprintf("read (%s): an older value than one acknowledged before the read", read))
	if len(out) == 0 {
		return nil
	}
	ins, ok := r.cluster.(drivers.ReplicaInspector)
	if !ok {
		return out
	}
	r.o.Logf("reading the replicas of %d keys the read-back did not verify", len(out))
	keys := make([]string, len(out))
	for i, e := range out {
		keys[i] = e.Key
	}
	ctx, cancel := context.WithTimeout(ctx, evidenceTimeout)
	defer cancel()
	found, err := ins.InspectReplicas(ctx, keys)
	if err != nil {
		for i := range out {
			out[i].InspectError = err.Error()
		}
		return out
	}
	byKey := make(map[string][]drivers.ReplicaRead, len(found))
	for _, kr := range found {
		byKey[kr.Key] = kr.Replicas
	}
	index := make(map[string]int, len(out))
	for i, name := range r.keyNames {
		index[name] = i
	}
	for i := range out {
		reads, ok := byKey[out[i].Key]
		if !ok {
			out[i].InspectError = "the driver returned nothing for this key"
			continue
		}
		judge := r.ledger.Check(index[out[i].Key]) // one snapshot of the key's writes for all its replicas
		for _, rr := range reads {
			out[i].Replicas = append(out[i].Replicas, model.ReplicaEvidence{
				Partition: rr.Partition, Node: rr.Node, Primary: rr.Primary,
				Holds: holds(rr, judge),
			})
		}
	}
	return out
}

// holds says what a replica held, judged as the read-back judges a value.
func holds(rr drivers.ReplicaRead, judge func(bool, []byte) safety.Verdict) string {
	switch {
	case rr.Error != "":
		return "error: " + rr.Error
	case !rr.Found:
		return "nothing"
	case rr.Tombstone:
		return "a tombstone (a delete)"
	}
	_, seq, err := safety.Decode(rr.Header)
	if err != nil {
		return "a value evalrun did not write"
	}
	what := "an older value"
	if judge(true, rr.Header) == safety.Verified {
		what = "the acknowledged value"
	}
	if rr.Values > 1 {
		what += fmt.Sprintf(", newest of %d siblings", rr.Values)
	}
	return fmt.Sprintf("%s (write %d)", what, seq)
}
