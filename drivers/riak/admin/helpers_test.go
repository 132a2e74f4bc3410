package admin

// Helpers only the tests use: views of parsed admin output and the poll-log
// reader for the fixtures. They live beside the tests, not in the driver's
// API (issue 11's review).

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Polled is a poll log entry with its parsed value.
type Polled[T any] struct {
	PollEntry
	Value T
}

// ParsePollLog reads a poll log and parses every entry's text with parse. It
// stops at the first entry parse rejects.
func ParsePollLog[T any](r io.Reader, parse func(string) (T, error)) ([]Polled[T], error) {
	entries, err := ReadPollLog(r)
	if err != nil {
		return nil, err
	}
	out := make([]Polled[T], 0, len(entries))
	for _, e := range entries {
		v, err := parse(e.Text)
		if err != nil {
			return out, fmt.Errorf("riak poll log line %d (t=%v): %w", e.Line, e.At, err)
		}
		out = append(out, Polled[T]{PollEntry: e, Value: v})
	}
	return out, nil
}

// Nodes returns the member node names in printed order.
func (s MemberStatus) Nodes() []string {
	out := make([]string, len(s.Members))
	for i, m := range s.Members {
		out[i] = m.Node
	}
	return out
}

// PendingChanges reports whether ownership handoffs are pending.
func (r RingStatus) PendingChanges() bool { return len(r.Handoffs) > 0 }

// PendingIndexes counts the partitions listed under "Ownership Handoff".
func (r RingStatus) PendingIndexes() int {
	n := 0
	for _, h := range r.Handoffs {
		n += len(h.Indexes)
	}
	return n
}

// AllReachable reports whether Riak printed "All nodes are up and reachable".
func (r RingStatus) AllReachable() bool { return len(r.Unreachable) == 0 }

// WaitingOn returns the partitions node waits to hand off (0 if not listed).
func (t Transfers) WaitingOn(node string) int {
	for _, w := range t.Waiting {
		if w.Node == node {
			return w.Partitions
		}
	}
	return 0
}

// ParseRingReady parses `riak admin ringready`. Riak 3.x exits 0 and prints
// "error" after FALSE; Riak 2.x exits 1 on FALSE. A non-zero exit without a
// TRUE/FALSE verdict is an error, as is TRUE with a non-zero exit.
func ParseRingReady(out string, exitCode int) (ready bool, detail string, err error) {
	r, err := ParseRingReadiness(out, exitCode)
	if err != nil {
		return false, "", err
	}
	return r.Ready, r.Detail, nil
}

// Final returns the membership after the last transition printed (false if none).
func (p Plan) Final() (MemberStatus, bool) {
	if len(p.Transitions) == 0 {
		return MemberStatus{}, false
	}
	return p.Transitions[len(p.Transitions)-1].Members, true
}

// CheckBackup interprets the output and exit code of `riak admin backup`.
// It returns nil only for a backup that reports completion (Riak 2.x's
// deprecated_backup). Riak 3.2's command crashes because riak_kv_backup is
// gone; that, and Riak 2.9's deprecation notice (which backs up nothing),
// return an error wrapping ErrBackupUnsupported.
func CheckBackup(out string, exitCode int) error {
	lines := strings.Split(strings.ReplaceAll(out, "\r", ""), "\n")
	unsupported := func(no int, why string) error {
		t := strings.TrimSpace(lines[no-1])
		return &ParseError{Command: "backup", Line: no, Text: t, Err: ErrBackupUnsupported,
			Msg: fmt.Sprintf("%v (%s) at line %d: %s", ErrBackupUnsupported, why, no, quote(t))}
	}
	for i, l := range lines {
		if strings.Contains(l, "riak_kv_backup") && strings.Contains(l, "undef") {
			return unsupported(i+1, fmt.Sprintf("exit code %d", exitCode))
		}
		if strings.Contains(l, "backup has been deprecated and its use is not recommended") {
			return unsupported(i+1, "this Riak only prints a deprecation notice and backs up nothing")
		}
	}
	in, err := newInput("backup", out)
	if err != nil {
		return err
	}
	if exitCode != 0 {
		l, _ := in.peek()
		return in.errAt(l, ErrCommandFailed, "backup exited with code %d", exitCode)
	}
	for _, l := range in.lines {
		if reBackupDone.MatchString(l.text) {
			return nil
		}
	}
	l, _ := in.peek()
	return in.unexpected(l, `a backup that reports "Backup of <node> complete"`)
}

// PollEntry is one line of a poll log: the seconds since the capture began,
// then the command's output folded onto one line (newlines became spaces;
// long outputs may be cut).
type PollEntry struct {
	Line int           // 1-based line number in the log
	At   time.Duration // time since the capture began
	Text string        // the folded output
}

// ReadPollLog reads a poll log ("<seconds> <folded output>" per line; blank
// lines are skipped).
func ReadPollLog(r io.Reader) ([]PollEntry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var out []PollEntry
	for no := 1; sc.Scan(); no++ {
		s := strings.TrimRight(sc.Text(), "\r\n")
		if strings.TrimSpace(s) == "" {
			continue
		}
		secs, text, _ := strings.Cut(s, " ")
		f, err := strconv.ParseFloat(secs, 64)
		if err != nil || f < 0 || f > 1e9 {
			return nil, &ParseError{Command: "poll log", Line: no, Text: s, Err: ErrUnrecognized,
				Msg: fmt.Sprintf("unrecognised output (expected \"<seconds> <output>\") at line %d: %s", no, quote(s))}
		}
		out = append(out, PollEntry{Line: no, At: time.Duration(f * float64(time.Second)), Text: text})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("riak poll log: %w", err)
	}
	return out, nil
}
