"""Suite-wide fixtures. The suite runs on SQLite and the embedded broker by default, and on
PostgreSQL and Redis when DATABASE_URL / REDIS_URL point at them (CI does both)."""

import os
import shutil

import pytest
from django.db import connection
from django.utils import translation

from bigstock import hotcache
from bigstock.celery import QUEUES
from bigstock.celery import app as celery_app
from partners import throttling

CHROMIUM = os.environ.get("BIGSTOCK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(config, items):
    no_chromium = not shutil.which(CHROMIUM)
    for item in items:
        if no_chromium and "browser" in item.keywords:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium` to run browser tests"
                )
            )


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"  # generated PDFs and uploads never pile up
    # Templates resolve static files without a prior collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_hot_caches():
    """Each test starts without the per-process caches of API keys, standing and plan terms, and
    without rate-limit leases (their counters are keyed by database ids, which tests reuse)."""
    hotcache.clear_all()
    throttling.reset_leases()
    yield
    hotcache.clear_all()
    throttling.reset_leases()


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """Messages raised by services in tests read in English; requests still negotiate their language."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    """Tasks run inline unless a test asks for a real worker (``celery_worker``)."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def celery_worker():
    """A real Celery worker, in a thread, consuming every queue of the configured broker."""
    from celery.contrib.testing.worker import start_worker

    celery_app.conf.task_always_eager = False
    try:
        with start_worker(
            celery_app, queues=list(QUEUES), perform_ping_check=False, pool="solo", shutdown_timeout=10
        ) as worker:
            yield worker
    finally:
        celery_app.conf.task_always_eager = True


@pytest.fixture
def requires_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks: set DATABASE_URL to a PostgreSQL database")


# --- Browser tests (pytest-playwright driving Debian's Chromium) -------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}
