"""The strategy SDK: what a strategy file imports.

    from strategies.sdk import IStrategy, IntParameter, DecimalParameter, CategoricalParameter, BooleanParameter

See docs/strategies.md for the tutorial, and ``strategies.sdk.base.IStrategy`` for every hook and setting.
"""

from strategies.sdk import indicators  # the indicator catalogue: ``from strategies.sdk.indicators import rsi``
from strategies.sdk.base import IStrategy
from strategies.sdk.kernel import StrategyError, merge_informative
from strategies.sdk.parameters import BooleanParameter, CategoricalParameter, DecimalParameter, IntParameter

__all__ = ["BooleanParameter", "CategoricalParameter", "DecimalParameter", "IStrategy", "IntParameter",
           "StrategyError", "indicators", "merge_informative"]
