#!/usr/bin/env bash
# The harness's own latency floor: start lag (actual - intended start) and
# latency p50/p99 at 1k, 5k and 20k ops/s against a client that answers at
# once, with precise starts as runs use them (BenchmarkFloor in
# internal/workload). Usage: scripts/floor.sh [-count N]
set -euo pipefail
cd "$(dirname "$0")/.."
exec go test -run '^$' -bench '^BenchmarkFloor$' -benchtime 1x "$@" ./internal/workload
