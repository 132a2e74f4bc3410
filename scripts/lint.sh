#!/usr/bin/env bash
# Runs golangci-lint at the version pinned in tools/lint/go.mod (its own module,
# so the linter's dependencies stay out of evalrun's go.mod). The Go module
# proxy serves it; the first build takes a few minutes, later ones come from
# Go's build cache. Usage: scripts/lint.sh [golangci-lint run flags] [packages]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(go env GOCACHE)/evalrun-tools/golangci-lint"
mkdir -p "$(dirname "$bin")"
go build -C tools/lint -o "$bin" github.com/golangci/golangci-lint/v2/cmd/golangci-lint
if [ $# -eq 0 ]; then set -- ./...; fi
exec "$bin" run "$@"
