"""The strategy classes this process knows (the built-ins and the files of ``STRATEGY_DIRS``), read once and again
when a file changed (``refresh``: the cycle calls it at its start, never during a cycle)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from strategies.sdk.base import IStrategy
from strategies.sdk.registry import Catalogue, Registry

_registry: Registry | None = None


def registry() -> Registry:
    global _registry
    if _registry is None or _registry.dirs != list(settings.STRATEGY_DIRS):
        _registry = Registry(list(settings.STRATEGY_DIRS))  # a test (or a reload) that changed the folders
    return _registry


def catalogue() -> Catalogue:
    return registry().catalogue()


def refresh() -> Catalogue:
    return registry().refresh()


def strategy_class(key: str) -> type[IStrategy] | None:
    return catalogue().get(key)


def known_types() -> list[str]:
    return catalogue().keys()


EXIT_FIELDS = ("stop_loss_percentage", "take_profit_percentage", "trailing_stop_percentage",
               "trailing_activation_percentage", "exit_after_candles", "take_profit_targets")


def exit_defaults(key: str) -> dict:
    """The Strategy field values class ``key``'s exit attributes (freqtrade's spelling) stand for: what a new
    Strategy of the class starts with where its creator says nothing. A class without a fixed target
    (``take_profit = None``) leaves the Strategy's own default target; empty for an unknown class."""
    cls = strategy_class(key)
    if cls is None:
        return {}

    def percent(ratio) -> Decimal:
        return (Decimal(repr(abs(float(ratio)))) * 100).quantize(Decimal("0.01"))

    trailing = cls.trailing_stop and cls.trailing_stop_positive
    values = {"stop_loss_percentage": percent(cls.stoploss),
              "trailing_stop_percentage": percent(cls.trailing_stop_positive) if trailing else None,
              "trailing_activation_percentage": (percent(cls.trailing_stop_positive_offset)
                                                 if trailing and cls.trailing_stop_positive_offset else None),
              "exit_after_candles": cls.exit_after_candles,
              "take_profit_targets": [{"percent": str(percent(ratio)), "share": str(share)}
                                      for ratio, share in cls.partial_take_profits]}
    if cls.take_profit is not None:
        values["take_profit_percentage"] = percent(cls.take_profit)
    return values
