#!/usr/bin/env bash
# Times the offline image build (internal/debian + docker import) of a
# driver and checks the README's goals: from a cold cache < 20 s, from a warm
# .deb cache (packages and indices cached, root filesystem not) < 3 s.
# Usage: scripts/image-build.sh [DRIVER]   (default redis; needs Docker and
# Debian's mirror). Uses a cache of its own: yours is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
driver=${1:-redis}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/evalrun" ./cmd/evalrun
export XDG_CACHE_HOME=$tmp/cache

build() { # label: prints seconds
	local t0 t1
	t0=$(date +%s.%N)
	"$tmp/evalrun" images build "$driver" >"$tmp/$1.log" 2>&1 || { cat "$tmp/$1.log"; exit 2; }
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }'
}
fail=0
goal() { # label seconds goal
	if awk -v s="$2" -v g="$3" 'BEGIN { exit !(s < g) }'; then echo "ok   $1: $2 s (< $3 s)"; else echo "FAIL $1: $2 s (goal < $3 s)"; fail=1; fi
}
cold=$(build cold)
rm -rf "$XDG_CACHE_HOME/evalrun/rootfs"
warm_debs=$(build warm-debs)
warm=$(build warm)
echo "== $driver image: $(tail -1 "$tmp/warm.log")"
grep -h "debian:" "$tmp/cold.log" | sed 's/^/   cold: /'
goal "cold cache" "$cold" 20
goal "warm .deb cache" "$warm_debs" 3
echo "info warm root filesystem: $warm s"
exit $fail
