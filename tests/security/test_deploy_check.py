"""``manage.py check --deploy`` is clean with the production environment of docs/security.md, and without it
DEBUG is still off: the only warnings left are the HTTPS ones that SECURE_COOKIES=true turns on."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow

# docs/security.md, "Production environment" (with a real key of your own, and your host).
PRODUCTION = {
    "DEBUG": "false",
    "SECURE_COOKIES": "true",
    "SECRET_KEY": "kq3Vd0nX8r2LwZbT6pYcJ4uE1sHfMaG9oRiN7tBvQxWzCyDlUe5gKjP-_hS0mAq",
    "ALLOWED_HOSTS": "bot.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://bot.example.com",
}
DEV_ONLY_VARIABLES = ("DEBUG", "SECURE_COOKIES", "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS")


def check_deploy(tmp_path, **env) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items() if key not in DEV_ONLY_VARIABLES}
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=REPO,
                          env={**base, "TRADEBOT_DATA_DIR": str(tmp_path), **env}, capture_output=True, text=True,
                          timeout=120)


def test_the_production_settings_pass_check_deploy_without_a_warning(tmp_path):
    result = check_deploy(tmp_path, **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_out_of_the_box_debug_is_off_and_only_https_is_left_to_switch_on(tmp_path):
    result = check_deploy(tmp_path)  # nothing set: a generated SECRET_KEY, DEBUG off, plain HTTP
    warnings = set(re.findall(r"\(security\.(W\d+)\)", result.stderr + result.stdout))
    assert result.returncode == 1
    assert warnings == {"W004", "W008", "W012", "W016"}  # HSTS, SSL redirect, Secure session and CSRF cookies
    assert "W018" not in warnings  # DEBUG
    assert "W009" not in warnings  # the generated key is long and random


def test_a_bad_order_rate_limit_stops_start_up_with_one_line(tmp_path):
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, "TRADEBOT_DATA_DIR": str(tmp_path), "ORDER_RATE_LIMIT": "lots"},
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == ("Configuration error: ORDER_RATE_LIMIT: expected requests per period like "
                                     "30/min, got 'lots'")
