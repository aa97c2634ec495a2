"""One run's market and trading: a strategy whose two symbols both signal on the newest closed candle,
a cycle, the market moving through some stops and targets, and the next beat.

The signal windows are cut from the bundled real candles (``tests.fakes.scenarios``), each run picking
its own sides and stretches, so entry prices, sizes and exits differ from run to run.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache

from django.contrib.auth import get_user_model

from core.models import OperatorSettings
from market.types import Candle
from strategies.models import Strategy
from tests.fakes.scenarios import serve, signal_window
from tests.hardening.faults import no_sleep
from trades.cycle import TradingCycle
from trades.models import Decision, StrategyLease, Trade
from trades.reconcile import reconcile

SYMBOLS = ("BTCUSDT", "ETHUSDT")
START_BALANCE = Decimal("10000")


def open_market(fake, rng: random.Random, symbols=SYMBOLS) -> Strategy:
    """Serve a signal on each symbol and create the active trend-following strategy that trades them."""
    for symbol in symbols:
        serve(fake, symbol, "1", _closing_now(_window(symbol, rng.choice(["LONG", "SHORT"]), rng.randrange(3))))
    return Strategy.objects.create(
        name=f"faults-{uuid.uuid4().hex[:8]}", type="trend_following", is_active=True, symbols=list(symbols),
        timeframe="1", risk_percentage=Decimal("1"), stop_loss_percentage=Decimal("1"),
        take_profit_percentage=Decimal("2"), max_positions=len(symbols), leverage=Decimal("5"),
        activated_by=_activator())


def _activator():
    """Who activated the runs' strategies: allowed to trade on testnet (the switch on), so the cycle trades them."""
    person, created = get_user_model().objects.get_or_create(username="fault-activator",
                                                             defaults={"is_superuser": True})
    if created:
        OperatorSettings.objects.create(user=person, live_trading_enabled=True)
    return person


@cache
def _window(symbol: str, action: str, occurrence: int) -> tuple[Candle, ...]:
    """Finding a signal scans a month of candles: once per kind of window, then only re-timed."""
    candles, _ = signal_window(action=action, strategy_type="trend_following", symbol=symbol, interval="1",
                               occurrence=occurrence)
    return tuple(candles)


def _closing_now(candles: tuple[Candle, ...]) -> list[Candle]:
    """The same candles, shifted so the last (the signal candle) is the one that closed at this minute's start."""
    shift = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1) - candles[-1].start
    return [replace(candle, start=candle.start + shift) for candle in candles]


def clear_trading() -> None:
    """Forget the previous run (its exchange is gone with its fake server)."""
    Decision.objects.all().delete()
    Trade.objects.all().delete()
    StrategyLease.objects.all().delete()
    Strategy.objects.all().delete()


def make_cycle(exchange) -> TradingCycle:
    return TradingCycle(exchange=exchange, sleep=no_sleep, max_notional=Decimal("100000"), lock_seconds=120)


def move_market(fake, rng: random.Random) -> list[str]:
    """Each protected position may run through its stop-loss or its take-profit, or stay."""
    moves = []
    with fake.state.lock:
        positions = [(p.symbol, p.side, p.stop_loss, p.take_profit) for p in fake.state.positions.values() if p.size]
    for symbol, side, stop, target in positions:
        choice = rng.choice(["stay", "stop", "target"])
        level = {"stop": stop, "target": target}.get(choice)
        if level is None:
            continue
        beyond = Decimal("1.001") if (choice == "target") == (side == "Buy") else Decimal("0.999")
        fake.set_price(symbol, level * beyond)
        moves.append(f"{symbol} {choice}")
    return moves


def trading_minute(fake, exchange, strategy: Strategy, rng: random.Random) -> list[str]:
    """A cycle, the market moving, then the next beat (reconcile, the same cycle: the same candle, so
    nothing new may be sent). Returns the errors that escaped, as text."""
    errors = []
    for step, call in (("cycle", lambda: make_cycle(exchange).run([strategy])),
                       ("market", lambda: move_market(fake, rng)),
                       ("reconcile", lambda: reconcile(exchange, sleep=no_sleep)),
                       ("cycle again", lambda: make_cycle(exchange).run([strategy]))):
        try:
            call()
        except Exception as error:  # noqa: BLE001 - an escaped error is recorded as a finding
            errors.append(f"{step}: {type(error).__name__}: {error}")
    return errors
