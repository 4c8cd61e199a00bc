"""Docker does not run on development machines: check what can be checked statically."""

import importlib
from pathlib import Path

import yaml
from gunicorn.workers.sync import SyncWorker

from bigstock.celery import QUEUES

ROOT = Path(__file__).resolve().parents[2]


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_every_queue_is_consumed_by_a_compose_worker():
    consumed = set()
    for service in compose().values():
        command = service.get("command") or []
        if "worker" in command:
            consumed.update(command[command.index("--queues") + 1].split(","))
    assert consumed == set(QUEUES)


def test_compose_runs_one_beat_and_health_checks_every_long_running_service():
    services = compose()
    assert sum("beat" in (s.get("command") or []) for s in services.values()) == 1
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    for name in ["postgres", "redis", "web", "worker-orders", "worker-billing", "worker-default"]:
        assert "healthcheck" in services[name], name
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])


def test_dockerfile_installs_from_the_pinned_lock_file():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "-c requirements.lock" in dockerfile
    assert "collectstatic" in dockerfile


def test_the_image_serves_with_bigstocks_gunicorn_settings_and_their_worker_exists():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert '"gunicorn", "-c", "gunicorn.conf.py"' in dockerfile
    settings = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), settings)  # noqa: S102 (our own settings file)
    module, _, name = settings["worker_class"].rpartition(".")
    assert issubclass(getattr(importlib.import_module(module), name), SyncWorker)
