#!/usr/bin/env bash
# make demo-clean: remove what make demo made (the Debian base image stays,
# as a cache for the next demo), stop the registry and the daemon it started.
set -uo pipefail
cd "$(dirname "$0")/.."
STATE=${BERTH_DEMO_STATE:-/tmp/berth-demo}
REG=127.0.0.1:${DEMO_REGISTRY_PORT:-5000}
export BERTH_HOST=unix:///run/berth/berth.sock
BERTH=$PWD/bin/berth
run() { printf '+ %s\n' "$*"; "$@"; }
# The swarm chapter's machines: the stack, the swarm, then the machines.
if [ -x "$BERTH" ] && [ -d "$STATE/machines" ]; then
  export BERTH_MACHINE_STORAGE_PATH="$STATE/machines"
  if [ "$("$BERTH" machine status myvm1 2>/dev/null)" = Running ]; then
    run "$BERTH" machine ssh myvm1 "docker stack rm getstartedlab" || true
    run "$BERTH" machine ssh myvm2 "docker swarm leave" 2>/dev/null || true
    run "$BERTH" machine ssh myvm1 "docker swarm leave --force" || true
  fi
  names=$("$BERTH" machine ls -q 2>/dev/null)
  if [ -n "$names" ]; then run "$BERTH" machine rm -f -y $names || true; fi
fi
if [ -x "$BERTH" ] && "$BERTH" version >/dev/null 2>&1; then
  run "$BERTH" rm -f getstarted-web getstarted-redis || true
  run "$BERTH" network rm getstarted || true
  run "$BERTH" rmi getstarted/friendlyhello getstarted/redis "$REG/getstarted/friendlyhello:v1" 2>/dev/null || true
fi
for p in registry daemon; do
  if [ -f "$STATE/$p.pid" ]; then
    pid=$(cat "$STATE/$p.pid")
    echo "+ stop the $p (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$STATE/$p.pid"
  fi
done
rm -rf "$STATE"
echo "cleaned up (the debian:bookworm base image is kept for the next demo)"
