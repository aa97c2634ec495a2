"""A fresh database has the hourly daily-summary check in beat's schedule right after ``migrate``."""

import os
import subprocess
import sys

import psycopg
import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow


def test_migrate_on_an_empty_database_schedules_the_daily_summary_every_hour(fresh_database_url, tmp_path):
    env = dict(os.environ, DATABASE_URL=fresh_database_url, TRADEBOT_DATA_DIR=str(tmp_path))
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "--skip-checks"], cwd=REPO, env=env,
                   check=True, capture_output=True, timeout=120)
    with psycopg.connect(fresh_database_url.replace("postgres://", "postgresql://")) as connection:
        rows = connection.execute(
            "SELECT t.task, t.enabled, c.minute, c.hour, c.timezone FROM django_celery_beat_periodictask t "
            "JOIN django_celery_beat_crontabschedule c ON c.id = t.crontab_id WHERE t.name = 'daily summary'"
        ).fetchall()
    assert rows == [("notifications.tasks.send_daily_summary", True, "0", "*", "UTC")]
