#!/usr/bin/env bash
# CPU per operation of the harness at a fixed rate against a real Redis
# master in Docker (issue 10): evalrun runs scripts/cpu-bench.yaml and its
# report says what its own process spent in the 40 s "measure" phase (user
# and sys apart, getrusage). With --ycsb PATH, go-ycsb (built beside the
# project from github.com/pingcap/go-ycsb, never committed) runs the same
# shape against a Redis container of the same image and settings (a
# one-node cluster, cluster client on both sides), timed by bash's `time`;
# the ratio is the figure to report. The two alternate (evalrun 1, go-ycsb
# 1, evalrun 2, ...), so load that changes during the job (a shared
# machine) hits both alike; each line gives the 1-minute load average.
#
#   scripts/cpu-bench.sh [--rate 5000] [--ycsb /path/to/go-ycsb] [--runs 1]
#
# Needs Docker and the offline Redis image (built on first use). Nothing
# but 127.0.0.1 is dialled: the go-ycsb server announces 127.0.0.1 and its
# published port. Results go to bench-results/.
set -euo pipefail
cd "$(dirname "$0")/.."

rate=5000 ycsb="" runs=1 seconds=40 threads=64
while [ $# -gt 0 ]; do
	case "$1" in
	--rate) rate=$2; shift 2 ;;
	--ycsb) ycsb=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	*) echo "usage: $0 [--rate N] [--ycsb PATH] [--runs N]" >&2; exit 2 ;;
	esac
done
if [ -n "$ycsb" ] && [ ! -x "$ycsb" ]; then
	echo "cpu-bench: --ycsb $ycsb is not an executable" >&2; exit 2
fi
mkdir -p bench-results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench-results/cpu-$stamp.txt
go build -o bench-results/evalrun ./cmd/evalrun
go build -o bench-results/phasecpu ./scripts/internal/phasecpu
load() { cut -d' ' -f1 /proc/loadavg; }

# evalrun_run I: one evalrun run; its measure phase's CPU and start lag.
image=""
evalrun_run() {
	local dir=bench-results/cpu-$stamp-evalrun-$1 l0 us user sys ops p50 p99
	l0=$(load)
	bench-results/evalrun run scripts/cpu-bench.yaml --driver redis --rate "$rate" --out "$dir" -q >/dev/null
	read -r us user sys ops p50 p99 < <(bench-results/phasecpu -phase measure "$dir/report.json")
	echo "evalrun run $1: ${us} us/op (user ${user}, sys ${sys}) over ${ops} ops; start lag p50 ${p50} us, p99 ${p99} us; load ${l0} -> $(load)" | tee -a "$out"
	image=$(bench-results/phasecpu -image "$dir/report.json")
}

echo "== evalrun: $rate ops/s, concurrency $threads, ${seconds}s measured ($(nproc) CPUs)" | tee "$out"
evalrun_run 1
if [ -z "$ycsb" ]; then
	for i in $(seq 2 "$runs"); do evalrun_run "$i"; done
	echo "results: $out (pass --ycsb PATH to measure go-ycsb beside it)"
	exit 0
fi

# A one-node Redis Cluster like the driver's, announcing the address the
# host dials, so go-ycsb's cluster client never learns a container IP.
port=""
for p in $(shuf -i 20000-40000 -n 50); do
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "cpu-bench: no free port" >&2; exit 1; }
name=evalrun-cpu-bench-$stamp
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
docker run -d --name "$name" --label evalrun.bench=cpu -p "127.0.0.1:$port:6379" --entrypoint redis-server "$image" \
	--port 6379 --protected-mode no --cluster-enabled yes --cluster-config-file nodes.conf \
	--cluster-announce-ip 127.0.0.1 --cluster-announce-port "$port" --appendonly no --save "" >/dev/null
for _ in $(seq 50); do docker exec "$name" redis-cli ping >/dev/null 2>&1 && break; sleep 0.2; done
docker exec "$name" redis-cli cluster addslotsrange 0 16383 >/dev/null
for _ in $(seq 50); do docker exec "$name" redis-cli cluster info | grep -q 'cluster_state:ok' && break; sleep 0.2; done

ops=$((rate * seconds))
props=(-p redis.mode=cluster -p "redis.addr=127.0.0.1:$port" -p threadcount=$threads -p recordcount=1000
	-p fieldcount=1 -p fieldlength=1000 -p readproportion=0.5 -p updateproportion=0.5
	-p requestdistribution=uniform -p debug.pprof=127.0.0.1:0)
"$ycsb" load redis "${props[@]}" -p operationcount=1000 >/dev/null
echo "== go-ycsb ($ycsb): target $rate, $threads threads, $ops ops, alternating with evalrun" | tee -a "$out"

# ycsb_run I: one go-ycsb run, timed by bash.
ycsb_run() {
	local l0 t u s r
	l0=$(load)
	TIMEFORMAT='%3U %3S %3R'
	t=$( { time "$ycsb" run redis "${props[@]}" -p target="$rate" -p operationcount=$ops >/dev/null 2>&1; } 2>&1 )
	read -r u s r <<<"$t"
	awk -v u="$u" -v s="$s" -v r="$r" -v n="$ops" -v i="$1" -v l0="$l0" -v l1="$(load)" 'BEGIN {
		printf "go-ycsb run %d: %.1f us/op (user %.1f, sys %.1f) over %d ops in %.1fs; load %s -> %s\n", i, (u+s)*1e6/n, u*1e6/n, s*1e6/n, n, r, l0, l1 }' | tee -a "$out"
}
ycsb_run 1
for i in $(seq 2 "$runs"); do
	evalrun_run "$i"
	ycsb_run "$i"
done
echo "ratio (evalrun / go-ycsb) of the medians, and each side's range:" | tee -a "$out"
awk '/^evalrun run/ { e[++ne] = $4 } /^go-ycsb run/ { y[++ny] = $4 }
	function median(a, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	END { me = median(e, ne); my = median(y, ny)
		printf "  %.2f (evalrun %.1f us/op, %.1f-%.1f; go-ycsb %.1f us/op, %.1f-%.1f)\n", me / my, me, e[1], e[ne], my, y[1], y[ny] }' "$out" | tee -a "$out"
echo "results: $out"
