"""gunicorn's settings: the one place the web server is configured.

The Dockerfile, compose, the README's commands, the tests that start a server and the
benchmark all run ``gunicorn -c config/gunicorn.py``, so what is measured is what is
deployed; a command line may still override a setting (a test's ``--bind``).

Threaded workers (``gthread``), a few processes of a few threads each: a request spends
much of its time waiting for PostgreSQL, which a thread of the same process fills, and
a threaded worker keeps a client's connection open between its requests (HTTP
keep-alive), where a ``sync`` worker closes it after each one. With ``sync`` workers
every request also opened a new connection, and all idle processes woke for it (each
waits on the shared socket; one wins): on the benchmark's two cores that cost a single
client ~0.6 ms of CPU and ~1 ms of latency per allocation (docs/performance.md, round 8).
"""

import os

wsgi_app = "config.wsgi:application"
bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
worker_class = "gthread"
# A process per core the server may use: more only queue for the same cores (on the
# benchmark's two cores, three processes cost ~10% more CPU per allocation and
# answered less evenly than two); threads wait for the database in their place.
workers = int(os.environ.get("WEB_CONCURRENCY", len(os.sched_getaffinity(0))))
threads = int(os.environ.get("WEB_THREADS", "4"))
