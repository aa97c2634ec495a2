"""What must hold between the database and the exchange after any fault, read from both sides directly
(the fake's state and the Trade table, never through the faulty wire).

- no duplicates: no orderLinkId was sent twice, and at most one opening order exists per strategy x
  symbol x signal candle;
- nothing lost: every order on the exchange has exactly one Trade row (an entry by ``order_link_id``, an
  exit by ``exit_order_link_id``), and a filled entry's row says so (open or closed, never failed);
- positions agree: every exchange position is exactly one open trade of the same side and size, and
  every open trade is a position;
- protected: every position carries a stop-loss on the exchange;
- balances reconcile: wallet = start + realized PnL of closed trades - fees of open trades.

"Agree" is all of that with no trade left pending: database and exchange tell the same story.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from trades.models import Trade, TradeStatus

# Fees and PnL are computed on both sides to more places than the 8 the database keeps.
BALANCE_TOLERANCE = Decimal("0.0001")


@dataclass
class Findings:
    duplicates: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    unprotected: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    orders: int = 0  # orders of the bot that exist on the exchange

    @property
    def safe(self) -> bool:
        """Nothing doubled, nothing lost (the assertion of every fault test)."""
        return not (self.duplicates or self.lost)

    @property
    def agree(self) -> bool:
        return self.safe and not (self.mismatches or self.unprotected or self.pending)

    def lines(self) -> list[str]:
        return [f"{kind}: {line}" for kind in ("duplicates", "lost", "mismatches", "unprotected", "pending")
                for line in getattr(self, kind)]


def check(fake, start_balance: Decimal) -> Findings:
    """Compare ``fake`` (a ``FakeBybit``) with the Trade table."""
    findings = Findings()
    with fake.state.lock:
        orders = [dict(order) for order in fake.state.orders.values()]
        positions = {symbol: (p.side, p.size, p.stop_loss) for symbol, p in fake.state.positions.items() if p.size}
        wallet = fake.state.wallet
    sent = Counter(body.get("orderLinkId") for body in fake.creates_sent() if body.get("orderLinkId"))
    trades = list(Trade.objects.all())
    by_entry = Counter(trade.order_link_id for trade in trades)
    by_exit = Counter(trade.exit_order_link_id for trade in trades if trade.exit_order_link_id)
    entries = {trade.order_link_id: trade for trade in trades}

    findings.duplicates += [f"orderLinkId {link} was sent {count} times" for link, count in sent.items() if count > 1]
    ours = [order for order in orders if order["orderLinkId"]]  # stop-loss/take-profit triggers have none
    findings.orders = len(ours)
    openings = Counter(_decision(order["orderLinkId"]) for order in ours if not order["reduceOnly"])
    findings.duplicates += [f"{count} opening orders for {key}" for key, count in openings.items() if count > 1]
    decisions = Counter((t.strategy_id, t.symbol, t.candle_time) for t in trades if t.strategy_id and t.candle_time)
    findings.duplicates += [f"{count} trades for {key}" for key, count in decisions.items() if count > 1]

    for order in ours:
        link = order["orderLinkId"]
        rows = by_entry[link] + by_exit[link]
        if rows != 1:
            findings.lost.append(f"order {link} ({order['orderStatus']}) has {rows} trade rows")
        elif link in entries and order["orderStatus"] == "Filled" and entries[link].status in (
                TradeStatus.FAILED, TradeStatus.CANCELLED):
            findings.lost.append(f"order {link} filled but its trade says {entries[link].status}: "
                                 f"{entries[link].status_reason}")

    open_trades = [trade for trade in trades if trade.status == TradeStatus.OPEN]
    for symbol, (side, size, stop_loss) in positions.items():
        matching = [t for t in open_trades if t.symbol == symbol and t.side == side and t.quantity == size]
        if len(matching) != 1 or len([t for t in open_trades if t.symbol == symbol]) != 1:
            findings.mismatches.append(f"position {symbol} {side} {size} matches {len(matching)} open trades")
        if stop_loss is None:
            findings.unprotected.append(f"position {symbol} {side} {size} has no stop-loss")
    findings.mismatches += [f"open trade {t.pk} {t.symbol} {t.quantity} has no position" for t in open_trades
                            if t.symbol not in positions]

    closed_pnl = sum((t.realized_pnl or Decimal("0") for t in trades if t.status == TradeStatus.CLOSED), Decimal("0"))
    open_fees = sum((t.fees or Decimal("0") for t in open_trades), Decimal("0"))
    expected = start_balance + closed_pnl - open_fees
    if abs(wallet - expected) > BALANCE_TOLERANCE * max(1, len(trades)):
        findings.mismatches.append(f"wallet {wallet} but the trades say {expected} (off by {wallet - expected})")

    findings.pending = [f"trade {t.pk} {t.order_link_id}: {t.status_reason}" for t in trades
                        if t.status == TradeStatus.PENDING]
    return findings


def _decision(link_id: str) -> str:
    """``tb-<strategy>-<symbol>-<candle minute>-<L|S>`` -> strategy, symbol and candle (the side left out:
    a LONG and a SHORT on the same candle would be two openings too)."""
    return link_id.rsplit("-", 1)[0] if link_id.startswith("tb-") else link_id
