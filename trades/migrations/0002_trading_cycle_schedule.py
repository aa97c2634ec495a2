"""A fresh database gets the every-minute trading cycle in django-celery-beat's schedule.

A crontab (not an interval) so the cycle fires just after each minute closes, when the newest
closed candle is seconds old, instead of at whatever phase the first start happened to have.
"""

from django.db import migrations

TASK_NAME = "trading cycle"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = CrontabSchedule.objects.get_or_create(
        minute="*", hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "trades.tasks.run_active_strategies",
            "crontab": every_minute,
            "enabled": True,
            "description": "Runs every active strategy on each of its symbols: the nine-step trading cycle.",
            # A cycle that could not start within a minute is dropped: the next tick sees fresher candles.
            "expire_seconds": 55,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("trades", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
