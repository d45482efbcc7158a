#!/usr/bin/env bash
# make demo: Docker's Get Started app on berth, from a fresh machine.
#   1. build berth, start its daemon (unless one already answers)
#   2. make a Debian base image from Debian's mirror (cached after the first time)
#   3. build the app and Redis images, run them on a user network, -p 4000:80
#   4. three requests: the visit count rises, the page names the container
#   5. "share": push the app to a local berth registry, remove it, run it from there
#   6. machines: two local nodes (berth machine), the images loaded onto them
#   7. swarm: init on myvm1, join from myvm2
#   8. stack: the guide's docker-compose.yml (web x5, visualizer, redis) on both,
#      requests to both machines, scale 5 -> 3 by redeploying, the visualizer,
#      and Redis's count kept across stack rm + deploy
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
fail() {
  echo "demo: $*" >&2
  # In a test run, what the daemons said is the first thing to read.
  if [ "$ASSERT" = 1 ]; then
    if [ -n "${BERTH_MACHINE_STORAGE_PATH:-}" ] && [ -d "$STATE/machines/myvm1" ]; then
      "$BERTH" machine ssh myvm1 "docker node ls; docker stack ps --no-trunc getstartedlab" >&2 2>&1 || true
    fi
    for log in "$STATE"/machines/*/daemon.log; do
      [ -f "$log" ] || continue
      echo "--- the last lines of $log" >&2
      tail -40 "$log" >&2
    done
  fi
  exit 1
}

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

if [ "${DEMO_SWARM:-1}" = 1 ]; then
  export BERTH_MACHINE_STORAGE_PATH="$STATE/machines"
  M="$BERTH machine"
  node() { "$BERTH" -H "unix://$STATE/machines/$1/run/berth.sock" "${@:2}"; }
  onvm() { printf '+ berth machine ssh %s "%s"\n' "$1" "$2"; $M ssh "$1" "$2"; }
  waitfor() { # waitfor WHAT CMD...: poll up to a minute
    local what=$1; shift
    for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    fail "timed out waiting for $what"
  }

  say "machines: two local nodes, as docker-machine create --driver virtualbox (no VM: namespaces)"
  for m in myvm1 myvm2; do
    $M status "$m" >/dev/null 2>&1 || run $M create "$m"
  done
  run $M ls
  IP1=$($M ip myvm1) IP2=$($M ip myvm2)

  say "the images onto both machines (save | load; a registry works too)"
  # The share chapter left the app under its registry name.
  "$BERTH" image inspect getstarted/friendlyhello >/dev/null 2>&1 || run "$BERTH" tag "$REG/getstarted/friendlyhello:v1" getstarted/friendlyhello
  for m in myvm1 myvm2; do
    printf '+ berth save getstarted/friendlyhello getstarted/redis | berth -H unix://…/%s/run/berth.sock load\n' "$m"
    "$BERTH" save getstarted/friendlyhello getstarted/redis | node "$m" load
  done
  printf '+ berth -H unix://…/myvm1/run/berth.sock visualizer image -t berth/visualizer\n'
  node myvm1 visualizer image -t berth/visualizer

  say "swarm: myvm1 is the manager, myvm2 joins as a worker"
  if [ "$($M ssh myvm1 "docker info --format '{{.Swarm.LocalNodeState}}'")" != active ]; then
    onvm myvm1 "docker swarm init --advertise-addr $IP1"
    TOKEN=$($M ssh myvm1 "docker swarm join-token -q worker")
    out=$(onvm myvm2 "docker swarm join --token $TOKEN $IP1:2377")
    echo "$out"
    if [ "$ASSERT" = 1 ]; then echo "$out" | grep -q "This node joined a swarm as a worker." || fail "myvm2 did not join"; fi
  fi
  onvm myvm1 "docker node ls"

  say "stack: the guide's docker-compose.yml on the swarm"
  onvm myvm1 "mkdir -p ./data"
  run $M scp examples/getstarted/docker-compose.yml myvm1:~
  onvm myvm1 "docker stack deploy -c docker-compose.yml getstartedlab"
  converged() { # converged N: web N/N, visualizer and redis 1/1
    local ls
    ls=$($M ssh myvm1 "docker service ls --format '{{.Name}} {{.Replicas}}'") || return 1
    echo "$ls" | grep -q "getstartedlab_web $1/$1" && echo "$ls" | grep -q "getstartedlab_redis 1/1" && echo "$ls" | grep -q "getstartedlab_visualizer 1/1"
  }
  waitfor "the stack to run" converged 5
  onvm myvm1 "docker service ls"
  onvm myvm1 "docker stack ps getstartedlab --format 'table {{.Name}}\t{{.Node}}\t{{.CurrentState}}'"
  if [ "$ASSERT" = 1 ]; then
    nodes=$($M ssh myvm1 "docker stack ps getstartedlab --filter desired-state=running --format '{{.Node}}'" | sort -u | tr '\n' ' ')
    [ "$nodes" = "myvm1 myvm2 " ] || fail "the stack's tasks are not on both machines: $nodes"
  fi

  say "requests to both machines' port 80: the routing mesh, the hostname changes, the count rises"
  visits() { echo "$1" | sed -n 's/.*<b>Visits:<\/b> \([0-9]*\).*/\1/p'; }
  host_of() { echo "$1" | sed -n 's/.*<b>Hostname:<\/b> \([0-9a-f]*\)<br\/>.*/\1/p'; }
  last=0; hosts=""
  waitfor "the app on $IP1" curl -fsS "http://$IP1/"
  last=$(visits "$(curl -fsS --retry 10 --retry-connrefused --retry-delay 1 "http://$IP1/")")
  for ip in $IP1 $IP2 $IP1 $IP2 $IP1 $IP2; do
    page=$(curl -fs --max-time 10 --retry 10 --retry-connrefused --retry-delay 1 "http://$ip/") || fail "http://$ip/ did not answer"
    v=$(visits "$page") h=$(host_of "$page")
    printf '+ curl http://%s/   ->  hostname %s, visits %s\n' "$ip" "$h" "$v"
    if [ "$ASSERT" = 1 ] && [ "$v" -le "$last" ]; then fail "the visit count did not rise ($last, then $v)"; fi
    last=$v; hosts="$hosts $h"
  done
  if [ "$ASSERT" = 1 ]; then
    [ "$(echo "$hosts" | tr ' ' '\n' | sort -u | grep -c .)" -ge 2 ] || fail "one hostname only:$hosts"
    echo "ok: both machines answered, the hostname changed and the count rose"
  fi

  say "scale: edit replicas 5 -> 3 and deploy again"
  sed 's/replicas: 5/replicas: 3/' examples/getstarted/docker-compose.yml > "$STATE/docker-compose.yml"
  run $M scp "$STATE/docker-compose.yml" myvm1:~/docker-compose.yml
  onvm myvm1 "docker stack deploy -c docker-compose.yml getstartedlab"
  waitfor "web to scale to 3" converged 3
  onvm myvm1 "docker service ls"

  say "the visualizer: http://$IP1:8080/"
  waitfor "the visualizer" curl -fsS "http://$IP1:8080/api/model"
  model=$(curl -fsS "http://$IP1:8080/api/model")
  if [ "$ASSERT" = 1 ]; then
    echo "$model" | grep -q myvm1 && echo "$model" | grep -q myvm2 || fail "the visualizer does not show both machines"
    echo "ok: the visualizer shows myvm1 and myvm2"
  fi
  echo "open http://$IP1:8080/ in a browser on this host"

  say "stack rm, deploy again: Redis kept the count in /home/docker/data"
  onvm myvm1 "docker stack rm getstartedlab"
  waitfor "the stack to go" sh -c "[ -z \"\$($M ssh myvm1 'docker ps -q')\" ] && [ -z \"\$($M ssh myvm2 'docker ps -q')\" ]"
  onvm myvm1 "docker stack deploy -c docker-compose.yml getstartedlab"
  waitfor "the stack to run again" converged 3
  # A replica that has just started may not listen yet (no healthcheck
  # gates it, as in Docker without one): retry a refused connection.
  # Redis itself may still be loading its append-only file: the app then
  # answers "cannot connect to Redis" (as it does on Docker); ask again.
  v=""
  for _ in $(seq 30); do
    page=$(curl -fs --max-time 10 --retry 30 --retry-connrefused --retry-delay 1 "http://$IP2/") || fail "http://$IP2/ did not answer after the redeploy"
    v=$(visits "$page")
    [ -n "$v" ] && break
    sleep 1
  done
  [ -n "$v" ] || fail "the app never reached Redis after the redeploy: $page"
  printf '+ curl http://%s/   ->  visits %s\n' "$IP2" "$v"
  if [ "$ASSERT" = 1 ]; then
    [ "$v" -gt "$last" ] || fail "the count restarted after stack rm + deploy ($last, then $v)"
    echo "ok: the count went on from $last"
  fi
fi

say "done"
cat <<EOT
The app is at http://localhost:$PORT/  (berth ps, berth logs getstarted-web)
Try the docker CLI on it too:  DOCKER_HOST=$DOCKER_HOST docker ps
EOT
if [ "${DEMO_SWARM:-1}" = 1 ]; then
cat <<EOT
The swarm: http://$IP1/ and http://$IP2/ (the stack), http://$IP1:8080/ (the visualizer)
  BERTH_MACHINE_STORAGE_PATH=$BERTH_MACHINE_STORAGE_PATH berth machine ssh myvm1 "docker stack ps getstartedlab"
  eval \$(BERTH_MACHINE_STORAGE_PATH=$BERTH_MACHINE_STORAGE_PATH berth machine env myvm1); docker service ls
EOT
fi
echo "Clean up with:  make demo-clean"
