"""gunicorn's settings for BigStock, wherever it is served by gunicorn (the Dockerfile, hence
docker-compose, and the benches): ``gunicorn -c gunicorn.conf.py bigstock.wsgi``. Workers, address
and logs are given on each command line."""

# gunicorn's sync worker, except that a connection whose request was read to its end is closed at
# once instead of waiting for the client to close first (bigstock/gunicorn_workers.py).
worker_class = "bigstock.gunicorn_workers.SyncWorker"
