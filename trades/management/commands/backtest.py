"""``manage.py backtest``: replay a strategy over history with the live cycle's own functions.

    manage.py backtest --strategy 1 --symbol BTCUSDT --timeframe 5 --from 2026-03-24 --to 2026-04-20
    manage.py backtest --config my_strategy.json --json
    manage.py backtest --strategy 1 --grid ema_short=5,9,13 ema_long=21,34
    manage.py backtest --strategy 1 --param rsi_period=9 --param bb_std=2.5
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management import BaseCommand, CommandError

from core.progress import progress_bar
from core.tables import print_table
from market.errors import InvalidOrderError
from market.instruments import check_symbol
from market.intervals import INTERVAL_MINUTES
from strategies.models import Strategy
from trades.backtest import costs, grid
from trades.backtest.data import BUNDLED, DataError, fit_range, load_candles
from trades.backtest.inputs import StrategySpec, read_config
from trades.backtest.report import summary_rows
from trades.backtest.runner import RunSettings, complete, prepare, store, warmup_for

TRADES_SHOWN = 20


def parse_moment(value: str, *, end: bool = False) -> datetime:
    """``2026-03-24`` (a whole UTC day: an end date includes that day) or an ISO date-time."""
    try:
        if len(value) == 10:
            moment = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
            if end:  # the end of that day, or of time itself: the range is cut to the data anyway
                return moment + timedelta(days=1) if moment.date() < date.max else datetime.max.replace(tzinfo=UTC)
            return moment
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (2026-03-24) or a date-time (2026-03-24T12:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_decimal(value: str, name: str, *, minimum: Decimal = Decimal("0")) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise CommandError(f"{name} must be a number, got {value!r}") from None
    if not number.is_finite() or number < minimum:
        raise CommandError(f"{name} must be at least {minimum}, got {value}")
    return number


class Command(BaseCommand):
    requires_system_checks = []  # a report in seconds: the checks would import every view first
    help = ("Backtest a strategy over historical 1-minute candles with the live cycle's indicator, signal, risk "
            "and fill functions; prints a report and stores it as a BacktestRun (see the Backtests page).")

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--strategy", type=int, metavar="ID", help="A saved strategy.")
        source.add_argument("--config", metavar="FILE", help="A JSON file with the Strategy API's fields.")
        parser.add_argument("--symbol", help="Default: the strategy's first symbol, or BTCUSDT.")
        parser.add_argument("--symbols", metavar="A,B,C",
                            help="A portfolio run: these symbols on one wallet, at most the strategy's max_positions "
                                 "open at once, as the live cycle trades them (e.g. BTCUSDT,ETHUSDT,SOLUSDT).")
        parser.add_argument("--no-funding", action="store_true",
                            help="Leave funding out (by default it is paid every 8 h: the downloaded rates, else "
                                 "0.01 %% per 8 h, which the report then says).")
        parser.add_argument("--timeframe", choices=list(INTERVAL_MINUTES), help="Override the strategy's.")
        parser.add_argument("--from", dest="start", help="First day (UTC), e.g. 2026-03-24. Default: the data's.")
        parser.add_argument("--to", dest="end", help="Last day (UTC, included). Default: the data's.")
        parser.add_argument("--balance", default=str(costs.INITIAL_BALANCE),
                            help=f"Starting USDT (default {costs.INITIAL_BALANCE}).")
        parser.add_argument("--fee", default=str(costs.FEE_PERCENT),
                            help=f"Taker fee per side in percent (default {costs.FEE_PERCENT}).")
        parser.add_argument("--slippage-bps", default=str(costs.SLIPPAGE_BPS),
                            help=f"Market-order slippage in basis points (default {costs.SLIPPAGE_BPS}).")
        parser.add_argument("--data", default=BUNDLED,
                            help="bundled (default), cache (manage.py download_candles), or a CSV/Parquet path.")
        parser.add_argument("--ai", action="store_true",
                            help="Confirm signals with the AI answers stored in the decision cache (never calls "
                                 "the API); prints how many questions it would take and their cost first.")
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                            help="Set one of the parameters the strategy's class declares for this run (repeat "
                                 "for more); checked against its range.")
        parser.add_argument("--grid", nargs="+", metavar="KEY=V1,V2",
                            help="Sweep settings (e.g. ema_short=5,9,13 ema_long=21,34): any parameter the "
                                 "strategy's class declares, or a risk setting; in parallel; ranked table, nothing "
                                 "stored.")
        parser.add_argument("--rank", default="total_return_pct", choices=grid.RANKINGS, help="Grid ranking.")
        parser.add_argument("--workers", type=int, default=None, help="Grid processes (default: one per core).")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON instead of tables.")

    def handle(self, *args, **options):
        spec = self._spec(options)
        run = self._settings(spec, options)
        try:
            if options["grid"]:
                return self._grid(spec, run, options)
            return self._single(spec, run, options)
        except (DataError, ValidationError, InvalidOrderError) as error:
            raise CommandError(_message(error)) from None

    # Inputs ---------------------------------------------------------------------------------------
    def _spec(self, options) -> StrategySpec:
        try:
            if options["strategy"] is not None:
                strategy = Strategy.objects.filter(pk=options["strategy"]).first()
                if strategy is None:
                    raise CommandError(f"No strategy with id {options['strategy']}.")
                spec, symbols = StrategySpec.from_strategy(strategy), strategy.symbols
            else:
                config = read_config(options["config"])
                spec = StrategySpec.from_config(config, name=Path(options["config"]).stem)
                symbols = config.get("symbols") or []
                if not (isinstance(symbols, list) and all(isinstance(symbol, str) for symbol in symbols)):
                    raise CommandError(f'symbols in {options["config"]} must be a list such as ["ETHUSDT"]')
        except ValidationError as error:
            raise CommandError(_message(error)) from None
        self.default_symbol = symbols[0] if symbols else "BTCUSDT"
        if len(symbols) > 1 and not options["symbol"]:
            self.stderr.write(f"The strategy trades {', '.join(symbols)}; this backtest runs on the first, "
                              f"{symbols[0]} (--symbol picks another; --symbols {','.join(symbols)} runs them on one "
                              f"wallet).", style_func=self.style.WARNING)
        if options["timeframe"]:
            spec = replace(spec, timeframe=options["timeframe"])
        return self._with_params(spec, options["param"])

    def _with_params(self, spec: StrategySpec, items: list[str]) -> StrategySpec:
        parameters = grid.declared(spec.type)
        chosen = {}
        for item in items:
            key, _, raw = item.partition("=")
            key = key.strip()
            if not raw.strip() or key not in parameters:
                raise CommandError(f"--param {item!r}: write name=value with a parameter {spec.type} declares: "
                                   f"{', '.join(parameters) or 'none'}")
            try:
                chosen[key] = grid.parse_value(parameters[key], raw.strip(), f"--param {item!r}")
            except ValidationError as error:
                raise CommandError(_message(error)) from None
        try:
            return spec.with_indicators(**chosen) if chosen else spec
        except ValidationError as error:
            raise CommandError(_message(error)) from None

    def _symbols(self, options) -> tuple[str, ...]:
        if options["symbols"] and options["symbol"]:
            raise CommandError("give --symbol (one) or --symbols (a portfolio), not both")
        if options["symbols"] and options["grid"]:
            raise CommandError("--grid sweeps one symbol: give --symbol instead of --symbols")
        named = options["symbols"].split(",") if options["symbols"] else [options["symbol"] or self.default_symbol]
        symbols = tuple(dict.fromkeys(symbol.strip().upper() for symbol in named if symbol.strip()))
        try:
            for symbol in symbols:
                check_symbol(symbol)
        except InvalidOrderError as error:
            raise CommandError(str(error)) from None
        if not symbols:
            raise CommandError("--symbols needs at least one symbol, e.g. BTCUSDT,ETHUSDT")
        return symbols

    def _settings(self, spec: StrategySpec, options) -> RunSettings:
        symbols = self._symbols(options)
        start = parse_moment(options["start"]) if options["start"] else None
        end = parse_moment(options["end"], end=True) if options["end"] else None
        if start is not None and end is not None and end <= start:
            raise CommandError("--to must not be before --from")
        try:  # default range: all of it, after the warm-up the live cycle would have had; a portfolio: all share
            spans = [fit_range(symbol, options["data"], start, end, warmup_for(spec)) for symbol in symbols]
        except DataError as error:
            raise CommandError(str(error)) from None
        span = replace(spans[0], start=max(s.start for s in spans), end=min(s.end for s in spans),
                       note=" ".join(s.note for s in spans if s.note))
        if span.end <= span.start:
            raise CommandError(f"{', '.join(symbols)} have no candles in common in that range")
        if span.note:
            self.stderr.write(span.note, style_func=self.style.WARNING)
        return RunSettings(symbol=symbols[0], symbols=symbols if len(symbols) > 1 else (),
                           funding=not options["no_funding"],
                           start=span.start, end=span.end, source=options["data"], note=span.note,
                           initial_balance=parse_decimal(options["balance"], "--balance", minimum=Decimal("1")),
                           fee_rate=parse_decimal(options["fee"], "--fee") / 100,
                           slippage_bps=parse_decimal(options["slippage_bps"], "--slippage-bps"), use_ai=options["ai"])

    # One run --------------------------------------------------------------------------------------
    def _single(self, spec: StrategySpec, run: RunSettings, options):
        if spec.use_ai_confirmation and not run.use_ai:
            self.stderr.write("AI confirmation is off in backtests: every signal is taken without it "
                              "(--ai replays the answers stored in the decision cache).")
        with progress_bar(self, total=100, desc="backtest", unit="%", leave=False,
                          bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}") as bar:
            def progress(fraction: float, phase: str) -> None:
                bar.set_postfix_str(phase, refresh=False)
                bar.update(max(0, round(fraction * 100) - bar.n))

            prepared = prepare(spec, run, progress=progress)
            if prepared.ai_estimate is not None:
                bar.clear()
                self.stderr.write(prepared.ai_estimate.describe())
            outcome = complete(prepared, progress=progress)
        stored = store(outcome)
        if options["json"]:
            self.stdout.write(json.dumps({"id": stored.pk, "name": stored.name, "parameters": stored.parameters,
                                          "data": stored.data, "code_version": stored.code_version,
                                          "metrics": stored.metrics, "trades": stored.trades,
                                          "equity_curve": stored.equity_curve}, indent=2))
            return
        data = prepared.data
        self.stdout.write(f"{stored.name}: {spec.type} on {', '.join(run.all_symbols)} {spec.timeframe}m, "
                          f"{data.start:%Y-%m-%d %H:%M} to {data.end:%Y-%m-%d %H:%M} UTC, {data.candles:,} candles "
                          f"of {data.label} (+{data.trade_from:,} warm-up); "
                          f"fee {costs.fee_percent(run.fee_rate)}% per side, slippage {run.slippage_bps} bps")
        for gap in data.gaps[:5]:
            self.stdout.write(self.style.WARNING(f"gap: {gap.missing} minute(s) missing after "
                                                 f"{gap.after:%Y-%m-%d %H:%M} (not filled in)"))
        if len(data.gaps) > 5:
            self.stdout.write(self.style.WARNING(f"... {len(data.gaps)} gaps in all"))
        self.stdout.write("")
        print_table(self.stdout, ("", ""), summary_rows(stored.metrics), header=False)
        if run.is_portfolio:
            self._breakdowns(stored.metrics)
        self._trades(stored.trades)
        self.stdout.write(self.style.SUCCESS(
            f"stored as backtest #{stored.pk} (the Backtests page draws it) in {outcome.elapsed_ms} ms; "
            f"data sha256 {data.checksum[:16]}..., code {stored.code_version}"))

    def _breakdowns(self, metrics: dict):
        """Where the money came from: per symbol, per exit reason (and tag), per month."""
        self.stdout.write(f"at most {metrics['max_open_positions']} of max_positions {metrics['max_positions']} "
                          f"open at once")
        for table, title in (("symbol", "symbol"), ("exit", "exit reason"), ("month", "month")):
            rows = [(row["key"], str(row["trades"]), str(row["wins"]), f"{Decimal(row['pnl']):.2f}",
                     f"{Decimal(row['funding']):.2f}", f"{Decimal(row['fees']):.2f}")
                    for row in metrics["breakdowns"][table]]
            self.stdout.write("")
            print_table(self.stdout, (title, "trades", "won", "PnL", "funding", "fees"), rows,
                        right={1, 2, 3, 4, 5})

    def _trades(self, trades: list[dict]):
        if not trades:
            self.stdout.write("no trades")
            return
        rows = []
        shown = trades if len(trades) <= TRADES_SHOWN else trades[:TRADES_SHOWN // 2] + trades[-TRADES_SHOWN // 2:]
        for trade in shown:
            number = trades.index(trade) + 1
            side = f"{trade['symbol']} {trade['side']}" if trade.get("symbol") else trade["side"]
            rows.append((str(number), side, trade["entry_time"][:16].replace("T", " "), trade["entry_price"],
                         (trade["exit_time"] or "")[:16].replace("T", " "), trade["exit_price"] or "-",
                         trade["exit_reason"], f"{Decimal(trade['pnl']):.2f}" if trade["exit_time"] else "open"))
        self.stdout.write("")
        print_table(self.stdout, ("#", "side", "entry (UTC)", "price", "exit (UTC)", "price", "why", "PnL"), rows,
                    right={0, 3, 5, 7})
        if len(trades) > TRADES_SHOWN:
            self.stdout.write(f"({len(trades) - TRADES_SHOWN} more in --json and on the Backtests page)")

    # A sweep --------------------------------------------------------------------------------------
    def _grid(self, spec: StrategySpec, run: RunSettings, options):
        axes = grid.parse_grid(options["grid"], spec.type)
        cells = grid.combinations(spec, axes)
        data = load_candles(run.symbol, run.start, run.end, source=run.source, warmup=max(
            (warmup_for(cell.spec) for cell in cells if cell.spec), default=warmup_for(spec)))
        with progress_bar(self, total=len(cells), desc="grid", unit="run", leave=False) as bar:
            results = grid.run_grid(cells, replace(run, use_ai=False), data, workers=options["workers"],
                                    on_done=lambda done, total: bar.update(1))
        ordered = grid.ranked(results, options["rank"])
        if options["json"]:
            self.stdout.write(json.dumps([{"settings": r.values, "metrics": r.metrics, "error": r.error}
                                          for r in ordered], indent=2))
            return
        self.stdout.write(f"{len(cells)} combinations of {', '.join(axes)} on {run.symbol} {spec.timeframe}m, "
                          f"{data.start:%Y-%m-%d} to {data.end:%Y-%m-%d}, ranked by {options['rank']}")
        rows = []
        for rank, result in enumerate(ordered, start=1):
            m = result.metrics
            if m is None:
                rows.append((str(rank), *(result.values[k] for k in axes), "", "", "", "", "", "",
                             f"not run: {result.error}"))
                continue
            rows.append((str(rank), *(result.values[k] for k in axes), f"{Decimal(m['total_return_pct']):.2f}",
                         str(m["trades"]), _two(m["win_rate_pct"]), _two(m["profit_factor"]),
                         f"{m['max_drawdown_pct']:.2f}", "-" if m["sharpe"] is None else f"{m['sharpe']:.2f}", ""))
        figures = len(axes) + 1  # the columns after the rank and the settings
        # A run that failed says why in the last column, which leaves the figures' columns narrow.
        print_table(self.stdout, ("rank", *axes, "return %", "trades", "win %", "PF", "max DD %", "Sharpe", ""), rows,
                    right={0, *range(figures, figures + 6)})


def _two(value) -> str:
    return "-" if value is None else f"{Decimal(value):.2f}"


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)
