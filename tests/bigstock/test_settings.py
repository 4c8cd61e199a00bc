"""Start-up refuses a missing or wrong environment variable, naming it."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-production-secret-that-is-long-enough-and-random-0123456789abcdefgh",
    "ALLOWED_HOSTS": "partners.bigstock.example",
    "BIGSTOCK_DATA_DIR": "var/test",
}


def run_manage(*args, env):
    test_only = {"SECRET_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "SECURE_SSL_REDIRECT"}
    clean = {k: v for k, v in os.environ.items() if k not in test_only}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_secret_key_stops_start_up_naming_it(tmp_path):
    result = run_manage("check", env={"DEBUG": "0", "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "The environment variable SECRET_KEY is required" in result.stderr


def test_malformed_date_setting_stops_start_up_naming_it():
    result = run_manage("check", env={**PRODUCTION, "BIGSTOCK_TRANSITION_DATE": "next spring"})
    assert result.returncode != 0
    assert "BIGSTOCK_TRANSITION_DATE must be a date" in result.stderr


def test_malformed_database_url_stops_start_up_naming_it():
    result = run_manage("check", env={**PRODUCTION, "DATABASE_URL": "nosuchdb://x"})
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_check_deploy_with_production_values_prints_no_warning():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "WARNINGS" not in result.stderr
