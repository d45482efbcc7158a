"""The getting-started visit counter, written for berth.

A small Flask app: every request increments a counter kept in Redis (the
host named "redis" on the container's network) and answers with a greeting,
the visit count and the container's hostname -- its short ID, so the page
shows which replica answered.
"""
import os
import socket

from flask import Flask
from redis import Redis, RedisError

redis = Redis(host=os.environ.get("REDIS_HOST", "redis"), port=6379,
              socket_connect_timeout=2, socket_timeout=2)
app = Flask(__name__)


@app.route("/")
def hello():
    try:
        visits = redis.incr("counter")
    except RedisError:
        visits = "<i>cannot connect to Redis, counter disabled</i>"
    html = ("<h3>Hello {name}!</h3>"
            "<b>Hostname:</b> {hostname}<br/>"
            "<b>Visits:</b> {visits}\n")
    return html.format(name=os.getenv("NAME", "world"),
                       hostname=socket.gethostname(), visits=visits)


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=80)
