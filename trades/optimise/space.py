"""The search space: which settings a study varies, over which values, and which it keeps fixed.

By default every parameter the strategy's class declares with ``optimize=True`` is searched over its declared range
(an ``IntParameter(3, 50)`` from 3 to 50, a ``DecimalParameter`` in steps of its decimals, a categorical over its
choices, a boolean over both); the others keep the strategy's value. A run can name its own ranges instead
(``fast=5:50 slow=20:200:10``, ``side=long,both``; then only those are searched), search a risk setting
(``stop_loss_percentage=0.5:3:0.1``), and pin a parameter to a value (``rsi_period=9``). A range outside the
declared one is refused with that range, never clamped.

A space is stored on the run as plain JSON (``Dimension.as_dict``) and turned into Optuna distributions by every
worker (``distributions``), so all the processes of a study search the same space.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from core.errors import Invalid
from strategies.sdk.parameters import BooleanParameter, CategoricalParameter, DecimalParameter, IntParameter, Parameter
from trades.backtest.grid import declared, parse_value
from trades.backtest.inputs import RISK_FIELDS

INT, FLOAT, CHOICE = "int", "float", "choice"
RISK_STEP = 0.01  # the Strategy stores risk settings with two decimals
RISK_LIMITS = {"risk_percentage": (0.01, 100.0), "stop_loss_percentage": (0.01, 99.99),
               "take_profit_percentage": (0.01, 999.99), "leverage": (1.0, 100.0)}


@dataclass(frozen=True)
class Dimension:
    name: str
    kind: str  # int, float or choice
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None
    choices: tuple = ()
    risk: bool = False  # a risk setting (RunSettings' Decimal), not one of the class's parameters

    def as_dict(self) -> dict:
        data = asdict(self)
        data["choices"] = list(self.choices)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Dimension:
        return cls(**{**data, "choices": tuple(data.get("choices") or ())})

    def distribution(self) -> BaseDistribution:
        if self.kind == INT:
            return IntDistribution(int(self.low), int(self.high), step=int(self.step or 1))
        if self.kind == FLOAT:
            return FloatDistribution(float(self.low), float(self.high), step=self.step)
        return CategoricalDistribution(list(self.choices))

    def grid_values(self) -> list:
        if self.kind == CHOICE:
            return list(self.choices)
        count = math.floor(round((self.high - self.low) / self.step, 9)) + 1
        values = [self.low + index * self.step for index in range(count)]
        return [int(value) for value in values] if self.kind == INT else [round(value, 10) for value in values]

    def describe(self) -> str:
        if self.kind == CHOICE:
            return f"{self.name} in {{{', '.join(map(str, self.choices))}}}"
        step = "" if self.step in (None, 1) and self.kind == INT else f" step {self.step:g}"
        return f"{self.name} {self.low:g}..{self.high:g}{step}"


@dataclass(frozen=True)
class Space:
    dimensions: tuple[Dimension, ...]
    pinned: dict  # name -> value, the class's parameters kept fixed for the run (the strategy's own are not listed)

    def as_dict(self) -> dict:
        return {"dimensions": [dimension.as_dict() for dimension in self.dimensions], "pinned": dict(self.pinned)}

    @classmethod
    def from_dict(cls, data: dict) -> Space:
        return cls(tuple(Dimension.from_dict(item) for item in data["dimensions"]), dict(data.get("pinned", {})))

    def distributions(self) -> dict[str, BaseDistribution]:
        return {dimension.name: dimension.distribution() for dimension in self.dimensions}

    def grid(self) -> list[dict]:
        """Every point of the space (the grid sampler's cells), in a stable order."""
        names = [dimension.name for dimension in self.dimensions]
        return [dict(zip(names, values, strict=True))
                for values in itertools.product(*(dimension.grid_values() for dimension in self.dimensions))]

    def cell(self, number: int) -> dict:
        """Cell ``number`` of ``grid()``, without listing the others."""
        cell = {}
        for dimension in reversed(self.dimensions):
            values = dimension.grid_values()
            number, index = divmod(number, len(values))
            cell[dimension.name] = values[index]
        return {dimension.name: cell[dimension.name] for dimension in self.dimensions}

    def grid_size(self) -> int:
        return math.prod(len(dimension.grid_values()) for dimension in self.dimensions)

    def normalise(self, params: dict) -> dict:
        """A sampler's values as the settings store them: floats to their step's decimals (0.30000000000000004 is
        0.3), so the class's "at most N decimals" check accepts them."""
        steps = {dimension.name: dimension.step for dimension in self.dimensions if dimension.kind == FLOAT}
        return {name: round(value, _decimals(steps[name])) if name in steps else value
                for name, value in params.items()}

    def split(self, params: dict) -> tuple[dict, dict]:
        """A trial's values as (the class's parameters with the pins, risk settings as Decimals)."""
        risk = {dimension.name for dimension in self.dimensions if dimension.risk}
        indicators = {**self.pinned, **{name: value for name, value in params.items() if name not in risk}}
        return indicators, {name: Decimal(str(value)) for name, value in params.items() if name in risk}

    def describe(self) -> str:
        searched = "; ".join(dimension.describe() for dimension in self.dimensions)
        pins = ", ".join(f"{name}={value}" for name, value in self.pinned.items())
        return searched + (f"; fixed: {pins}" if pins else "")


def build_space(strategy_type: str, ranges: dict[str, str] | None = None, pins: dict[str, str] | None = None) -> Space:
    """The space of a run on a strategy of class ``strategy_type``. ``ranges``: name -> "low:high[:step]" or
    "a,b,c" (only these are searched); ``pins``: name -> value. Raises ``Invalid`` naming the setting at fault."""
    parameters = declared(strategy_type)
    ranges, pins = dict(ranges or {}), dict(pins or {})
    both = sorted(set(ranges) & set(pins))
    if both:
        raise Invalid(f"{', '.join(both)}: searched and pinned at once; give each setting either a range or a value.",
                      field="space")
    pinned = {name: _pin(parameters, name, text) for name, text in pins.items()}
    if ranges:
        dimensions = [_ranged(parameters, name, text) for name, text in ranges.items()]
    else:
        dimensions = [_declared_dimension(parameter) for name, parameter in parameters.items()
                      if parameter.optimize and name not in pinned]
    if not dimensions:
        raise Invalid(f"Nothing to search: {strategy_type} declares no parameter to optimise here; give ranges "
                      f"such as name=low:high (its parameters: {', '.join(parameters) or 'none'}; risk settings: "
                      f"{', '.join(RISK_FIELDS)}).", field="space")
    return Space(tuple(dimensions), pinned)


def parse_items(items: list[str], flag: str) -> dict[str, str]:
    """``["fast=5:50", "slow=20:200"]`` as {"fast": "5:50", ...}; the CLI's and the form's spelling."""
    parsed = {}
    for item in items:
        name, _, text = item.partition("=")
        if not name.strip() or not text.strip():
            raise Invalid(f"{flag} {item!r}: write name=value (for a range, name=low:high[:step]).", field="space")
        parsed[name.strip()] = text.strip()
    return parsed


def _declared_dimension(parameter: Parameter) -> Dimension:
    if isinstance(parameter, IntParameter):
        return Dimension(parameter.name, INT, parameter.low, parameter.high, 1)
    if isinstance(parameter, DecimalParameter):
        return Dimension(parameter.name, FLOAT, float(parameter.low), float(parameter.high), 10 ** -parameter.decimals)
    if isinstance(parameter, BooleanParameter):
        return Dimension(parameter.name, CHOICE, choices=(False, True))
    if isinstance(parameter, CategoricalParameter):
        return Dimension(parameter.name, CHOICE, choices=tuple(parameter.choices))
    raise Invalid(f"{parameter.name}: a {type(parameter).__name__} cannot be searched.", field="space")


def _pin(parameters: dict[str, Parameter], name: str, text: str):
    if name not in parameters:
        raise Invalid(f"--param {name}: not a parameter of this strategy; it declares {', '.join(parameters)}.",
                      field="space")
    value = _value(parameters[name], text, f"--param {name}")
    try:
        return parameters[name].clean(value)
    except ValueError as error:
        raise Invalid(str(error), field="space") from None


def _ranged(parameters: dict[str, Parameter], name: str, text: str) -> Dimension:
    where = f"--space {name}={text}"
    if name in RISK_FIELDS:
        low, high, step = _bounds(text, where, RISK_STEP)
        floor, ceiling = RISK_LIMITS[name]
        _inside(where, low, high, floor, ceiling)
        return Dimension(name, FLOAT, low, _reached(low, high, step), step, risk=True)
    parameter = parameters.get(name)
    if parameter is None:
        raise Invalid(f"{where}: {name} is not a parameter of this strategy nor a risk setting; its parameters: "
                      f"{', '.join(parameters) or 'none'}; risk settings: {', '.join(RISK_FIELDS)}.", field="space")
    if isinstance(parameter, (CategoricalParameter, BooleanParameter)) or ":" not in text:
        choices = tuple(_value(parameter, value.strip(), where) for value in text.split(",") if value.strip())
        for choice in choices:
            try:
                parameter.clean(choice)
            except ValueError as error:
                raise Invalid(f"{where}: {error}", field="space") from None
        if not choices:
            raise Invalid(f"{where}: no value given.", field="space")
        return Dimension(name, CHOICE, choices=choices)
    if isinstance(parameter, IntParameter):
        low, high, step = _bounds(text, where, 1)
        if any(value != int(value) for value in (low, high, step)):
            raise Invalid(f"{where}: {name} takes whole numbers.", field="space")
        _inside(where, low, high, parameter.low, parameter.high)
        return Dimension(name, INT, int(low), int(_reached(low, high, step)), int(step))
    smallest = 10 ** -parameter.decimals
    low, high, step = _bounds(text, where, smallest)
    _inside(where, low, high, float(parameter.low), float(parameter.high))
    if round(step / smallest, 9) != round(step / smallest):
        raise Invalid(f"{where}: {name} takes at most {parameter.decimals} decimals, so the step must be a "
                      f"multiple of {smallest:g}.", field="space")
    return Dimension(name, FLOAT, low, _reached(low, high, step), step)


def _bounds(text: str, where: str, default_step: float) -> tuple[float, float, float]:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise Invalid(f"{where}: write low:high or low:high:step.", field="space")
    try:
        numbers = [Decimal(part) for part in parts]
    except InvalidOperation:
        raise Invalid(f"{where}: the bounds must be numbers.", field="space") from None
    if not all(number.is_finite() for number in numbers):
        raise Invalid(f"{where}: the bounds must be finite numbers.", field="space")
    low, high = float(numbers[0]), float(numbers[1])
    step = float(numbers[2]) if len(numbers) == 3 else default_step
    if high <= low:
        raise Invalid(f"{where}: the high end must be above the low end.", field="space")
    if step <= 0 or step > high - low:
        raise Invalid(f"{where}: the step must be more than 0 and at most high - low.", field="space")
    return low, high, step


def _reached(low: float, high: float, step: float) -> float:
    """The last value the steps reach (Optuna would cut the range so, with a warning): 5:50:10 ends at 45."""
    return round(low + math.floor((high - low) / step + 1e-9) * step, 10)


def _inside(where: str, low: float, high: float, floor: float, ceiling: float) -> None:
    if low < floor or high > ceiling:
        raise Invalid(f"{where}: outside the declared range {floor:g}..{ceiling:g}.", field="space")


def _decimals(step: float) -> int:
    return max(0, -Decimal(str(step)).normalize().as_tuple().exponent)


def _value(parameter: Parameter, text: str, where: str):
    try:
        return parse_value(parameter, text, where)
    except ValidationError as error:
        raise Invalid(" ".join(error.messages), field="space") from None
