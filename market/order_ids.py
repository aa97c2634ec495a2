"""Deterministic client order ids (Bybit ``orderLinkId``: at most 36 chars of ``[A-Za-z0-9_-]``).

The same decision (strategy, symbol, signal candle, action) always yields the same id, so a
re-run, a retried task or a second cycle racing the first cannot open a second position: the
database refuses the second Trade row and the exchange refuses the second order.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

MAX_LENGTH = 36
VALID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


def entry_order_link_id(strategy_id: int, symbol: str, candle_time: datetime, action: str) -> str:
    """``tb-<strategy>-<symbol>-<candle minute>-<L|S>``; a long symbol is replaced by a short hash."""
    minute = int(candle_time.timestamp()) // 60
    code = {"LONG": "L", "SHORT": "S"}[action]
    link_id = f"tb-{strategy_id}-{symbol}-{minute}-{code}"
    if len(link_id) > MAX_LENGTH:
        link_id = f"tb-{strategy_id}-{hashlib.sha1(symbol.encode()).hexdigest()[:8]}-{minute}-{code}"
    if len(link_id) > MAX_LENGTH:
        raise ValueError(f"strategy id {strategy_id} is too long for an orderLinkId")
    return link_id


def exit_order_link_id(trade_id: int, attempt: int = 0) -> str:
    """One closing order per trade: a second close request reuses the id and is refused, not doubled.

    ``attempt`` numbers a resend of a close proven not to have reached the exchange (``tb-x-<trade>-r1``)."""
    return f"tb-x-{trade_id}" + (f"-r{attempt}" if attempt else "")


def is_valid(link_id: str) -> bool:
    return bool(VALID.match(link_id))
