"""A fresh database gets the hourly daily-summary check in django-celery-beat's schedule.

Hourly rather than once at DAILY_SUMMARY_HOUR: the hour and the time zone are settings that can
change without a migration, so the task itself decides when the day's summary is due.
"""

from django.db import migrations

TASK_NAME = "daily summary"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_hour, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "notifications.tasks.send_daily_summary",
            "crontab": every_hour,
            "enabled": True,
            "description": "Sends the daily summary (PnL, trades, win rate, open positions, AI cost) once a day "
                           "at DAILY_SUMMARY_HOUR in BOT_TIMEZONE.",
            # A check that could not start within the hour is dropped: the next one does the same work.
            "expire_seconds": 3000,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
