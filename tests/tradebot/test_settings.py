"""Settings come from the environment and a bad value stops start-up with one clear line."""

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.helpers import REPO
from tradebot.config import Env, SettingsError, parse_database_url, parse_email_url, redact_url


def run_manage(*args, **env_overrides):
    env = dict(os.environ, **env_overrides)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DATABASE_URL", "postgres//no-scheme-separator", "DATABASE_URL: unsupported scheme"),
        ("DATABASE_URL", "postgres://user@/missing-host", "DATABASE_URL: expected postgres://"),
        ("DATABASE_URL", "mysql://root@localhost/db", "DATABASE_URL: unsupported scheme 'mysql'"),
        ("EXCHANGE_MODE", "live", "EXCHANGE_MODE: live trading needs BYBIT_API_KEY and BYBIT_API_SECRET"),
        ("DEBUG", "maybe", "DEBUG: expected true or false, got 'maybe'"),
        ("CYCLE_KLINE_LIMIT", "5000", "CYCLE_KLINE_LIMIT: must be at most 1000, got 5000"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL: expected a redis/rediss URL"),
    ],
)
def test_it_stops_start_up_with_one_line_for_a_bad_setting(name, value, expected):
    result = run_manage("check", **{name: value})
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"Configuration error: {expected}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_it_never_prints_the_database_password_in_an_error():
    result = run_manage("check", DATABASE_URL="postgres://bob:hunter2-secret@db.example:notaport/tradebot")
    assert result.returncode == 2
    assert "DATABASE_URL: the port is not a number" in result.stderr
    assert "hunter2-secret" not in result.stderr


def test_it_reads_typed_values():
    env = Env({"A": " 42 ", "B": "yes", "C": "0.5", "D": "a, b,,c", "E": ""})
    assert env.int("A", 1) == 42
    assert env.bool("B", False) is True
    assert env.decimal("C", "1") == Decimal("0.5")
    assert env.list("D", []) == ["a", "b", "c"]
    assert env.str("E", "fallback") == "fallback"
    with pytest.raises(SettingsError, match="A: must be at most 10, got 42"):
        env.int("A", 1, max_value=10)
    with pytest.raises(SettingsError, match="C: expected a number"):
        Env({"C": "abc"}).decimal("C", "1")


def test_it_parses_database_urls(tmp_path):
    sqlite = parse_database_url("sqlite:///var/x.sqlite3", tmp_path)
    assert sqlite["NAME"] == str(tmp_path / "var/x.sqlite3")
    assert sqlite["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert parse_database_url("sqlite:////abs/x.db", tmp_path)["NAME"] == "/abs/x.db"
    assert parse_database_url("sqlite:///:memory:", tmp_path)["NAME"] == ":memory:"  # not a file named so
    postgres = parse_database_url("postgres://u:p%40ss@db:6543/trading?sslmode=require", Path("."))
    assert (postgres["HOST"], postgres["PORT"], postgres["NAME"], postgres["PASSWORD"]) == ("db", 6543, "trading",
                                                                                            "p@ss")
    assert postgres["OPTIONS"] == {"sslmode": "require"}
    with pytest.raises(SettingsError, match="has no host"):
        parse_database_url("sqlite://host/x.db", tmp_path)


def test_it_parses_email_urls_and_redacts_passwords():
    smtp = parse_email_url("smtp+tls://mailer:s3cret@smtp.example.com:2525")
    assert (smtp["EMAIL_HOST"], smtp["EMAIL_PORT"], smtp["EMAIL_USE_TLS"]) == ("smtp.example.com", 2525, True)
    assert parse_email_url("locmem://")["EMAIL_BACKEND"].endswith("locmem.EmailBackend")
    with pytest.raises(SettingsError) as error:
        parse_email_url("smtp://mailer:s3cret@")
    assert "s3cret" not in str(error.value)
    assert redact_url("postgres://u:pw@h/db") == "postgres://u:***@h/db"
