"""The groups that may launch backtests may launch optimisations (viewer reads them), and beat watches running
studies every minute (a study whose workers died is picked up again even when nothing else runs).

Idempotent, like core's groups migration; the lists are written out here so this does the same whatever the code
becomes later.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = [("optimise", "view_optimisationrun")]
LAUNCH = [("optimise", "add_optimisationrun")]
GROUPS = {"viewer": VIEW, "trader": VIEW + LAUNCH, "strategist": VIEW + LAUNCH}
TASK_NAME = "optimisation watch"


def grant(apps, schema_editor):
    app_config = apps.get_app_config("optimise")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in wanted:
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = CrontabSchedule.objects.get_or_create(
        minute="*", hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC")
    PeriodicTask.objects.get_or_create(name=TASK_NAME, defaults={
        "task": "trades.optimise.tasks.watch_running", "crontab": every_minute, "enabled": True,
        "description": "Queues again the trials of running optimisations whose worker stopped.",
        "expire_seconds": 55})


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("optimise", "0001_initial"),
        ("tradebot", "0002_permission_groups"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    # Reversing keeps the groups' permissions (taking them away silently would surprise people).
    operations = [migrations.RunPython(grant, migrations.RunPython.noop),
                  migrations.RunPython(schedule, unschedule)]
