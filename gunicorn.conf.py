"""gunicorn's settings for BigStock's web process (the image's command, the compose file and the benches use
this file; gunicorn also reads it by itself when started from this folder).

Threaded workers keep HTTP connections open between requests (keep-alive): a partner's system that
reads the stock feed page after page, or sends orders one after another, pays the TCP (and, behind
the TLS proxy, the TLS) handshake once instead of on every call. gunicorn's default sync workers
close the connection after each response. Each thread holds its own database connection
(``CONN_MAX_AGE``); the per-process caches (``bigstock.hotcache``, the rate-limit leases) are
thread-safe.

Every value can be changed without editing this file: ``WEB_CONCURRENCY`` (worker processes),
``GUNICORN_THREADS``, ``GUNICORN_KEEPALIVE`` (seconds), or ``GUNICORN_CMD_ARGS``.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "30"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # empty: no access log
