#!/usr/bin/env bash
# Start a throw-away berth daemon, import a busybox image made from the
# host's busybox-static, run a container with the berth CLI and with the
# docker CLI, then clean everything up.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "try: run as root (containers need namespaces and cgroups)" >&2; exit 1; fi
if [ ! -x /bin/busybox ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static
fi
dir=$(mktemp -d /tmp/berth-try-XXXXXX)
sock=$dir/berth.sock
export BERTH_HOST=unix://$sock DOCKER_HOST=unix://$sock
bin/berth daemon --host "$BERTH_HOST" --data-root "$dir/data" --exec-root "$dir/exec" --cgroup-parent berth-try --bridge berthtry0 >"$dir/daemon.log" 2>&1 &
daemon=$!
cleanup() {
  ids=$(bin/berth ps -aq 2>/dev/null || true)
  [ -n "$ids" ] && bin/berth rm -f $ids >/dev/null 2>&1 || true
  kill "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done

echo "+ building a busybox rootfs and importing it"
root=$dir/rootfs
mkdir -p "$root/bin" "$root/etc" "$root/tmp"
cp /bin/busybox "$root/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"
tar -C "$root" -c . | bin/berth import - busybox >/dev/null
echo "+ berth images"
bin/berth images
echo "+ berth run --rm busybox echo hello from berth"
bin/berth run --rm busybox echo hello from berth
if command -v docker >/dev/null; then
  echo "+ docker run --rm busybox sh -c 'echo hostname: \$(hostname)'   (the real docker CLI, DOCKER_HOST=$DOCKER_HOST)"
  docker run --rm busybox sh -c 'echo hostname: $(hostname)'
fi
echo "done: everything is cleaned up on exit"
