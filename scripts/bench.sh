#!/usr/bin/env bash
# Runs evalrun's benchmarks and checks them against the goals in the
# README. Exit 1 when a goal is missed. Results go to bench-results/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench-results
out=bench-results/bench-$(date -u +%Y%m%dT%H%M%SZ).txt

go test -run '^$' -bench 'BenchmarkRecord' -benchmem -count 5 ./internal/measure | tee "$out"
go test -run '^$' -bench 'BenchmarkLoadGeneratorNopDriver' -count 5 ./internal/workload | tee -a "$out"
go test -run '^$' -bench 'BenchmarkHourAt5kOpsMemory' -benchtime 1x -count 1 ./internal/workload | tee -a "$out"

fail=0
check() { # name metric-column goal-op goal
	local name=$1 unit=$2 op=$3 goal=$4 best
	best=$(awk -v n="^$name-" -v u="$unit" '$1 ~ n { for (i=2;i<=NF;i++) if ($(i+1)==u) print $i }' "$out" | sort -g | { if [ "$op" = "<" ]; then head -1; else tail -1; fi })
	if [ -z "$best" ]; then echo "MISSING $name"; fail=1; return; fi
	if awk -v b="$best" -v g="$goal" -v op="$op" 'BEGIN { exit !((op=="<" && b<g) || (op==">=" && b>=g)) }'; then
		echo "ok   $name: $best $unit ($op $goal)"
	else
		echo "FAIL $name: $best $unit (goal $op $goal)"; fail=1
	fi
}
echo "== goals (best of runs)"
check BenchmarkRecord ns/op "<" 100
check BenchmarkLoadGeneratorNopDriver ops/s ">=" 200000
check BenchmarkHourAt5kOpsMemory heap-MB "<" 150
echo "results: $out (compare runs with benchstat)"
exit $fail
