package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evalrun/evalrun/internal/errext"
	"github.com/evalrun/evalrun/reports"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// slower copies a report with every p99 raised by pct percent.
func slower(t *testing.T, src, dst string, pct int64) {
	t.Helper()
	r, err := reports.ReadJSON(src)
	if err != nil {
		t.Fatal(err)
	}
	for i := range r.Phases {
		for k, o := range r.Phases[i].Ops {
			o.P99Us += o.P99Us * pct / 100
			r.Phases[i].Ops[k] = o
		}
		r.Phases[i].Total.P99Us += r.Phases[i].Total.P99Us * pct / 100
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteJSON(filepath.Dir(dst), r); err != nil {
		t.Fatal(err)
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join("..", "..", "reports", "internal", "reporttest", "testdata", "report-a.json")
	b := filepath.Join(dir, "b", "report.json")
	slower(t, a, b, 30)
	v2 := writeFile(t, dir, "v2.json", `{"schema":"evalrun.report/v2"}`)
	other := filepath.Join(dir, "other", "report.json")
	otherScenario(t, a, other)
	bad := writeFile(t, dir, "bad.yaml", "name: x\ncluster: {nodes: 3}\nworkload: {mix: {read: 1}, keys: 10, rate: 5}\nsteps:\n  - kil: 1\n")
	pause := writeFile(t, dir, "pause.yaml", "name: x\ncluster: {nodes: 3}\nworkload: {mix: {read: 1}, keys: 10, rate: 5}\nsteps:\n  - pause: 1\n")
	badOption := writeFile(t, dir, "opt.yaml", "name: x\ncluster:\n  nodes: 3\n  options:\n    replicas: 1\n    appendonly: sometimes\nworkload: {mix: {read: 1}, keys: 10, rate: 5}\nsteps:\n  - sleep: 1s\n")
	unknownOption := writeFile(t, dir, "typo.yaml", "name: x\ncluster:\n  nodes: 3\n  options: {replica: 1}\nworkload: {mix: {read: 1}, keys: 10, rate: 5}\nsteps:\n  - sleep: 1s\n")
	etcdReplica := writeFile(t, dir, "replica.yaml", "name: x\ncluster: {nodes: 3}\nworkload: {mix: {read: 1}, keys: 10, rate: 5}\nsteps:\n  - kill: 4\n")
	etcdRole := writeFile(t, dir, "role.yaml", "name: x\ncluster: {nodes: 3}\nworkload: {mix: {read: 1}, keys: 10, rate: 5}\nsteps:\n  - pause: replica\n")
	mariadbFaults := writeFile(t, dir, "mariadb.yaml", "name: x\ncluster:\n  nodes: 3\n  options: {semi-sync: on, read-from: replicas}\nworkload: {mix: {read: 1}, keys: 10, rate: 5}\nsteps:\n  - pause: replica\n  - resume: down\n  - kill: primary\n  - start: 1\n  - wait-settled:\n")
	promotePrimary := writeFile(t, dir, "promote.yaml", "name: x\ncluster:\n  nodes: 3\nworkload: {mix: {read: 1}, keys: 10, rate: 5}\nsteps:\n  - kill: 2\n  - promote: 1\n")
	mariadbBad := writeFile(t, dir, "mariadb-bad.yaml", "name: x\ncluster:\n  nodes: 3\n  options:\n    read-from: replica\nworkload: {mix: {read: 1}, keys: 10, rate: 5}\nsteps:\n  - sleep: 1s\n")
	mariadbMethod := writeFile(t, dir, "mariadb-method.yaml", "name: x\ncluster:\n  nodes: 3\nworkload: {mix: {read: 1}, keys: 10, rate: 5}\nsteps:\n  - sleep: 1s\n  - backup: {method: zfs}\n")
	replicas := writeFile(t, dir, "replicas.yaml", "name: x\ncluster:\n  nodes: 3\n  options: {replicas: 1}\nworkload: {mix: {read: 1}, keys: 10, rate: 5}\nsteps:\n  - kill: 4\n  - pause: replica\n  - resume: replica\n  - start: 4\n")

	cases := []struct {
		name     string
		args     []string
		code     int
		inStderr string
		inStdout string
	}{
		{"compare identical", []string{"compare", a, a}, 0, "", "evalrun"},
		{"compare regression", []string{"compare", a, b, "--max-regression", "p99=10%"}, 1, "regressed", "REGRESSION"},
		{"compare regression with a JUnit report", []string{"compare", a, b, "--max-regression", "p99=10%", "--junit", filepath.Join(dir, "junit.xml")}, 1, "regressed", "REGRESSION"},
		{"compare JUnit into no directory", []string{"compare", a, a, "--junit", filepath.Join(dir, "no", "such", "dir", "j.xml")}, 2, "--junit", ""},
		{"compare within a loose limit", []string{"compare", a, b, "--max-regression", "p99=50%,throughput=off"}, 0, "", ""},
		{"compare other schema major", []string{"compare", a, v2}, 2, "schema", ""},
		{"compare missing file", []string{"compare", a, filepath.Join(dir, "nope.json")}, 2, "nope.json", ""},
		{"compare bad limits", []string{"compare", a, a, "--max-regression", "p99=lots"}, 2, "p99", ""},
		// issue 13: an unrelated report must not pass as "OK"
		{"compare another scenario", []string{"compare", a, other}, 2, `nothing to compare in`, "different scenarios"},
		{"compare with every limit off", []string{"compare", a, a, "--max-regression", "p50=off,p90=off,p99=off,p999=off,max=off,throughput=off,errors=off,lost=off"}, 2, "no metric was checked against a limit", ""},
		{"unknown driver", []string{"run", "baseline", "--driver", "nosuchdb"}, 2, `unknown driver "nosuchdb"`, ""},
		{"unknown provider", []string{"run", "baseline", "--provider", "kubernetes"}, 2, "does not support provider", ""},
		{"malformed scenario names file and line", []string{"run", bad}, 2, "bad.yaml:5:", ""},
		{"validate malformed", []string{"validate", bad}, 2, "bad.yaml:5:", ""},
		{"step the driver cannot do", []string{"validate", pause}, 2, "pause.yaml:5:", ""},
		{"validate built-in", []string{"validate", "node-loss"}, 0, "", "ok"},
		// options are the driver's to check, before anything starts, at their line
		{"bad cluster option", []string{"validate", badOption, "--driver", "redis"}, 2, `opt.yaml:6: cluster.options: redis: option appendonly="sometimes": want true or false`, ""},
		{"unknown cluster option", []string{"validate", unknownOption, "--driver", "redis"}, 2, `typo.yaml:4: cluster.options: redis: unknown option "replica" (known: appendonly, cluster-node-timeout, replicas)`, ""},
		{"run refuses a bad option before starting", []string{"run", badOption, "--driver", "redis"}, 2, "opt.yaml:6:", ""},
		// every node a cluster starts is addressable: Redis 3 masters + 3 replicas
		{"kill 4 and pause a replica of Redis 3+3", []string{"validate", replicas, "--driver", "redis"}, 0, "", "6 nodes"},
		{"mariadb: roles primary and replica", []string{"validate", mariadbFaults, "--driver", "mariadb"}, 0, "", "ok"},
		{"mariadb: a bad option at its line", []string{"validate", mariadbBad, "--driver", "mariadb"}, 2, `mariadb-bad.yaml:5: cluster.options: mariadb: option read-from="replica": want one of "primary", "replicas", "any"`, ""},
		{"mariadb: a backup method it lacks", []string{"validate", mariadbMethod, "--driver", "mariadb"}, 2,
			`mariadb-method.yaml:7: backup: driver mariadb (provider docker) has no backup method "zfs" (methods: mariabackup, dump, cold, snapshot)`, ""},
		{"mariadb: backup-methods", []string{"validate", "backup-methods", "--driver", "mariadb"}, 0, "", "mariadb can run it"},
		{"etcd: no backup methods", []string{"validate", "backup-methods", "--driver", "etcd"}, 2, "takes backups one way only", ""},
		{"mariadb: rebalance removes the primary", []string{"validate", "rebalance", "--driver", "mariadb"}, 2,
			"scenarios/rebalance.yaml:30: remove-node: driver mariadb (provider docker) does not remove the primary", ""},
		{"mariadb: promote the primary", []string{"validate", promotePrimary, "--driver", "mariadb"}, 2, "promote.yaml:7: promote: node 1 is the primary at this point, not a replica", ""},
		{"redis cannot promote", []string{"validate", promotePrimary, "--driver", "redis"}, 2, `promote.yaml:7: step "promote": driver redis (provider docker) cannot promote replicas`, ""},
		{"mariadb: --option is the driver's to check", []string{"run", "failover", "--driver", "mariadb", "--provider", "docker", "--option", "semi-sync=maybe"}, 2,
			`option semi-sync="maybe": want true or false`, ""},
		{"--option without a value", []string{"run", "failover", "--driver", "mariadb", "--option", "semi-sync"}, 2, `--option "semi-sync": want NAME=VALUE`, ""},
		{"no node 4 in etcd of 3", []string{"validate", etcdReplica, "--provider", "docker"}, 2, "replica.yaml:5: kill: node 4 out of range", ""},
		{"a role etcd does not have", []string{"validate", etcdRole, "--provider", "docker"}, 2, `role.yaml:5: pause: driver etcd (provider docker) has no node role "replica" (roles: leader, follower, down, last, degraded)`, ""},
		{"unknown built-in", []string{"run", "no-such-scenario"}, 2, "no-such-scenario", ""},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command", ""},
		{"scenarios lists built-ins", []string{"scenarios"}, 0, "", "backup-restore"},
		{"drivers lists etcd", []string{"drivers"}, 0, "", "etcd"},
		// every provider with its own capabilities: etcd in Docker can pause, embedded cannot
		{"drivers lists each provider's capabilities", []string{"drivers"}, 0, "", "docker              can: kill stop start pause"},
		{"bad duration flag", []string{"run", "--duration", "-5s"}, 2, "--duration", ""},
		// the README's gray-failure runs stay valid
		{"example: Redis slow node", []string{"validate", "../../scenarios/examples/redis-slow-node.yaml", "--driver", "redis"}, 0, "", "redis can run it"},
		{"example: MariaDB slow replica", []string{"validate", "../../scenarios/examples/mariadb-slow-replica.yaml", "--driver", "mariadb"}, 0, "", "mariadb can run it"},
		{"example: MariaDB replica pause", []string{"validate", "../../scenarios/examples/mariadb-replica-pause.yaml", "--driver", "mariadb"}, 0, "", "mariadb can run it"},
		{"example: MariaDB primary split, one primary", []string{"validate", "../../scenarios/examples/mariadb-primary-split.yaml", "--driver", "mariadb"}, 0, "", "2 nodes"},
		{"example: MariaDB primary split, three", []string{"validate", "../../scenarios/examples/mariadb-primary-split.yaml", "--driver", "mariadb", "--option", "shards=3"}, 0, "", "6 nodes"},
		{"example: MariaDB primary split, too many nodes", []string{"validate", "../../scenarios/examples/mariadb-primary-split.yaml", "--driver", "mariadb", "--option", "shards=8"}, 2, "shards", ""},
		{"example: MariaDB shards failover", []string{"validate", "../../scenarios/examples/mariadb-shards-failover.yaml", "--driver", "mariadb"}, 0, "", "mariadb can run it"},
		{"example: MariaDB lag routing", []string{"validate", "../../scenarios/examples/mariadb-lag-routing.yaml", "--driver", "mariadb"}, 0, "", "mariadb can run it"},
		{"example: Riak slow node", []string{"validate", "../../scenarios/examples/riak-slow-node.yaml", "--driver", "riak"}, 0, "", "riak can run it"},
		{"slow-node on mem", []string{"validate", "slow-node", "--driver", "mem"}, 0, "", "mem can run it"},
		{"mem cannot limit resources", []string{"validate", "../../scenarios/examples/redis-slow-node.yaml", "--driver", "mem"}, 2, "redis-slow-node.yaml:", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if !strings.Contains(errOut, tc.inStderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.inStderr, errOut)
			}
			if !strings.Contains(out, tc.inStdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.inStdout, out)
			}
			if tc.code == 2 && strings.Count(strings.TrimSpace(firstLine(errOut)), "\n") > 0 {
				t.Errorf("error is not one line: %q", errOut)
			}
		})
	}
}

// The JUnit file of a comparison that regressed says so (issue 13).
func TestCompareWritesJUnit(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join("..", "..", "reports", "internal", "reporttest", "testdata", "report-a.json")
	b := filepath.Join(dir, "b", "report.json")
	slower(t, a, b, 30)
	j := filepath.Join(dir, "junit.xml")
	if code, _, errOut := runCLI(t, "compare", a, b, "--max-regression", "p99=10%", "--junit", j); code != 1 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	x, err := os.ReadFile(j)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(x), "<testsuite") || !strings.Contains(string(x), "<failure message=") {
		t.Errorf("junit.xml:\n%s", x)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// The report command re-renders Markdown and HTML from JSON.
func TestReportRerenders(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "..", "reports", "internal", "reporttest", "testdata", "report-a.json"))
	if err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, dir, "report.json", string(src))
	code, out, errOut := runCLI(t, "report", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, f := range []string{"report.md", "report.html"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not written (%s)", f, out)
		}
	}
}

// A short real run through the command: report files written, exit 0.
func TestRunWritesReport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an embedded etcd cluster")
	}
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "run", "baseline", "--duration", "6s", "--rate", "200", "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, f := range []string{"report.json", "report.md", "report.html", "latency.hlog"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty", f)
		}
	}
	r, err := reports.ReadJSON(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Complete || r.Scenario.Name != "baseline" || r.Scenario.TimeScale >= 1 {
		t.Errorf("report: complete=%v scenario=%q scale=%v", r.Complete, r.Scenario.Name, r.Scenario.TimeScale)
	}
	if !strings.Contains(stdout, "safety: OK — ") {
		t.Errorf("summary lacks the safety verdict:\n%s", stdout)
	}
	leftovers, _ := filepath.Glob(filepath.Join(out, ".*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// Without a reachable Docker daemon, Docker commands fail with one line
// naming the fix; the embedded default does not need Docker.
func TestDockerUnreachable(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	for _, args := range [][]string{{"clean"}, {"images", "build", "etcd"}} {
		code, _, errOut := runCLI(t, args...)
		if code != int(errext.ExitBadInput) || !strings.Contains(errOut, "Docker is not reachable") || !strings.Contains(errOut, "--provider embedded") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
		if n := strings.Count(strings.TrimSpace(errOut), "\n"); n > 0 {
			t.Errorf("%v: error is %d lines: %q", args, n+1, errOut)
		}
	}
	code, out, _ := runCLI(t, "validate", "node-loss")
	if code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("embedded validate needs no Docker: exit %d", code)
	}
}

// otherScenario writes src as the report of another scenario, with its
// own phases, to dst.
func otherScenario(t *testing.T, src, dst string) {
	t.Helper()
	r, err := reports.ReadJSON(src)
	if err != nil {
		t.Fatal(err)
	}
	r.Scenario.Name = "rebalance"
	for i := range r.Phases {
		r.Phases[i].Name = "other-" + r.Phases[i].Name
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteJSON(filepath.Dir(dst), r); err != nil {
		t.Fatal(err)
	}
}

// An error that no layer classified exits 3 (internal), as the README's
// table says, not 2 (bad input); each kind prints its hint.
func TestExitCodeOfAnError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		hint string
	}{
		{nil, 0, ""},
		{errors.New("something broke"), 3, ""},
		{fmt.Errorf("start cluster: %w", errors.New("boom")), 3, ""},
		{errext.BadInput(errors.New("bad flag"), "see 'evalrun --help'"), 2, "see 'evalrun --help'"},
		{errext.WithExitCode(errors.New("regressed"), errext.ExitRegression), 1, ""},
	} {
		var stderr bytes.Buffer
		if got := exitCode(&stderr, tc.err); got != tc.code || !strings.Contains(stderr.String(), tc.hint) {
			t.Errorf("%v: exit %d, want %d; stderr %q", tc.err, got, tc.code, stderr.String())
		}
	}
}
