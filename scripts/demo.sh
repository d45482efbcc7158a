#!/usr/bin/env bash
# make demo: Docker's Get Started app on berth, from a fresh machine.
#   1. build berth, start its daemon (unless one already answers)
#   2. make a Debian base image from Debian's mirror (cached after the first time)
#   3. build the app and Redis images, run them on a user network, -p 4000:80
#   4. three requests: the visit count rises, the page names the container
#   5. "share": push the app to a local berth registry, remove it, run it from there
# Clean up with: make demo-clean.   DEMO_ASSERT=1 makes it a test (make e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH

STATE=${BERTH_DEMO_STATE:-/tmp/berth-demo}
SOCK=/run/berth/berth.sock
PORT=${DEMO_PORT:-4000}
REG=127.0.0.1:${DEMO_REGISTRY_PORT:-5000}
ASSERT=${DEMO_ASSERT:-0}
export BERTH_HOST=unix://$SOCK DOCKER_HOST=unix://$SOCK
BERTH=$PWD/bin/berth

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '+ %s\n' "$*"; "$@"; }
fail() { echo "demo: $*" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then fail "run as root (containers, networks and debootstrap need it)"; fi
mkdir -p "$STATE"

say "what this machine needs"
need=()
for pkg in debootstrap curl libseccomp-dev pkg-config iproute2; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  run apt-get update -qq
  DEBIAN_FRONTEND=noninteractive run apt-get install -y -qq "${need[@]}"
else
  echo "debootstrap, curl, libseccomp-dev: present"
fi

say "build berth"
run make build

say "the daemon"
if "$BERTH" version >/dev/null 2>&1; then
  echo "a berth daemon already answers on $SOCK"
else
  printf '+ %s daemon &   (log: %s/daemon.log)\n' "$BERTH" "$STATE"
  setsid "$BERTH" daemon >"$STATE/daemon.log" 2>&1 < /dev/null &
  echo $! > "$STATE/daemon.pid"
  for _ in $(seq 100); do "$BERTH" version >/dev/null 2>&1 && break; sleep 0.1; done
  "$BERTH" version >/dev/null 2>&1 || { tail -20 "$STATE/daemon.log"; fail "the daemon did not start"; }
fi

say "a Debian base image from Debian's own packages"
run "$BERTH" image bootstrap debian:bookworm

say "build the app (Flask + Redis client) and Redis images"
run "$BERTH" build -t getstarted/friendlyhello examples/getstarted
run "$BERTH" build -t getstarted/redis examples/getstarted/redis

say "run Redis and the app on a user network, publish port $PORT"
"$BERTH" rm -f getstarted-web getstarted-redis >/dev/null 2>&1 || true
"$BERTH" network inspect getstarted >/dev/null 2>&1 || run "$BERTH" network create getstarted
run "$BERTH" run -d --name getstarted-redis --network getstarted --network-alias redis getstarted/redis redis-server --appendonly yes
run "$BERTH" run -d --name getstarted-web --network getstarted -p "$PORT:80" getstarted/friendlyhello

say "three requests to localhost:$PORT"
pages=()
for i in 1 2 3; do
  page=""
  for _ in $(seq 50); do
    page=$(curl -fsS "http://localhost:$PORT/" 2>/dev/null) && break
    sleep 0.2
  done
  printf '+ curl http://localhost:%s/\n%s\n' "$PORT" "$page"
  pages+=("$page")
done
if [ "$ASSERT" = 1 ]; then
  for i in 1 2 3; do
    echo "${pages[$((i-1))]}" | grep -q "<b>Visits:</b> $i" || fail "request $i did not show visit $i"
  done
  echo "${pages[0]}" | grep -Eq '<b>Hostname:</b> [0-9a-f]{12}<br/>' || fail "no 12-hex hostname on the page"
  echo "ok: visits 1, 2, 3 and a 12-hex hostname"
fi

say "share: push to a registry of your own, remove, run it from the registry"
if ! "$BERTH" registry --help >/dev/null 2>&1; then
  echo "this berth has no registry yet: skipping the share chapter"
else
  if ! curl -fsS "http://$REG/v2/" >/dev/null 2>&1; then
    printf '+ %s registry serve --addr %s --root %s/registry &\n' "$BERTH" "$REG" "$STATE"
    setsid "$BERTH" registry serve --addr "$REG" --root "$STATE/registry" >"$STATE/registry.log" 2>&1 < /dev/null &
    echo $! > "$STATE/registry.pid"
    for _ in $(seq 100); do curl -fsS "http://$REG/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  run "$BERTH" tag getstarted/friendlyhello "$REG/getstarted/friendlyhello:v1"
  run "$BERTH" push "$REG/getstarted/friendlyhello:v1"
  run "$BERTH" rm -f getstarted-web
  run "$BERTH" rmi "$REG/getstarted/friendlyhello:v1" getstarted/friendlyhello
  run "$BERTH" run -d --name getstarted-web --network getstarted -p "$PORT:80" "$REG/getstarted/friendlyhello:v1"
  page=""
  for _ in $(seq 50); do
    page=$(curl -fsS "http://localhost:$PORT/" 2>/dev/null) && break
    sleep 0.2
  done
  printf '+ curl http://localhost:%s/\n%s\n' "$PORT" "$page"
  if [ "$ASSERT" = 1 ]; then
    echo "$page" | grep -q "<b>Visits:</b> 4" || fail "the app run from the registry did not show visit 4"
    echo "ok: the image came back from the registry and Redis kept counting"
  fi
fi

say "done"
cat <<EOT
The app is at http://localhost:$PORT/  (berth ps, berth logs getstarted-web)
Try the docker CLI on it too:  DOCKER_HOST=$DOCKER_HOST docker ps
Clean up with:  make demo-clean
EOT
