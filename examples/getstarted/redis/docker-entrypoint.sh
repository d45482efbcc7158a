#!/bin/sh
# As the official redis image's entrypoint: a bare `redis-server ...`
# command runs without protected mode (the container's network is the
# boundary) and keeps its data in /data.
set -e
if [ "${1#-}" != "$1" ]; then
	set -- redis-server "$@"
fi
if [ "$1" = "redis-server" ]; then
	shift
	set -- redis-server --protected-mode no --dir /data "$@"
fi
exec "$@"
