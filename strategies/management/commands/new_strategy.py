"""``manage.py new_strategy NAME``: a working, documented strategy class file to start from (an EMA cross with an
RSI filter), written into the first ``STRATEGY_DIRS`` folder as ``snake_case_of_name.py``. Never overwrites."""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template

from django.conf import settings
from django.core.management import BaseCommand, CommandError

from strategies import catalogue

TEMPLATE = Path(__file__).resolve().parents[2] / "strategy_template.py.txt"
CLASS_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def file_name(class_name: str) -> str:
    """``EmaRsiCross`` -> ``ema_rsi_cross.py``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", class_name).lower() + ".py"


def name_problem(name: str) -> str | None:
    if not CLASS_NAME.match(name) or keyword.iskeyword(name):
        return (f"{name!r} is not a class name: start with a capital letter, then letters and digits only "
                f"(e.g. EmaRsiCross)")
    if name in catalogue.refresh().keys():  # a file saved a moment ago counts
        return f"a strategy class named {name!r} is already loaded; choose another name"
    return None


class Command(BaseCommand):
    help = "Write a documented strategy template (EMA cross with an RSI filter) into the first STRATEGY_DIRS folder."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("name", help="The class name, e.g. EmaRsiCross (also the strategy type's key).")

    def handle(self, *args, **options):
        name = options["name"]
        problem = name_problem(name)
        if problem:
            raise CommandError(problem)
        if not settings.STRATEGY_DIRS:
            raise CommandError("STRATEGY_DIRS names no folder to write the strategy into")
        folder = Path(settings.STRATEGY_DIRS[0])
        path = folder / file_name(name)
        if path.exists():
            raise CommandError(f"{path} already exists: not overwritten (choose another name or edit that file)")
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(TEMPLATE.read_text()).substitute(class_name=name))
        self.stdout.write(f"Wrote {path}.\nNext: manage.py check_strategy {name}, then a backtest "
                          f'(--config with {{"type": "{name}", "timeframe": "15"}}).')
