"""What a backtest says: metrics, a downsampled equity curve, the trade list, candles for the chart.

Trade figures (win rate, profit factor, expectancy) come from ``trades.metrics.trade_stats`` on the
Decimal ledger, so they mean what the dashboard's statistics mean. Curve figures (drawdown, Sharpe,
Sortino, exposure) come from the engine's per-minute equity:

- max drawdown: the largest fall from a running peak of equity, in USDT and percent; its duration
  runs from that peak until equity first got back above it (or to the end, if it never did);
- Sharpe and Sortino: mean return per candle of the strategy's timeframe over its standard deviation
  (Sortino: over the root mean square of the negative returns), times sqrt(candles per year); crypto
  trades all year, so a year is 365 days; no risk-free rate;
- CAGR: total growth raised to (365 days / the range's length) minus 1;
- Calmar: CAGR over the max drawdown, both in percent (none without a drawdown);
- exposure: the share of minutes that closed with a position open.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from market.candles import resample
from market.intervals import INTERVAL_MINUTES
from trades.backtest.breakdowns import breakdowns
from trades.backtest.data import CandleData
from trades.backtest.engine import OUTCOMES, EngineResult
from trades.backtest.ledger import Ledger
from trades.metrics import trade_stats

YEAR_MINUTES = 365 * 24 * 60
CURVE_POINTS = 1500
CHART_CANDLES = 3000
HUNDRED = Decimal("100")


@dataclass(frozen=True)
class Report:
    metrics: dict  # JSON-safe: Decimal as strings, floats rounded
    equity_curve: list  # [time ms, equity, drawdown %]
    trades: list  # dicts, closed trades then the open one
    chart: dict  # {"interval": "15", "candles": [[time s, o, h, l, c], ...]}


def build_report(result: EngineResult, ledger: Ledger, data: CandleData, *, timeframe: str,
                 initial_balance: Decimal) -> Report:
    times = data.frame.index.as_unit("ns").asi8[data.trade_from:]
    equity = result.equity
    pnls = [trade.pnl for trade in ledger.trades]
    stats = trade_stats(pnls)
    final = ledger.final_equity
    drawdown = max_drawdown(equity, times)
    minutes = max(1.0, (data.end - data.start).total_seconds() / 60)
    growth = float(final / initial_balance) if initial_balance else 0.0
    sharpe, sortino = sharpe_sortino(equity, INTERVAL_MINUTES[timeframe])
    counts = {outcome: result.outcomes.count(outcome) for outcome in OUTCOMES}
    cagr = round((growth ** (YEAR_MINUTES / minutes) - 1) * 100, 4) if growth > 0 else -100.0
    metrics = {
        "initial_balance": str(initial_balance),
        "final_equity": str(final),
        "total_return_pct": _pct((final - initial_balance) / initial_balance * HUNDRED),
        "cagr_pct": cagr,
        "trades": stats.total_trades,
        "wins": stats.wins,
        "losses": stats.losses,
        "win_rate_pct": _text(stats.win_rate),
        "profit_factor": _text(stats.profit_factor),
        "expectancy": _text(stats.average_pnl),
        "gross_profit": str(stats.gross_profit),
        "gross_loss": str(stats.gross_loss),
        "net_pnl": str(stats.total_pnl),
        "fees_paid": str(ledger.fees_paid),
        "max_drawdown": round(drawdown["value"], 2),
        "max_drawdown_pct": round(drawdown["pct"], 4),
        "max_drawdown_duration_s": drawdown["duration_s"],
        "max_drawdown_peak": drawdown["peak"],
        "max_drawdown_trough": drawdown["trough"],
        "sharpe": sharpe,
        "sortino": sortino,
        "calmar": round(cagr / drawdown["pct"], 4) if drawdown["pct"] > 0 else None,
        "exposure_pct": round(float(result.exposure.mean()) * 100, 4) if len(result.exposure) else 0.0,
        "signals": len(result.outcomes),
        "signal_outcomes": counts,
        "open_position": ledger.open_trade is not None,
        "unrealized_pnl": str(sum((trade.gross for trade in ledger.more_open), ledger.open_trade.gross))
        if ledger.open_trade else "0",
        "funding": str(ledger.funding),
        "funding_note": ledger.funding_note,
        "liquidations": sum(1 for trade in ledger.trades if trade.exit_reason == "liquidation"),
        "breakdowns": breakdowns(ledger, data.symbol),
    }
    trades = [trade.as_dict() for trade in ledger.trades]
    trades += [trade.as_dict() for trade in ledger.open_trades]
    return Report(metrics=metrics, equity_curve=downsample(equity, times), trades=trades,
                  chart=chart_candles(data, timeframe))


def max_drawdown(equity: np.ndarray, times: np.ndarray) -> dict:
    """Largest fall from a running peak (value, percent), and how long until the peak was regained."""
    if len(equity) == 0:
        return {"value": 0.0, "pct": 0.0, "duration_s": 0, "peak": None, "trough": None}
    peaks = np.maximum.accumulate(equity)
    falls = peaks - equity
    trough = int(falls.argmax())
    if falls[trough] <= 0:
        return {"value": 0.0, "pct": 0.0, "duration_s": 0, "peak": None, "trough": None}
    peak = int(np.flatnonzero(equity[:trough + 1] == peaks[trough])[0])
    recovered = np.flatnonzero(equity[trough:] >= peaks[trough])
    until = trough + int(recovered[0]) if len(recovered) else len(equity) - 1
    return {"value": float(falls[trough]), "pct": float(falls[trough] / peaks[trough] * 100),
            "duration_s": int((times[until] - times[peak]) // 1_000_000_000),
            "peak": _iso(times[peak]), "trough": _iso(times[trough])}


def sharpe_sortino(equity: np.ndarray, interval_minutes: int) -> tuple[float | None, float | None]:
    """Annualised from returns per candle of the strategy's timeframe (the equity every ``interval`` minutes)."""
    sampled = equity[::interval_minutes]
    if len(sampled) < 3:
        return None, None
    returns = np.diff(sampled) / sampled[:-1]
    scale = math.sqrt(YEAR_MINUTES / interval_minutes)
    deviation = returns.std(ddof=1)
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    mean = float(returns.mean())
    sharpe = round(mean / deviation * scale, 4) if deviation > 0 else None
    sortino = round(mean / downside * scale, 4) if downside > 0 else None
    return sharpe, sortino


def downsample(equity: np.ndarray, times: np.ndarray, points: int = CURVE_POINTS) -> list:
    """At most about ``points`` [time ms, equity, drawdown %] rows; each bucket keeps its deepest point, and the
    first and last minutes are always kept."""
    if len(equity) == 0:
        return []
    peaks = np.maximum.accumulate(equity)
    drawdown = (equity - peaks) / peaks * 100
    step = max(1, math.ceil(len(equity) / points))
    starts = np.arange(0, len(equity), step)
    # Keep the lowest-drawdown minute of each bucket, so the curve never hides the worst moment.
    chosen = np.minimum.reduceat(np.where(np.isfinite(drawdown), drawdown, 0.0), starts)
    picks = [int(start + np.flatnonzero(drawdown[start:start + step] == low)[0])
             for start, low in zip(starts, chosen, strict=True)]
    # The first and last minutes too: a curve starts where the run did (0% on the compare chart), ends where it did.
    picks = sorted({0, *picks, len(equity) - 1})
    return [[int(times[i] // 1_000_000), round(float(equity[i]), 2), round(float(drawdown[i]), 4)] for i in picks]


def chart_candles(data: CandleData, timeframe: str) -> dict:
    """The traded range at the strategy's timeframe, or coarser so the chart stays under CHART_CANDLES."""
    minutes = data.frame.iloc[data.trade_from:]
    span = len(minutes)
    interval = timeframe
    for name, length in sorted(INTERVAL_MINUTES.items(), key=lambda item: item[1]):
        if length >= INTERVAL_MINUTES[timeframe] and span / length <= CHART_CANDLES and name not in ("W",):
            interval = name
            break
    frame = resample(minutes, interval)
    seconds = frame.index.as_unit("ns").asi8 // 1_000_000_000
    values = np.round(frame[["open", "high", "low", "close"]].to_numpy(), 8)
    return {"interval": interval, "interval_seconds": INTERVAL_MINUTES[interval] * 60,
            "candles": [[int(t), *map(float, row)] for t, row in zip(seconds, values, strict=True)]}


def summary_rows(metrics: dict) -> list[tuple[str, str]]:
    """The results table, as (label, value) rows: money to cents in USDT, percentages to 2 decimals."""
    def money(value) -> str:
        return "-" if value is None else f"{Decimal(str(value)):,.2f} USDT"

    def pct(value) -> str:
        return "-" if value is None else f"{Decimal(str(value)):,.2f}%"

    duration = metrics["max_drawdown_duration_s"]
    outcomes = metrics["signal_outcomes"]
    skipped = ", ".join(f"{count} {name}" for name, count in outcomes.items() if count and name != "entered")
    expectancy = metrics["expectancy"]
    return [
        ("initial balance", money(metrics["initial_balance"])),
        ("final equity", money(metrics["final_equity"])),
        ("total return", pct(metrics["total_return_pct"])),
        ("CAGR", pct(metrics["cagr_pct"])),
        ("trades", f"{metrics['trades']} ({metrics['wins']} won, {metrics['losses']} lost)"
                   + (" + 1 open" if metrics["open_position"] else "")),
        ("win rate", pct(metrics["win_rate_pct"])),
        ("profit factor", _num(None if metrics["profit_factor"] is None else float(metrics["profit_factor"]))),
        ("expectancy", "-" if expectancy is None else f"{money(expectancy)} per trade"),
        ("max drawdown", f"{money(metrics['max_drawdown'])} ({pct(metrics['max_drawdown_pct'])}), "
                         f"{_duration(duration)}"),
        ("Sharpe / Sortino", f"{_num(metrics['sharpe'])} / {_num(metrics['sortino'])} (annualised)"),
        ("exposure", f"{pct(metrics['exposure_pct'])} of the time"),
        ("fees paid", money(metrics["fees_paid"])),
        *_perpetual_rows(metrics),
        ("signals", f"{metrics['signals']} ({outcomes.get('entered', 0)} entered"
                    + (f"; skipped: {skipped}" if skipped else "") + ")"),
    ]


def _perpetual_rows(metrics: dict) -> list[tuple[str, str]]:
    """Funding and liquidations, for runs that simulated them (older runs stored neither)."""
    rows = []
    if "funding" in metrics:
        amount = Decimal(metrics["funding"])
        way = "received" if amount > 0 else "paid"
        note = f" ({metrics['funding_note']})" if metrics.get("funding_note") else ""
        rows.append(("funding", f"{abs(amount):,.2f} USDT {way}{note}"))
    if metrics.get("liquidations"):
        rows.append(("liquidations", str(metrics["liquidations"])))
    return rows


def _duration(seconds: int) -> str:
    if not seconds:
        return "no drawdown"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    return (f"{days}d " if days else "") + f"{hours}h {rest // 60}m"


def _num(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _text(value) -> str | None:
    return None if value is None else str(value)


def _pct(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.0001")))


def _iso(ns) -> str:
    return pd.Timestamp(int(ns), tz="UTC").isoformat()
