"""The chat commands: parsing, and one handler per command over the command layer, run as the chat's linked user.

A handler takes the user and the command's words and returns a ``Reply``, or raises the command layer's own
refusal (``core.errors``), which ``chat.conversation`` words for the chat; an exchange error is passed up the same way.
A command with an ``ask`` needs a tap on "Confirm" first: ``ask`` checks the words and says what will happen (None:
no question needed, e.g. pausing one strategy), and the handler runs, once, when the tap arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from chat import reports
from chat.replies import Reply, bold, esc, money, side, size
from core.errors import Conflict, Invalid, NotFound
from exchange.factory import get_exchange
from market.errors import ExchangeError
from strategies import services as strategy_commands
from strategies.models import Strategy
from trades import commands as trade_commands
from trades import entries
from trades.models import Trade


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    run: Callable[..., Reply]
    ask: Callable[..., str | None] | None = None


def parse(text: str) -> tuple[str, list[str]]:
    """"/Pause@tradebot_bot  BTC scalper" -> ("pause", ["BTC", "scalper"])."""
    words = text.split()
    if not words or not words[0].startswith("/") or len(words[0]) < 2:
        raise Invalid("Commands start with /. Send /help for the list.")
    return words[0][1:].split("@", 1)[0].lower(), words[1:]


def find(name: str) -> Command:
    command = COMMANDS.get(ALIASES.get(name, name))
    if command is None:
        raise Invalid(f"Unknown command /{name}. Send /help for the list.")
    return command


# Reads ----------------------------------------------------------------------------------------------

def _help(user, args) -> Reply:
    lines = [bold("tradebot commands")]
    lines += [f"{esc(command.usage)} \u2014 {esc(command.summary)}" for command in COMMANDS.values()]
    lines.append("Closing, stopping entries and pausing all ask you to confirm first.")
    return Reply("\n".join(lines))


def _count(args: list[str], usage: str, *, default: int | None, maximum: int) -> int | None:
    if not args:
        return default
    if len(args) > 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= maximum:
        raise Invalid(f"Usage: {usage}, with a whole number from 1 to {maximum}.")
    return int(args[0])


def _no_words(args: list[str], usage: str) -> None:
    if args:
        raise Invalid(f"Usage: {usage} (nothing after it).")


def _status(user, args) -> Reply:
    _no_words(args, "/status")
    return reports.status(get_exchange())


def _balance(user, args) -> Reply:
    _no_words(args, "/balance")
    return reports.balance(get_exchange())


def _profit(user, args) -> Reply:
    return reports.profit(_count(args, "/profit [days]", default=None, maximum=3650))


def _daily(user, args) -> Reply:
    return reports.daily(_count(args, "/daily [days]", default=7, maximum=31))


def _trades(user, args) -> Reply:
    return reports.recent_trades(_count(args, "/trades [count]", default=10, maximum=30))


def _performance(user, args) -> Reply:
    _no_words(args, "/performance")
    return reports.performance()


def _strategies(user, args) -> Reply:
    _no_words(args, "/strategies")
    return reports.strategies()


# Strategies: pause and resume -----------------------------------------------------------------------

def _named_strategies(args: list[str], usage: str, *, all_of) -> list[Strategy]:
    """The strategies ``args`` names: "all" (``all_of``), an id, or a name (any case, spaces allowed)."""
    if not args:
        raise Invalid(f"Usage: {usage}. /strategies lists them.")
    name = " ".join(args)
    if name.lower() == "all":
        return list(all_of.order_by("pk"))
    found = Strategy.objects.filter(pk=int(name)) if name.isdigit() else Strategy.objects.filter(name__iexact=name)
    strategy = found.first()
    if strategy is None:
        raise NotFound(f"There is no strategy {name!r}. /strategies lists them.")
    return [strategy]


def _ask_pause(user, args) -> str | None:
    if " ".join(args).lower() != "all":
        _named_strategies(args, "/pause <strategy|all>", all_of=Strategy.objects.none())  # a bad name answers now
        return None
    active = _active_unpaused()
    if not active:
        raise Conflict("No active strategy is running: nothing to pause.")
    return (f"Pause all {len(active)} running strateg{'y' if len(active) == 1 else 'ies'} "
            f"({esc(', '.join(strategy.name for strategy in active))}) until /resume? Open trades keep their stops.")


def _pause(user, args) -> Reply:
    targets = _named_strategies(args, "/pause <strategy|all>", all_of=Strategy.objects.filter(
        pk__in=[strategy.pk for strategy in _active_unpaused()]))
    reason = f"paused from Telegram by {user.get_username()}"
    paused = [strategy_commands.pause(user, strategy.pk, reason=reason).name for strategy in targets]
    if not paused:
        raise Conflict("No active strategy is running: nothing to pause.")
    return Reply(f"Paused: {esc(', '.join(paused))}. No new entries from "
                 f"{'it' if len(paused) == 1 else 'them'} until /resume; open trades keep their stops.")


def _resume(user, args) -> Reply:
    now = timezone.now()
    targets = _named_strategies(args, "/resume <strategy|all>", all_of=Strategy.objects.paused(now))
    waiting = [strategy for strategy in targets if strategy.is_paused(now)]
    if not waiting:
        raise Conflict(f"{targets[0].name if len(targets) == 1 else 'No strategy'} is not paused.")
    resumed = [strategy_commands.resume(user, strategy.pk).name for strategy in waiting]
    return Reply(f"Resumed: {esc(', '.join(resumed))}. New entries from the next cycle"
                 + ("" if all(strategy.is_active for strategy in waiting) else " (inactive ones stay off)") + ".")


def _active_unpaused() -> list[Strategy]:
    now = timezone.now()
    return [strategy for strategy in Strategy.objects.filter(is_active=True).order_by("pk")
            if not strategy.is_paused(now)]


# The entry switch -----------------------------------------------------------------------------------

def _ask_stop_entries(user, args) -> str:
    return ("Stop ALL new entries? Open trades stay managed (stop-loss, take-profit, exits). "
            "/startentry allows entries again.")


def _stop_entries(user, args) -> Reply:
    entries.stop_entries(user, " ".join(args) or "from Telegram")
    return Reply("New entries stopped: the next cycle opens nothing. Open trades keep their stop-loss and "
                 "take-profit. /startentry allows entries again.")


def _start_entries(user, args) -> Reply:
    _no_words(args, "/startentry")
    was = entries.entries_stopped()
    entries.start_entries(user)
    return Reply("New entries allowed again from the next cycle." if was else "New entries were already allowed.")


# Force exit -----------------------------------------------------------------------------------------

def _trades_to_close(args: list[str]) -> list[Trade]:
    if len(args) != 1 or not (args[0].isdigit() or args[0].lower() == "all"):
        raise Invalid("Usage: /forceexit <trade #|all>. /status lists the open trades.")
    if args[0].lower() == "all":
        trades = list(Trade.objects.open().order_by("pk"))
        if not trades:
            raise Conflict("There is no open trade to close.")
        return trades
    trade = Trade.objects.filter(pk=int(args[0])).first()
    if trade is None:
        raise NotFound(f"There is no trade {args[0]}.")
    if trade.status != "open":
        raise Conflict(f"Trade {trade.pk} is {trade.status}; only an open trade can be closed.")
    return [trade]


def _ask_forceexit(user, args) -> str:
    trades = _trades_to_close(args)
    if args[0].lower() != "all":
        trade = trades[0]
        return (f"Close trade #{trade.pk}, {side(trade.side)} {size(trade.quantity)} {esc(trade.symbol)} "
                f"(entry {size(trade.price)}), at market?")
    return (f"Close ALL {len(trades)} open trade{'s' if len(trades) != 1 else ''} "
            f"({esc(', '.join(trade.symbol for trade in trades))}) at market?")


def _forceexit(user, args) -> Reply:
    exchange = get_exchange()
    ids = [trade.pk for trade in _trades_to_close(args)] if args[0].lower() == "all" else [int(args[0])]
    lines, failed = [], 0
    for trade_id in ids:
        try:
            result = trade_commands.close_trade(user, trade_id, exchange=exchange, reason="closed from Telegram")
        except (Conflict, NotFound, ExchangeError) as problem:
            if len(ids) == 1:
                raise  # one trade: the refusal is the answer
            failed += 1
            lines.append(f"#{trade_id}: not closed: {esc(getattr(problem, 'message', problem))}")
            continue
        trade = Trade.objects.get(pk=trade_id)
        if trade.status == "closed":
            lines.append(f"#{trade.pk} {esc(trade.symbol)} closed at {size(trade.exit_price)}, "
                         f"PnL {money(trade.realized_pnl)} USDT")
        else:
            failed += 1
            lines.append(f"#{trade.pk} {esc(trade.symbol)}: {esc(result.detail or trade.status)}")
    return Reply("\n".join(lines), outcome="error" if failed else "done")


COMMANDS: dict[str, Command] = {command.name: command for command in (
    Command("status", "/status", "open trades with unrealized PnL, pending orders, bot state", _status),
    Command("balance", "/balance", "equity, wallet, available margin", _balance),
    Command("profit", "/profit [days]", "closed-trade totals, all time or the last days", _profit),
    Command("daily", "/daily [days]", "realized PnL per day (7 by default)", _daily),
    Command("trades", "/trades [count]", "the last closed trades (10 by default)", _trades),
    Command("performance", "/performance", "PnL per symbol", _performance),
    Command("strategies", "/strategies", "each strategy and whether it runs", _strategies),
    Command("pause", "/pause <strategy|all>", "no new entries from a strategy", _pause, ask=_ask_pause),
    Command("resume", "/resume <strategy|all>", "lift a pause", _resume),
    Command("stopentry", "/stopentry [reason]", "no new entries at all; open trades stay managed", _stop_entries,
            ask=_ask_stop_entries),
    Command("startentry", "/startentry", "allow new entries again", _start_entries),
    Command("forceexit", "/forceexit <trade #|all>", "close at market", _forceexit, ask=_ask_forceexit),
    Command("help", "/help", "this list", _help),
)}
ALIASES = {"start": "help"}  # Telegram sends /start when a person opens the chat
