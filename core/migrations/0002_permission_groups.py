"""The groups an administrator puts people in (docs/security.md, "Who may do what"): viewer, trader, strategist.

Idempotent: a group or permission that exists is kept, and permissions an administrator added to a group stay.
The lists are written out here, not imported, so that this migration does the same thing whatever the code
becomes later.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

APPS = ("strategies", "trades", "exchange", "ai", "notifications")
# Everything the bot records, readable (the admin shows these to staff with the permission; the pages and the
# API show them to every signed-in user anyway).
VIEW = [("strategies", "view_strategy"), ("trades", "view_trade"), ("trades", "view_decision"),
        ("trades", "view_cyclerun"), ("trades", "view_backtestrun"), ("exchange", "view_marketsubscription"),
        ("ai", "view_aicall"), ("notifications", "view_delivery")]
BACKTEST = [("trades", "add_backtestrun")]
GROUPS = {
    "viewer": VIEW,
    "trader": VIEW + [("trades", "trade_orders"), ("trades", "set_leverage")] + BACKTEST,
    "strategist": VIEW + [("strategies", "add_strategy"), ("strategies", "change_strategy"),
                          ("strategies", "delete_strategy")] + BACKTEST,
}


def create_groups(apps, schema_editor):
    # Django creates permissions after the whole migrate run (post_migrate); on a fresh database they do not
    # exist yet at this point, so create them now, the same way.
    for label in APPS:
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in wanted:
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("tradebot", "0001_operator_settings"),
        ("strategies", "0002_strategy_activated_by"),
        ("trades", "0005_trade_permissions"),
        ("exchange", "0001_paper_exchange"),
        ("ai", "0001_initial"),
        ("notifications", "0002_daily_summary_schedule"),
    ]

    # Reversing keeps the groups: deleting them would silently take people's permissions away.
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
