#!/usr/bin/env bash
# make e2e: the demo flow with assertions, then a second bootstrap that
# must be a cache hit; cleans up whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
trap '[ -n "${E2E_KEEP:-}" ] || ./scripts/demo-clean.sh >/dev/null 2>&1 || true' EXIT
DEMO_ASSERT=1 DEMO_PORT=${DEMO_PORT:-4000} ./scripts/demo.sh
out=$(BERTH_HOST=unix:///run/berth/berth.sock bin/berth image bootstrap debian:bookworm)
echo "$out"
echo "$out" | grep -q "Using cached bootstrap" || { echo "e2e: the second bootstrap was not a cache hit" >&2; exit 1; }
echo "e2e: ok"
