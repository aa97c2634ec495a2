"""The Backtests pages: launch and list runs, one run's charts and trades, runs side by side."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from dashboard.launch_forms import handle_launch
from market.candles import bundled_files
from market.intervals import INTERVAL_LABELS
from strategies.models import Strategy
from trades.backtest import costs
from trades.backtest.commands import launch_backtest, launch_refusal
from trades.backtest.data import BUNDLED, coverage
from trades.backtest.models import BacktestRun
from trades.backtest.report import summary_rows
from trades.backtest.serializers import BacktestLaunchSerializer

RUNS_LISTED = 50
COMPARE_MAX = 6


@require_http_methods(["GET", "POST"])
def backtest_list(request):
    def launch(form):
        run_settings = form.validated_data["settings"]
        run = launch_backtest(request.user, form.validated_data["spec"], run_settings)
        messages.success(request, f"Backtest #{run.pk} queued: {run.name} on {run.symbol}.")
        if run_settings.note:  # the range was cut to the candles there are: never silently
            messages.warning(request, run_settings.note)
        return redirect(run)

    posted = handle_launch(request, refusal=launch_refusal, serializer=BacktestLaunchSerializer, launch=launch)
    if posted.response is not None:
        return posted.response
    errors, values = posted.errors, posted.values
    runs = BacktestRun.objects.defer(*BacktestRun.HEAVY_FIELDS, "parameters", "data", "metrics")[:RUNS_LISTED]
    context = {"runs": runs, "strategies": Strategy.objects.order_by("name"), "errors": errors, "values": values,
               "timeframes": INTERVAL_LABELS.items(),
               "defaults": costs.FORM_DEFAULTS,
               "bundled": _bundled_coverage()}
    return render(request, "backtests/list.html", context, status=400 if errors else 200)


@require_GET
def backtest_detail(request, pk: int):
    run = get_object_or_404(BacktestRun, pk=pk)
    rows = summary_rows(run.metrics) if run.status == BacktestRun.Status.DONE else []
    trades = [dict(trade, pnl_value=Decimal(trade["pnl"]), entry_at=_minute(trade["entry_time"]),
                   price_symbol=trade.get("symbol") or run.symbol,
                   exit_at=_minute(trade["exit_time"]),
                   fees=Decimal(trade["entry_fee"]) + Decimal(trade["exit_fee"] or "0")) for trade in run.trades]
    parameters = run.parameters.get("run", {})
    fee = costs.fee_percent(Decimal(parameters.get("fee_rate", "0")))
    # A pending run has no data description yet: what it will read comes from its parameters.
    source = run.data.get("label") or run.data.get("source") or parameters.get("source", "")
    # A portfolio's chart is its first symbol's: only that symbol's trades are drawn on it.
    charted = parameters.get("symbol", run.symbol)
    chart_trades = [trade for trade in run.trades if trade.get("symbol", charted) == charted]
    return render(request, "backtests/detail.html", {
        "run": run, "rows": rows, "trades": trades, "fee_percent": fee, "chart_trades": chart_trades,
        "charted": charted, "portfolio": bool(parameters.get("symbols")),
        "breakdowns": _breakdown_tables(run.metrics) if run.status == BacktestRun.Status.DONE else [],
        "slippage_bps": parameters.get("slippage_bps", ""), "source": source, "note": parameters.get("note", "")})


def _breakdown_tables(metrics: dict) -> list[tuple[str, str, list[dict]]]:
    """(title, first column, rows) per-symbol, per-exit-reason and per-month (runs stored before them have none)."""
    tables = metrics.get("breakdowns") or {}
    titles = (("symbol", "By symbol", "symbol"), ("exit", "By exit reason", "exit reason"),
              ("month", "By month", "month"))
    return [(title, column, [dict(row, pnl_value=Decimal(row["pnl"])) for row in tables[key]])
            for key, title, column in titles if tables.get(key)]


@require_GET
def backtest_compare(request):
    ids = [int(value) for value in request.GET.getlist("ids") if value.isdigit()][:COMPARE_MAX]
    runs = list(BacktestRun.objects.filter(pk__in=ids, status=BacktestRun.Status.DONE).defer("trades", "chart"))
    runs.sort(key=lambda run: ids.index(run.pk))
    if len(runs) < 2:
        messages.error(request, "Pick at least two finished runs to compare.")
        return redirect("backtest-page")
    # Rows one run has and another lacks (funding, liquidations: runs stored before them) show a dash there.
    labels = list(dict.fromkeys(label for run in runs for label, _ in summary_rows(run.metrics)))
    table = [(label, [dict(summary_rows(run.metrics)).get(label, "-") for run in runs]) for label in labels]
    curves = [{"id": run.pk, "label": f"#{run.pk} {run.name} {run.symbol} {run.timeframe}m",
               "initial": str(run.initial_balance), "points": run.equity_curve} for run in runs]
    settings_rows = [("data", [f"{run.data.get('source', '')} {run.start:%Y-%m-%d} to {run.end:%Y-%m-%d}"
                               for run in runs]),
                     ("data sha256", [run.data_checksum[:16] for run in runs]),
                     ("code", [run.code_version for run in runs]),
                     ("indicators", [_indicators(run) for run in runs]),
                     ("risk / SL / TP %", [_risk(run) for run in runs])]
    return render(request, "backtests/compare.html", {"runs": runs, "table": table, "curves": curves,
                                                      "settings_rows": settings_rows})


def _bundled_coverage() -> str:
    """What the bundled candles cover, said beside the form (a range outside it is cut to it, with a message)."""
    spans = {}
    for symbol in bundled_files(settings.CANDLE_DATA_DIR):
        first, stop = coverage(symbol, BUNDLED)
        spans.setdefault((first, stop), []).append(symbol)
    return "; ".join(f"{', '.join(symbols)} from {first:%Y-%m-%d %H:%M} to {stop:%Y-%m-%d %H:%M} UTC"
                     for (first, stop), symbols in spans.items())


def _minute(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else ""


def _indicators(run: BacktestRun) -> str:
    values = run.parameters.get("strategy", {}).get("indicators", {})
    return ", ".join(f"{key} {value}" for key, value in values.items() if key.startswith(("ema", "rsi_period")))


def _risk(run: BacktestRun) -> str:
    strategy = run.parameters.get("strategy", {})
    return " / ".join(strategy.get(key, "-") for key in ("risk_percentage", "stop_loss_percentage",
                                                        "take_profit_percentage"))
