"""``manage.py list_strategies``: the strategy classes loaded (key, origin, timeframe, parameters with their
ranges, the look-ahead check's verdict when known) and the files that could not be loaded, with why."""

from __future__ import annotations

from django.core.management import BaseCommand

from core.tables import print_table
from strategies import catalogue
from strategies.checks import latest_verdicts
from strategies.sdk.parameters import BooleanParameter, CategoricalParameter, DecimalParameter, IntParameter


def parameter_text(name: str, parameter) -> str:
    """``fast=9 (3..50)``, ``mode=fast (fast|slow)``, ``shorts=True (yes/no)``."""
    if isinstance(parameter, (IntParameter, DecimalParameter)):
        allowed = f"{parameter.low:g}..{parameter.high:g}"
    elif isinstance(parameter, CategoricalParameter):
        allowed = "|".join(map(str, parameter.choices))
    elif isinstance(parameter, BooleanParameter):
        allowed = "yes/no"
    else:
        allowed = "?"
    return f"{name}={parameter.default} ({allowed})"


class Command(BaseCommand):
    help = "List the strategy classes (built-ins and STRATEGY_DIRS files) and the files that could not be loaded."
    requires_system_checks = []

    def handle(self, *args, **options):
        found = catalogue.refresh()
        verdicts = latest_verdicts()
        rows = []
        for key in found.keys():
            cls = found.classes[key]
            parameters = ", ".join(parameter_text(name, parameter)
                                   for name, parameter in cls.declared_parameters().items()) or "-"
            rows.append((key, found.origins[key], cls.interval(), parameters, _status(verdicts.get(key))))
        print_table(self.stdout, ("key", "origin", "timeframe", "parameters", "check"), rows)
        self.stdout.write("")
        if found.problems:
            self.stdout.write(f"{len(found.problems)} file(s) not loaded:")
            print_table(self.stdout, ("file", "problem"), [(problem.path, problem.message)
                                                          for problem in found.problems])
        else:
            self.stdout.write("Every strategy file loaded.")


def _status(verdict) -> str:
    if verdict is None:
        return "not checked"
    parameters = f" with {verdict.parameters}" if verdict.parameters else ""
    return f"{'passed' if verdict.passed else 'FAILED'}{parameters} ({verdict.checked_at:%Y-%m-%d %H:%M})"
