package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/internal/errext"
	"github.com/evalrun/evalrun/reports/model"
)

// evalrun check on bad input exits 2 with one line naming what is wrong;
// none of these reaches the checker.
func TestCheckBadInput(t *testing.T) {
	const header = `{"schema":"evalrun.history/v1","keys":[3],"ops":2,"max_ops":10}`
	const op = `{"client":0,"key":3,"op":"put","invoke_ns":1,"return_ns":2,"value":1,"outcome":"ok"}`
	tests := []struct {
		name  string
		files map[string]string
		want  []string // in stderr
	}{
		{name: "missing dir", want: []string{"history.jsonl", "no such file"}},
		{name: "no history", files: map[string]string{"report.json": "{}"}, want: []string{"history.jsonl", "no such file"}},
		{name: "malformed line", files: map[string]string{"history.jsonl": header + "\n" + op + "\n" + `{"client":1,"key":3,"op":"get"` + "\n"},
			want: []string{"history.jsonl: line 3:"}},
		{name: "another schema", files: map[string]string{"history.jsonl": `{"schema":"evalrun.history/v9","keys":[],"ops":0}` + "\n"},
			want: []string{"history.jsonl: line 1:", "v9"}},
		{name: "cut short", files: map[string]string{"history.jsonl": header + "\n" + op + "\n"},
			want: []string{"the header says 2 operations, the file holds 1"}},
		{name: "bad report.json", files: map[string]string{"history.jsonl": header + "\n" + op + "\n" + op + "\n", "report.json": "{not json"},
			want: []string{"report.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			if tt.files != nil {
				dir = t.TempDir()
				for name, text := range tt.files {
					writeFile(t, dir, name, text)
				}
			}
			code, stdout, stderr := runCLI(t, "check", dir)
			if code != int(errext.ExitBadInput) {
				t.Fatalf("exit %d, want %d; stderr %q", code, errext.ExitBadInput, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not say %q", stderr, w)
				}
			}
			if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 1 || stdout != "" {
				t.Errorf("stderr has %d lines, stdout %q: want one line of error and nothing else", lines, stdout)
			}
		})
	}
	if code, _, stderr := runCLI(t, "check"); code != int(errext.ExitBadInput) {
		t.Errorf("check without DIR: exit %d (%s), want 2", code, stderr)
	}
}

// The verdict lines the issue asks for.
func TestPrintConsistency(t *testing.T) {
	tests := []struct {
		c    model.Consistency
		want string
	}{
		{model.Consistency{Checked: true, Verdict: "linearizable", Keys: 64, Ops: 1000, Linearizable: 64}, "linearizable: yes (64 keys, 1000 operations)"},
		{model.Consistency{Checked: true, Verdict: "not_linearizable", Keys: 64, NotLinearizable: 3, Promised: "linearizable", PromisedLinearizable: true},
			"linearizable: no: 3 keys (promised: linearizable) → a safety failure"},
		{model.Consistency{Checked: true, Verdict: "not_linearizable", Keys: 64, NotLinearizable: 2, Promised: "eventual"},
			"linearizable: no: 2 keys (not promised: eventual) → observed, as documented"},
		{model.Consistency{Verdict: "unknown", Keys: 64, Unknown: 64, BudgetPerKeyMs: 10000}, "linearizable: unknown: 64 of 64 keys not decided"},
	}
	for _, tt := range tests {
		var b strings.Builder
		printConsistency(&b, &tt.c, 0)
		if !strings.Contains(b.String(), tt.want) {
			t.Errorf("printed %q, want %q", b.String(), tt.want)
		}
	}
}
