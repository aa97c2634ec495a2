"""Small hand-made markets for the backtest engine."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from market.types import InstrumentRules
from trades.backtest.engine import EngineConfig, Minutes
from trades.backtest.inputs import signal_events
from trades.risk import RiskParams

START = pd.Timestamp("2026-01-01 00:00", tz="UTC")
RULES = InstrumentRules("TESTUSDT", tick_size=Decimal("0.01"), qty_step=Decimal("0.001"), min_qty=Decimal("0.001"),
                        max_qty=Decimal("1000000"))


def minute_frame(rows: list[tuple[float, float, float, float]], start: pd.Timestamp = START) -> pd.DataFrame:
    """1-minute candles from (open, high, low, close) rows, one a minute from ``start``."""
    index = pd.date_range(start, periods=len(rows), freq="1min", name="start")
    values = np.array([[*row, 1.0] for row in rows], dtype="float64")
    return pd.DataFrame(values, index=index, columns=["open", "high", "low", "close", "volume"])


def events_for(frame: pd.DataFrame, actions: dict[int, int], interval: str = "1", signal_frame=None):
    """Signal events from {row: +1/-1} on ``signal_frame`` (default: the 1-minute frame itself)."""
    signal_frame = frame if signal_frame is None else signal_frame
    series = np.zeros(len(signal_frame), dtype=np.int8)
    for row, action in actions.items():
        series[row] = action
    minutes = Minutes.from_frame(frame)
    return minutes, signal_events(signal_frame, series, interval, minutes.start)


@pytest.fixture
def config():
    """1 unit a trade, no slippage, 0.1% fee, stop-loss 1% and take-profit 2% from the fill."""
    return EngineConfig(rules=RULES, risk=RiskParams(Decimal("1"), Decimal("1"), Decimal("2")),
                        initial_balance=Decimal("10000"), fee_rate=Decimal("0.001"), slippage_bps=Decimal("0"),
                        fixed_qty=Decimal("1"))


@pytest.fixture
def eager_celery(settings):
    """Tasks run in-process as soon as they are sent (Celery reads its settings from Django's, lazily)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def dashboard_events():
    """Collects what ``core.events.publish`` sends to every dashboard."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from core.events import DASHBOARD_GROUP

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(DASHBOARD_GROUP, channel)

    def received(event: str) -> list[dict]:
        import asyncio

        async def drain():
            messages = []
            while True:
                try:
                    messages.append(await asyncio.wait_for(layer.receive(channel), timeout=0.3))
                except TimeoutError:
                    return messages
        return [m["data"] for m in async_to_sync(drain)() if m.get("event") == event]

    yield received
    async_to_sync(layer.group_discard)(DASHBOARD_GROUP, channel)
