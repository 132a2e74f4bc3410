#!/usr/bin/env bash
# CPU per operation of the harness at a fixed rate against a real Redis
# master in Docker (issue 10): evalrun runs scripts/cpu-bench.yaml and its
# report says what its own process spent in the 40 s "measure" phase (user
# and sys apart, getrusage). With --ycsb PATH, go-ycsb (built beside the
# project from github.com/pingcap/go-ycsb, never committed) runs the same
# shape against a Redis container of the same image and settings (a
# one-node cluster, cluster client on both sides), timed by bash's `time`;
# the ratio is the figure to report.
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

# per_op DIR: "<us/op> <user us/op> <sys us/op> <ops>" of the measure phase.
per_op() {
	go run ./scripts/internal/phasecpu -phase measure "$1/report.json"
}

echo "== evalrun: $rate ops/s, concurrency $threads, ${seconds}s measured ($(nproc) CPUs)" | tee "$out"
image=""
for i in $(seq "$runs"); do
	dir=bench-results/cpu-$stamp-evalrun-$i
	bench-results/evalrun run scripts/cpu-bench.yaml --driver redis --rate "$rate" --out "$dir" -q >/dev/null
	read -r us user sys ops < <(per_op "$dir")
	echo "evalrun run $i: ${us} us/op (user ${user}, sys ${sys}) over ${ops} ops" | tee -a "$out"
	image=$(go run ./scripts/internal/phasecpu -image "$dir/report.json")
done

if [ -z "$ycsb" ]; then
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
echo "== go-ycsb ($ycsb): target $rate, $threads threads, $ops ops" | tee -a "$out"
for i in $(seq "$runs"); do
	TIMEFORMAT='%3U %3S %3R'
	t=$( { time "$ycsb" run redis "${props[@]}" -p target=$rate -p operationcount=$ops >/dev/null 2>&1; } 2>&1 )
	read -r u s r <<<"$t"
	awk -v u="$u" -v s="$s" -v r="$r" -v n="$ops" -v i="$i" 'BEGIN {
		printf "go-ycsb run %d: %.1f us/op (user %.1f, sys %.1f) over %d ops in %.1fs\n", i, (u+s)*1e6/n, u*1e6/n, s*1e6/n, n, r }' | tee -a "$out"
done
echo "ratio (evalrun / go-ycsb), best of runs:" | tee -a "$out"
awk '/^evalrun run/ { e = (e == "" || $4 < e) ? $4 : e } /^go-ycsb run/ { y = (y == "" || $4 < y) ? $4 : y }
	END { printf "  %.2f (evalrun %.1f us/op, go-ycsb %.1f us/op)\n", e / y, e, y }' "$out" | tee -a "$out"
echo "results: $out"
