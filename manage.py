#!/usr/bin/env python
"""The operator's entry point: runbot, run_cycle, backtest, sync and Django's own commands."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradebot.settings")
    from tradebot.config import SettingsError

    try:
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - load and validate the settings before any command runs
    except SettingsError as error:
        sys.stderr.write(f"Configuration error: {error}\n")
        sys.exit(2)

    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
