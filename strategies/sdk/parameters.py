"""Declared parameters: a strategy's tunable numbers and choices, each with a range and a default.

Declared as class attributes of a strategy (the names freqtrade users know)::

    class Breakout(IStrategy):
        channel = IntParameter(10, 100, default=20, help="Donchian channel length in candles.")
        atr_stop = DecimalParameter(0.5, 5, default=2, decimals=1, help="Stop distance in ATRs.")
        side = CategoricalParameter(["both", "long", "short"], default="both")
        use_volume = BooleanParameter(default=True)

and read in the hooks as ``self.channel.value``. The admin, the API, the dashboard form, the backtest and grid
commands and the optimiser all read ranges and defaults from here (``describe``), and every stored value goes
through ``clean``: a value out of range is refused with the parameter's name and range, never clamped.
"""

from __future__ import annotations

import copy
from decimal import Decimal, InvalidOperation
from typing import Any


class ParameterError(ValueError):
    """A parameter value (or declaration) that cannot be used; the message names the parameter."""


class Parameter:
    kind = "parameter"

    def __init__(self, *, default: Any, help: str = "", optimize: bool = True):
        self.default, self.help = default, help
        self.optimize = optimize  # the optimiser searches it (False: fixed at its value)
        self.name = ""  # set by the strategy class (__set_name__)
        self.value = default  # the bound value, on a strategy instance's copy

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name}={self.value!r})"

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def clean(self, raw: Any) -> Any:  # pragma: no cover - every kind overrides it
        raise NotImplementedError

    def check_declaration(self) -> None:
        """Raise ParameterError when the declaration itself is unusable (a default outside its own range ...)."""
        try:
            self.clean(self.default)
        except ParameterError as error:
            raise ParameterError(f"{self.name}: the default does not fit the declaration: {error}") from None

    def bound(self, raw: Any) -> Parameter:
        """A copy holding ``raw`` (cleaned) as its value: what a strategy instance reads as ``self.<name>``."""
        bound = copy.copy(self)
        bound.value = self.clean(raw)
        return bound

    def describe(self) -> dict:
        return {"name": self.name, "kind": self.kind, "default": self.default, "help": self.help,
                "optimize": self.optimize}

    def _fail(self, message: str) -> ParameterError:
        return ParameterError(f"{self.name} {message}")


class IntParameter(Parameter):
    kind = "int"

    def __init__(self, low: int, high: int, *, default: int, help: str = "", optimize: bool = True):
        super().__init__(default=default, help=help, optimize=optimize)
        self.low, self.high = low, high

    def clean(self, raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, (int, float, Decimal)) or int(raw) != raw:
            raise self._fail(f"must be a whole number from {self.low} to {self.high}, got {raw!r}.")
        if not self.low <= raw <= self.high:
            raise self._fail(f"must be from {self.low} to {self.high}, got {raw}.")
        return int(raw)

    def describe(self) -> dict:
        return {**super().describe(), "low": self.low, "high": self.high}


class DecimalParameter(Parameter):
    kind = "decimal"

    def __init__(self, low: float, high: float, *, default: float, decimals: int = 3, help: str = "",
                 optimize: bool = True):
        super().__init__(default=default, help=help, optimize=optimize)
        self.low, self.high, self.decimals = low, high, decimals

    def clean(self, raw: Any) -> float:
        if isinstance(raw, bool):
            raise self._fail(f"must be a number from {self.low:g} to {self.high:g}, got {raw!r}.")
        try:
            number = Decimal(str(raw))
        except (InvalidOperation, ValueError):
            raise self._fail(f"must be a number from {self.low:g} to {self.high:g}, got {raw!r}.") from None
        if not number.is_finite() or not Decimal(str(self.low)) <= number <= Decimal(str(self.high)):
            raise self._fail(f"must be from {self.low:g} to {self.high:g}, got {raw}.")
        if number != round(number, self.decimals):
            raise self._fail(f"takes at most {self.decimals} decimals, got {raw}.")
        return float(number)

    def describe(self) -> dict:
        return {**super().describe(), "low": self.low, "high": self.high, "decimals": self.decimals}


class CategoricalParameter(Parameter):
    kind = "categorical"

    def __init__(self, choices, *, default: Any, help: str = "", optimize: bool = True):
        super().__init__(default=default, help=help, optimize=optimize)
        self.choices = tuple(choices)

    def clean(self, raw: Any) -> Any:
        if raw not in self.choices or isinstance(raw, bool) != any(isinstance(c, bool) for c in self.choices):
            raise self._fail(f"must be one of {', '.join(map(repr, self.choices))}, got {raw!r}.")
        return raw

    def describe(self) -> dict:
        return {**super().describe(), "choices": list(self.choices)}


class BooleanParameter(Parameter):
    kind = "boolean"

    def __init__(self, *, default: bool, help: str = "", optimize: bool = True):
        super().__init__(default=default, help=help, optimize=optimize)

    def clean(self, raw: Any) -> bool:
        if not isinstance(raw, bool):
            raise self._fail(f"must be true or false, got {raw!r}.")
        return raw


def declared(cls) -> dict[str, Parameter]:
    """The parameters ``cls`` declares (its own and inherited), by name, in declaration order."""
    found: dict[str, Parameter] = {}
    for klass in reversed(cls.__mro__):
        for name, attribute in vars(klass).items():
            if isinstance(attribute, Parameter):
                found[name] = attribute
    return found


def clean_values(cls, values: dict | None) -> dict:
    """Every declared parameter's value: ``values`` checked, the defaults filled in. Raises ParameterError listing
    every problem (unknown names included) at once."""
    values = values or {}
    if not isinstance(values, dict):
        raise ParameterError('Parameters must be a JSON object such as {"rsi_period": 14}.')
    parameters = declared(cls)
    problems = []
    unknown = sorted(set(values) - set(parameters))
    if unknown:
        known = ", ".join(parameters) or "none"
        problems.append(f"Unknown parameter {', '.join(map(repr, unknown))}; {cls.__name__} declares: {known}.")
    cleaned = {}
    for name, parameter in parameters.items():
        try:
            cleaned[name] = parameter.clean(values.get(name, parameter.default))
        except ParameterError as error:
            problems.append(str(error))
    if problems:
        raise ParameterError(" ".join(problems))
    return cleaned
