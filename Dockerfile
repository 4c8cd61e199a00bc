# BigStock production image: one image for web, workers and beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    BIGSTOCK_DATA_DIR=/data STATIC_ROOT=/app/staticfiles

# curl serves the container health checks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Dependencies first (pinned by requirements.lock, without the dev extras), so code changes reuse this layer.
COPY pyproject.toml requirements.lock ./
RUN pip install -c requirements.lock .
COPY . .
RUN pybabel compile -d locale -D django \
 && DEBUG=0 SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
 && useradd --system --uid 1000 --home /app bigstock && mkdir -p /data && chown bigstock /data

USER bigstock
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "bigstock.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
