"""The numbers behind the dashboard's charts, as pure functions (the API in ``chart_api`` does the I/O).

Times go out as UNIX seconds (what the chart library plots, in UTC). Prices stay ``Decimal`` until the
serializer writes them as strings; indicator values are floats, as the indicator maths is.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal

import numpy as np

from market.candles import candles_to_frame
from market.types import Candle
from strategies.indicators import compute_indicators

# Which indicator columns the chart draws, and where: overlays on the candles, then the RSI and MACD panes.
CHART_SERIES = ("ema_short", "ema_long", "bb_upper", "bb_middle", "bb_lower", "rsi", "macd", "macd_signal",
                "macd_hist")

WallToMarket = Callable[[datetime], datetime]


def epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def indicator_series(candles: Sequence[Candle], config: dict) -> dict[str, list[dict]]:
    """Each chart series as ``[{"time", "value"}]``, leaving out the warm-up rows that have no value yet."""
    if not candles:
        return {name: [] for name in CHART_SERIES}
    frame = compute_indicators(candles_to_frame(candles), config)
    times = [epoch_seconds(candle.start) for candle in candles]
    series = {}
    for name in CHART_SERIES:
        values = frame[name].to_numpy(dtype="float64")
        series[name] = [{"time": time, "value": round(float(value), 8)}
                        for time, value in zip(times, values, strict=True) if np.isfinite(value)]
    return series


def market_clock(market_data) -> WallToMarket:
    """Maps a wall-clock time (when a trade was recorded) to the market's clock (what the candles show).

    Identity for Bybit; the paper replay plays old candles on a clock anchored at wall time, so a trade
    made now sits on the candle the replay is showing now.
    """
    clock = getattr(market_data, "clock", None) if getattr(market_data, "source", "") == "replay" else None
    if clock is None:
        return lambda moment: moment
    return lambda moment: clock.start + ((moment - clock.anchor) * clock.speed) % clock.span


def trade_markers(trades: Iterable, candle_starts: Sequence[datetime], *,
                  to_market: WallToMarket = lambda moment: moment) -> list[dict]:
    """Entry and exit markers of ``trades`` on the candles that contain them (sorted, as the chart requires).

    A trade outside the candles shown gets no marker; one without a fill (failed, cancelled) none either.
    """
    if not candle_starts:
        return []
    markers = []
    for trade in trades:
        if trade.price is None or not (trade.executed_at or trade.closed_at):
            continue
        for kind, at, price in (("entry", trade.executed_at, trade.price), ("exit", trade.closed_at, trade.exit_price)):
            start = _candle_of(to_market(at), candle_starts) if at is not None and price is not None else None
            if start is None:
                continue
            markers.append({"time": epoch_seconds(start), "trade": trade.pk, "kind": kind, "side": trade.side,
                            "price": price, "pnl": trade.realized_pnl if kind == "exit" else None,
                            "text": _marker_text(trade, kind)})
    return sorted(markers, key=lambda marker: (marker["time"], marker["trade"], marker["kind"]))


def _candle_of(moment: datetime, starts: Sequence[datetime]) -> datetime | None:
    """The start of the candle holding ``moment``: the last start at or before it, if it is not past the end."""
    index = bisect.bisect_right(starts, moment) - 1
    if index < 0:
        return None
    if index == len(starts) - 1 and len(starts) > 1 and moment - starts[-1] > starts[-1] - starts[-2]:
        return None  # after the newest candle shown
    return starts[index]


def _marker_text(trade, kind: str) -> str:
    if kind == "entry":
        return f"{'Buy' if trade.side == 'Buy' else 'Sell'} {_plain(trade.quantity)}"
    pnl = trade.realized_pnl
    return "Exit" if pnl is None else f"Exit {'+' if pnl > 0 else ''}{pnl.quantize(Decimal('0.01'))}"


def _plain(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def daily_pnl(closed: Iterable[tuple[datetime, Decimal]], tz: tzinfo) -> list[dict]:
    """Realized PnL per calendar day in ``tz`` (the bot's time zone), oldest first."""
    days: OrderedDict = OrderedDict()
    for closed_at, pnl in sorted(closed, key=lambda item: item[0]):
        day = closed_at.astimezone(tz).date()
        total, count = days.get(day, (Decimal("0"), 0))
        days[day] = (total + pnl, count + 1)
    return [{"day": day, "pnl": total, "trades": count} for day, (total, count) in days.items()]


def equity_points(curve: list[dict], *, opened_at: datetime | None = None,
                  starting_equity: Decimal | None = None) -> list[dict]:
    """``trades.queries.equity_curve`` with times in epoch seconds, starting flat when the first of those
    trades opened (``opened_at``); one point per second, as the chart needs strictly increasing times (the
    last trade of a second wins)."""
    points: OrderedDict = OrderedDict()
    if curve and opened_at is not None and opened_at < curve[0]["time"]:
        start = {"time": opened_at, "cumulative_pnl": Decimal("0")}
        if starting_equity is not None:
            start["equity"] = starting_equity
        curve = [start, *curve]
    for point in curve:
        points[epoch_seconds(point["time"])] = point
    return [{**point, "time": time} for time, point in points.items()]
