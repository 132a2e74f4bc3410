package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Resources limits one container: a CPU quota and a memory limit. Zero
// fields mean no limit. NodeSpec.Resources applies them at creation.
type Resources struct {
	CPUs        float64 // cores (0.5 = half a core)
	MemoryBytes int64
}

// Shaping is what SetShaping applies inside a node's network namespace,
// through a short-lived helper container (evalrun/nettools, built offline
// from Debian's iproute2 and iptables) that joins it with NET_ADMIN. Zero
// fields apply nothing of that kind.
type Shaping struct {
	BandwidthBitsPerSec int64         // tbf on every interface but lo (egress)
	LossPercent         float64       // iptables statistic DROP of inbound packets, in a chain of evalrun's own
	Delay               time.Duration // netem delay (egress); only where HasNetem
}

// ErrNoNetem: the kernel has no netem qdisc, so a delay cannot be applied.
var ErrNoNetem = errors.New("this kernel has no netem qdisc (tc: Specified qdisc kind is unknown), so evalrun cannot add delay here")

// Limits of the values Resources and Shaping accept.
const (
	// cpuPeriod is the CFS period of every quota evalrun sets (Docker's
	// default, in µs); a quota is cpus × cpuPeriod.
	cpuPeriod = 100000
	// MinCPUs is the smallest quota: the kernel's 1 ms per 100 ms period.
	MinCPUs = 0.01
	// MinMemoryBytes is Docker's smallest memory limit.
	MinMemoryBytes = 6 << 20
	// MinBandwidth and MaxBandwidth bound Shaping.BandwidthBitsPerSec.
	MinBandwidth = 8000
	MaxBandwidth = 100_000_000_000
	// MaxDelay bounds Shaping.Delay.
	MaxDelay = 10 * time.Second
)

// Check says what is wrong with r, in one line.
func (r Resources) Check() error {
	if math.IsNaN(r.CPUs) || math.IsInf(r.CPUs, 0) || r.CPUs < 0 || r.CPUs > 0 && r.CPUs < MinCPUs {
		return fmt.Errorf("cpus %v: want 0 (no limit) or at least %v", r.CPUs, MinCPUs)
	}
	if r.MemoryBytes < 0 || r.MemoryBytes > 0 && r.MemoryBytes < MinMemoryBytes {
		return fmt.Errorf("memory %d bytes: want 0 (no limit) or at least 6 MiB", r.MemoryBytes)
	}
	return nil
}

// quotaFor is the CFS quota (µs per cpuPeriod) of cpus cores; -1 (no
// limit) for 0.
func quotaFor(cpus float64) (int64, error) {
	if err := (Resources{CPUs: cpus}).Check(); err != nil {
		return 0, err
	}
	if cpus == 0 {
		return -1, nil
	}
	return int64(math.Round(cpus * cpuPeriod)), nil
}

// cpuQuota and cpuPeriod are the HostConfig fields of r at creation (0:
// Docker's default, no limit). r was checked.
func (r Resources) cpuQuota() int64 {
	if r.CPUs == 0 {
		return 0
	}
	q, _ := quotaFor(r.CPUs)
	return q
}

func (r Resources) cpuPeriod() int64 {
	if r.CPUs == 0 {
		return 0
	}
	return cpuPeriod
}

// Resources are the limits the node was created with.
func (n *Node) Resources() Resources { return n.spec.Resources }

// SetCPUs changes the node's CPU quota while it runs (docker update); 0
// restores no limit.
//
// The quota is always CpuQuota/CpuPeriod, at creation too: Docker refuses
// to update CpuQuota once NanoCpus is set (and NanoCpus cannot go back to
// 0 through an update, where 0 means "unchanged"), while CpuQuota -1 is
// the kernel's "no limit" and an update accepts it.
func (n *Node) SetCPUs(ctx context.Context, cpus float64) error {
	quota, err := quotaFor(cpus)
	if err != nil {
		return fmt.Errorf("docker: node %s: %w", n.name, err)
	}
	body := map[string]int64{"CpuQuota": quota}
	if quota > 0 {
		body["CpuPeriod"] = cpuPeriod
	}
	if err := n.c.e.postJSON(ctx, "/containers/"+n.id+"/update", body); err != nil {
		return fmt.Errorf("docker: node %s: set the CPU quota to %v: %w", n.name, cpus, err)
	}
	return nil
}

// postJSON POSTs body as JSON and discards the answer.
func (e *Engine) postJSON(ctx context.Context, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	resp, err := e.do(ctx, http.MethodPost, path, nil, bytes.NewReader(b), "application/json")
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Check says what is wrong with s, in one line.
func (s Shaping) Check() error {
	if s.BandwidthBitsPerSec != 0 && (s.BandwidthBitsPerSec < MinBandwidth || s.BandwidthBitsPerSec > MaxBandwidth) {
		return fmt.Errorf("bandwidth %d bit/s: want 0 (no cap) or %d to %d bit/s", s.BandwidthBitsPerSec, int64(MinBandwidth), int64(MaxBandwidth))
	}
	if math.IsNaN(s.LossPercent) || s.LossPercent < 0 || s.LossPercent > 100 {
		return fmt.Errorf("loss %v%%: want 0 to 100", s.LossPercent)
	}
	if s.LossPercent > 0 && lossProbability(s.LossPercent) == "0" {
		return fmt.Errorf("loss %v%%: below the 0.0001%% evalrun can set", s.LossPercent)
	}
	if s.Delay < 0 || s.Delay > MaxDelay || s.Delay > 0 && s.Delay < time.Microsecond {
		return fmt.Errorf("delay %s: want 0 (none) or 1µs to %s", s.Delay, MaxDelay)
	}
	return nil
}

// IsZero reports whether s shapes nothing.
func (s Shaping) IsZero() bool { return s == Shaping{} }

// tbfParams are the numbers of one tbf qdisc.
type tbfParams struct {
	RateBits   int64 // bit/s
	BurstBytes int64 // bucket size
	LimitBytes int64 // bucket plus queue: what waits beyond it is dropped
}

// Burst and queue of the tbf qdisc, relative to its rate.
const (
	// tbfBurstTime of traffic fills the bucket: small enough that a cap
	// acts on all but tiny transfers (2 mbit: 2.5 kB), large enough that
	// the kernel need not wake per packet at high rates.
	tbfBurstTime = 10 * time.Millisecond
	// tbfMinBurst: a full-size Ethernet frame (1514 bytes) must fit in the
	// bucket or tbf drops it; 4 KiB holds two with room to spare.
	tbfMinBurst = 4096
	// tbfQueueTime of traffic may wait in the queue: like a router's
	// buffer, it delays rather than drops a short excess (a TCP window),
	// and bounds the queueing delay a cap adds to 100 ms.
	tbfQueueTime = 100 * time.Millisecond
)

// tbfFor derives a tbf qdisc's burst and limit from its rate.
func tbfFor(rateBits int64) tbfParams {
	bytesPerSec := rateBits / 8
	burst := max(bytesPerSec*int64(tbfBurstTime)/int64(time.Second), tbfMinBurst)
	limit := burst + bytesPerSec*int64(tbfQueueTime)/int64(time.Second)
	return tbfParams{RateBits: rateBits, BurstBytes: burst, LimitBytes: limit}
}

// lossProbability renders percent as iptables' statistic probability
// ("0.2" for 20%), "0" for none.
func lossProbability(percent float64) string {
	s := strconv.FormatFloat(percent/100, 'f', 6, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" {
		return "0"
	}
	return s
}

// shapeChain is evalrun's own iptables chain (filter table), hooked first
// in INPUT while a loss is set.
const shapeChain = "EVALRUN-LOSS"

// shapeHandle is the handle of evalrun's root qdisc ("e7a1:"), and
// shapeChildHandle that of the tbf under a netem root: clearing removes a
// root qdisc only when it is evalrun's.
const (
	shapeHandle      = "e7a1:"
	shapeChildHandle = "e7a2:"
)

// shapeScript is the helper's program (/bin/sh -c; its text is constant).
// Its arguments are numbers that Go validated and formatted:
//
//	apply RATE_BIT BURST_BYTES LIMIT_BYTES LOSS_PROBABILITY DELAY_US
//	show
//
// apply removes evalrun's shaping (its root qdisc on every interface but
// lo that is up: tunnel fallback devices like tunl0 stay down and alone;
// its chain, unhooked from INPUT) and then adds what the numbers ask
// (0: nothing of that kind). show prints tc qdisc show and iptables -S.
// iptables-nft is used when it works in this namespace, else
// iptables-legacy (the show of the other backend is left out: listing a
// legacy table would create it in the node's namespace).
const shapeScript = `set -u
H=` + shapeHandle + ` C=` + shapeChildHandle + ` CHAIN=` + shapeChain + `
fail() { echo "evalrun-shape: $*" >&2; exit 1; }
ipt=iptables-nft
$ipt -S INPUT >/dev/null 2>&1 || ipt=iptables-legacy
if [ "$1" = show ]; then
	echo "# tc qdisc show"; tc qdisc show || exit 1
	echo "# $ipt -S"; $ipt -S || exit 1
	exit 0
fi
[ "$#" -eq 6 ] || fail "want: apply RATE BURST LIMIT PROBABILITY DELAY_US"
rate=$2 burst=$3 limit=$4 prob=$5 delay=$6
devs=$(ip -o link show up | sed -n 's/^[0-9]*: \([^:@ ]*\).*/\1/p') || fail "cannot list interfaces"
for dev in $devs; do
	[ "$dev" = lo ] && continue
	if tc qdisc show dev "$dev" root | grep -q " $H "; then
		tc qdisc del dev "$dev" root || fail "$dev: cannot remove evalrun's qdisc"
	fi
	if [ "$delay" -gt 0 ]; then
		tc qdisc add dev "$dev" root handle $H netem delay "${delay}us" limit 10000 || fail "$dev: netem delay"
		if [ "$rate" -gt 0 ]; then
			tc qdisc add dev "$dev" parent ${H}1 handle $C tbf rate "${rate}bit" burst "$burst" limit "$limit" || fail "$dev: tbf under netem"
		fi
	elif [ "$rate" -gt 0 ]; then
		tc qdisc add dev "$dev" root handle $H tbf rate "${rate}bit" burst "$burst" limit "$limit" || fail "$dev: tbf"
	fi
done
if $ipt -S $CHAIN >/dev/null 2>&1; then
	n=0
	while $ipt -D INPUT -j $CHAIN 2>/dev/null && [ $n -lt 100 ]; do n=$((n+1)); done
	$ipt -F $CHAIN && $ipt -X $CHAIN || fail "cannot remove the $CHAIN chain ($ipt)"
fi
if [ "$prob" != 0 ]; then
	$ipt -N $CHAIN && $ipt -A $CHAIN -i lo -j RETURN &&
	$ipt -A $CHAIN -m statistic --mode random --probability "$prob" -j DROP &&
	$ipt -I INPUT 1 -j $CHAIN || fail "cannot set up the $CHAIN chain ($ipt)"
fi
echo "evalrun-shape: applied with $ipt on:" $devs
`

// shapeArgv is the helper's command line that applies s.
func shapeArgv(s Shaping) []string {
	tbf := tbfParams{}
	if s.BandwidthBitsPerSec > 0 {
		tbf = tbfFor(s.BandwidthBitsPerSec)
	}
	return []string{"/bin/sh", "-c", shapeScript, "evalrun-shape", "apply",
		strconv.FormatInt(tbf.RateBits, 10), strconv.FormatInt(tbf.BurstBytes, 10), strconv.FormatInt(tbf.LimitBytes, 10),
		lossProbability(s.LossPercent), strconv.FormatInt(s.Delay.Microseconds(), 10)}
}

// showArgv is the helper's command line that prints the namespace's state.
func showArgv() []string {
	return []string{"/bin/sh", "-c", shapeScript, "evalrun-shape", "show"}
}

// SetShaping replaces the node's shaping with s (a zero s clears it).
//
// It runs one helper container in the node's network namespace (about
// half a second here), which first removes evalrun's previous shaping, so
// applying the same s twice is harmless. A paused node is shaped like a
// running one (the helper needs no process of the node; the kernel state
// is the namespace's). A node that is not running has no namespace: s is
// remembered and applied when Start starts it. The node's interfaces
// change when Partition and Heal move it between networks: both re-apply
// a bandwidth cap or delay to the nodes that have one (the loss chain
// hooks INPUT, whatever the interface, and stays). A delay needs netem
// (HasNetem); without it the error wraps ErrNoNetem and nothing changes.
func (n *Node) SetShaping(ctx context.Context, s Shaping) error {
	if err := s.Check(); err != nil {
		return fmt.Errorf("docker: node %s: %w", n.name, err)
	}
	if s.Delay > 0 {
		ok, err := n.c.e.HasNetem(ctx)
		if err != nil {
			return fmt.Errorf("docker: node %s: delay %s: %w", n.name, s.Delay, err)
		}
		if !ok {
			return fmt.Errorf("docker: node %s: delay %s: %w", n.name, s.Delay, ErrNoNetem)
		}
	}
	n.shapeMu.Lock()
	defer n.shapeMu.Unlock()
	st, err := n.inspect(ctx)
	if err != nil {
		return err
	}
	if st.Running {
		if err := n.applyShaping(ctx, s); err != nil {
			return err
		}
	}
	n.mu.Lock()
	n.shaping = s
	n.mu.Unlock()
	return nil
}

// reapplyShaping applies the node's shaping again, if it has one, in a
// new network namespace (Start) or on new interfaces (Partition, Heal).
func (n *Node) reapplyShaping(ctx context.Context) error {
	n.shapeMu.Lock()
	defer n.shapeMu.Unlock()
	s := n.Shaping()
	if s.IsZero() {
		return nil
	}
	return n.applyShaping(ctx, s)
}

// Shaping is what SetShaping last set on the node.
func (n *Node) Shaping() Shaping {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.shaping
}

// applyShaping runs the helper that applies s in the node's namespace.
func (n *Node) applyShaping(ctx context.Context, s Shaping) error {
	res, err := n.runHelper(ctx, shapeArgv(s))
	if err != nil {
		return fmt.Errorf("docker: node %s: shaping: %w", n.name, err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("docker: node %s: shaping (exit %d): %s", n.name, res.ExitCode, oneLineText(res.Stderr+res.Stdout))
	}
	n.c.e.logf("docker: node %s: shaping %+v applied in %s (%s)", n.name, s, res.Took.Round(time.Millisecond), strings.TrimSpace(res.Stdout))
	return nil
}

// runHelper runs cmd in a helper container that joins the node's network
// namespace, labelled with the run.
func (n *Node) runHelper(ctx context.Context, cmd []string) (helperResult, error) {
	name := n.cname + "-nettools-" + randomHex(3)
	return n.c.e.runHelper(ctx, helperRun{runID: n.c.runID, name: name, netMode: "container:" + n.id, cmd: cmd})
}

// reshape re-applies the bandwidth cap and delay of the running nodes that
// have one, after Partition or Heal changed their interfaces.
func (c *Cluster) reshape(ctx context.Context) error {
	var shaped []*Node
	for _, n := range c.Nodes() {
		if s := n.Shaping(); s.BandwidthBitsPerSec > 0 || s.Delay > 0 {
			shaped = append(shaped, n)
		}
	}
	return parallel(len(shaped), func(i int) error {
		n := shaped[i]
		if st, err := n.inspect(ctx); err != nil || !st.Running {
			return err
		}
		return n.reapplyShaping(ctx)
	})
}

// NetState returns `tc qdisc show` and `iptables -S` (of the backend
// SetShaping uses there: nf_tables where it works, else legacy) as seen
// inside the node's network namespace, for tests and diagnostics.
func (n *Node) NetState(ctx context.Context) (string, error) {
	res, err := n.runHelper(ctx, showArgv())
	if err != nil {
		return "", fmt.Errorf("docker: node %s: network state: %w", n.name, err)
	}
	if res.ExitCode != 0 {
		return res.Stdout, fmt.Errorf("docker: node %s: network state (exit %d): %s", n.name, res.ExitCode, oneLineText(res.Stderr))
	}
	return res.Stdout, nil
}

// netemCheckRun is the LabelRun of HasNetem's helper (Sweep removes it if
// the process dies while it runs).
const netemCheckRun = "evalrun-netem-check"

// HasNetem reports whether the engine's kernel has the netem qdisc
// (checked once per Engine with a helper container in a network
// namespace of its own). An error means the check could not run; it is
// not cached, so a later call tries again.
func (e *Engine) HasNetem(ctx context.Context) (bool, error) {
	e.gray.netemMu.Lock()
	defer e.gray.netemMu.Unlock()
	if e.gray.netem != nil {
		return *e.gray.netem, nil
	}
	res, err := e.runHelper(ctx, helperRun{runID: netemCheckRun, netMode: "none",
		cmd: []string{"tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"}})
	if err != nil {
		return false, fmt.Errorf("docker: cannot check for netem: %w", err)
	}
	has, err := netemAnswer(res)
	if err != nil {
		return false, err
	}
	e.gray.netem = &has
	e.logf("docker: netem qdisc available: %v (checked in %s)", has, res.Took.Round(time.Millisecond))
	return has, nil
}

// netemAnswer reads the outcome of `tc qdisc add dev lo root netem …`.
func netemAnswer(res helperResult) (bool, error) {
	out := res.Stderr + res.Stdout
	switch {
	case res.ExitCode == 0:
		return true, nil
	case strings.Contains(out, "qdisc kind is unknown") || strings.Contains(out, "Unknown qdisc"):
		return false, nil
	}
	return false, fmt.Errorf("docker: cannot check for netem: tc exited with %d: %s", res.ExitCode, oneLineText(out))
}

// oneLineText joins the lines of s (a helper's output) into one, bounded.
func oneLineText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	if s == "" {
		return "no output"
	}
	return s
}
