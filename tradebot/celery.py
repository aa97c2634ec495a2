"""The Celery app: tasks are discovered in each Django app's ``tasks.py``.

The schedule lives in the database (django-celery-beat); the trading cycle's entry is created by a
migration in ``trades``, so a fresh database already has it.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradebot.settings")

app = Celery("tradebot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
