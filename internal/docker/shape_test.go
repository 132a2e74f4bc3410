package docker

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestTbfFor(t *testing.T) {
	for _, tt := range []struct {
		rate int64
		want tbfParams
	}{
		// 2 mbit = 250 kB/s: 10 ms is 2.5 kB, below the 4 KiB floor;
		// 100 ms of queue is 25 kB.
		{2_000_000, tbfParams{RateBits: 2_000_000, BurstBytes: 4096, LimitBytes: 4096 + 25_000}},
		{MinBandwidth, tbfParams{RateBits: 8000, BurstBytes: 4096, LimitBytes: 4096 + 100}},
		// 100 mbit = 12.5 MB/s: 125 kB of burst, 1.25 MB of queue.
		{100_000_000, tbfParams{RateBits: 100_000_000, BurstBytes: 125_000, LimitBytes: 125_000 + 1_250_000}},
		{1_000_000_000, tbfParams{RateBits: 1_000_000_000, BurstBytes: 1_250_000, LimitBytes: 1_250_000 + 12_500_000}},
	} {
		got := tbfFor(tt.rate)
		if got != tt.want {
			t.Errorf("tbfFor(%d) = %+v, want %+v", tt.rate, got, tt.want)
		}
		if got.BurstBytes < 1514 || got.LimitBytes <= got.BurstBytes {
			t.Errorf("tbfFor(%d) = %+v: a full frame must fit in the bucket and the queue must be longer", tt.rate, got)
		}
	}
}

func TestLossProbability(t *testing.T) {
	for _, tt := range []struct {
		percent float64
		want    string
	}{
		{0, "0"}, {20, "0.2"}, {3, "0.03"}, {100, "1"}, {0.5, "0.005"}, {0.0001, "0.000001"}, {0.00001, "0"}, {33.3333333, "0.333333"},
	} {
		if got := lossProbability(tt.percent); got != tt.want {
			t.Errorf("lossProbability(%v) = %q, want %q", tt.percent, got, tt.want)
		}
	}
}

func TestShapingCheck(t *testing.T) {
	for _, tt := range []struct {
		s    Shaping
		want string // "" = valid
	}{
		{Shaping{}, ""},
		{Shaping{BandwidthBitsPerSec: 2_000_000, LossPercent: 3, Delay: 50 * time.Millisecond}, ""},
		{Shaping{LossPercent: 100}, ""},
		{Shaping{BandwidthBitsPerSec: 100}, "bandwidth 100 bit/s: want 0 (no cap) or 8000 to"},
		{Shaping{BandwidthBitsPerSec: -1}, "bandwidth -1"},
		{Shaping{LossPercent: 101}, "loss 101%: want 0 to 100"},
		{Shaping{LossPercent: -1}, "loss -1%"},
		{Shaping{LossPercent: 0.00001}, "below the 0.0001%"},
		{Shaping{Delay: -time.Second}, "delay -1s"},
		{Shaping{Delay: time.Minute}, "delay 1m0s: want 0 (none) or 1µs to 10s"},
	} {
		err := tt.s.Check()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: Check() = %v, want %q", tt.s, err, tt.want)
		}
	}
}

func TestQuotaFor(t *testing.T) {
	for _, tt := range []struct {
		cpus    float64
		want    int64
		wantErr string
	}{
		{0, -1, ""}, {0.5, 50000, ""}, {0.05, 5000, ""}, {0.01, 1000, ""}, {2, 200000, ""}, {1.234567, 123457, ""},
		{0.005, 0, "cpus 0.005: want 0 (no limit) or at least 0.01"}, {-1, 0, "cpus -1"},
	} {
		got, err := quotaFor(tt.cpus)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("quotaFor(%v) = %d, %v, want error %q", tt.cpus, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("quotaFor(%v) = %d, %v, want %d", tt.cpus, got, err, tt.want)
		}
	}
	r := Resources{CPUs: 0.5, MemoryBytes: 64 << 20}
	if r.cpuQuota() != 50000 || r.cpuPeriod() != 100000 || (Resources{}).cpuQuota() != 0 || (Resources{}).cpuPeriod() != 0 {
		t.Errorf("creation quota/period of %+v: %d/%d", r, r.cpuQuota(), r.cpuPeriod())
	}
	if err := (Resources{MemoryBytes: 1 << 20}).Check(); err == nil || !strings.Contains(err.Error(), "at least 6 MiB") {
		t.Errorf("1 MiB of memory: %v", err)
	}
}

// TestShapeArgv: the helper's command line is the constant script plus
// numbers only (nothing a caller wrote reaches the shell as text).
func TestShapeArgv(t *testing.T) {
	number := regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
	for _, s := range []Shaping{
		{},
		{BandwidthBitsPerSec: 2_000_000},
		{LossPercent: 20},
		{BandwidthBitsPerSec: 1_000_000_000, LossPercent: 0.5, Delay: 1500 * time.Microsecond},
	} {
		argv := shapeArgv(s)
		if len(argv) != 10 || argv[0] != "/bin/sh" || argv[1] != "-c" || argv[2] != shapeScript || argv[3] != "evalrun-shape" || argv[4] != "apply" {
			t.Fatalf("%+v: argv %q", s, argv)
		}
		for _, a := range argv[5:] {
			if !number.MatchString(a) {
				t.Errorf("%+v: argument %q is not a number", s, a)
			}
		}
	}
	got := shapeArgv(Shaping{BandwidthBitsPerSec: 2_000_000, LossPercent: 20, Delay: 50 * time.Millisecond})[5:]
	want := []string{"2000000", "4096", "29096", "0.2", "50000"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("arguments %q, want %q", got, want)
	}
}

// TestShapeScript runs the helper's script with /bin/sh against fake ip,
// tc and iptables-nft that log their arguments, and checks the commands
// it issues.
func TestShapeScript(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	for _, tt := range []struct {
		name string
		s    Shaping
		env  []string // FAKE_QDISC=1: eth* have evalrun's qdisc; FAKE_CHAIN=1: the chain exists
		want []string
	}{
		{"cap and loss on a clean namespace", Shaping{BandwidthBitsPerSec: 2_000_000, LossPercent: 20}, nil, []string{
			"iptables-nft -S INPUT",
			"tc qdisc show dev eth0 root",
			"tc qdisc add dev eth0 root handle e7a1: tbf rate 2000000bit burst 4096 limit 29096",
			"tc qdisc show dev eth1 root",
			"tc qdisc add dev eth1 root handle e7a1: tbf rate 2000000bit burst 4096 limit 29096",
			"iptables-nft -S EVALRUN-LOSS",
			"iptables-nft -N EVALRUN-LOSS",
			"iptables-nft -A EVALRUN-LOSS -i lo -j RETURN",
			"iptables-nft -A EVALRUN-LOSS -m statistic --mode random --probability 0.2 -j DROP",
			"iptables-nft -I INPUT 1 -j EVALRUN-LOSS",
		}},
		{"clear", Shaping{}, []string{"FAKE_QDISC=1", "FAKE_CHAIN=1"}, []string{
			"iptables-nft -S INPUT",
			"tc qdisc show dev eth0 root",
			"tc qdisc del dev eth0 root",
			"tc qdisc show dev eth1 root",
			"tc qdisc del dev eth1 root",
			"iptables-nft -S EVALRUN-LOSS",
			"iptables-nft -D INPUT -j EVALRUN-LOSS",
			"iptables-nft -D INPUT -j EVALRUN-LOSS",
			"iptables-nft -F EVALRUN-LOSS",
			"iptables-nft -X EVALRUN-LOSS",
		}},
		{"delay with a cap", Shaping{BandwidthBitsPerSec: 8000, Delay: 50 * time.Millisecond}, nil, []string{
			"iptables-nft -S INPUT",
			"tc qdisc show dev eth0 root",
			"tc qdisc add dev eth0 root handle e7a1: netem delay 50000us limit 10000",
			"tc qdisc add dev eth0 parent e7a1:1 handle e7a2: tbf rate 8000bit burst 4096 limit 4196",
			"tc qdisc show dev eth1 root",
			"tc qdisc add dev eth1 root handle e7a1: netem delay 50000us limit 10000",
			"tc qdisc add dev eth1 parent e7a1:1 handle e7a2: tbf rate 8000bit burst 4096 limit 4196",
			"iptables-nft -S EVALRUN-LOSS",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := runFakeShape(t, tt.s, tt.env)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// fakeTools are the fake commands of TestShapeScript; each appends its
// name and arguments to $LOG.
var fakeTools = map[string]string{
	"ip": `[ "$*" = "-o link show up" ] || exit 1
printf '1: lo: <LOOPBACK,UP> mtu 65536\n2: eth0@if12: <BROADCAST,UP> mtu 1500\n3: eth1@if14: <BROADCAST,UP> mtu 1500\n'`,
	"tc": `echo "tc $*" >>"$LOG"
if [ "$1 $2" = "qdisc show" ] && [ -n "${FAKE_QDISC:-}" ]; then echo "qdisc tbf e7a1: root refcnt 2 rate 2Mbit"; fi`,
	"iptables-nft": `echo "iptables-nft $*" >>"$LOG"
case "$*" in
"-S EVALRUN-LOSS") [ -n "${FAKE_CHAIN:-}" ]; exit $? ;;
"-D INPUT -j EVALRUN-LOSS") [ -n "${FAKE_CHAIN:-}" ] && [ ! -e "$LOG.hook" ] && touch "$LOG.hook" && exit 0; exit 1 ;;
esac`,
}

func runFakeShape(t *testing.T, s Shaping, env []string) []string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range fakeTools {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	log := filepath.Join(dir, "log")
	argv := shapeArgv(s)
	cmd := exec.Command("sh", argv[1:]...)
	cmd.Env = append([]string{"PATH=" + dir + ":/usr/bin:/bin", "LOG=" + log}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("script: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "applied with iptables-nft on: lo eth0 eth1") {
		t.Errorf("output %q", out)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

func TestNetemAnswer(t *testing.T) {
	for _, tt := range []struct {
		res     helperResult
		want    bool
		wantErr string
	}{
		{helperResult{ExitCode: 0}, true, ""},
		{helperResult{ExitCode: 2, Stderr: "Error: Specified qdisc kind is unknown.\n"}, false, ""},
		{helperResult{ExitCode: 1, Stderr: "RTNETLINK answers: Operation not permitted\n"}, false, "cannot check for netem: tc exited with 1: RTNETLINK answers: Operation not permitted"},
	} {
		got, err := netemAnswer(tt.res)
		if got != tt.want || (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("netemAnswer(%+v) = %v, %v; want %v, %q", tt.res, got, err, tt.want, tt.wantErr)
		}
	}
}
