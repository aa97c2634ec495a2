"""What the bot answers in a chat: a ``Reply`` (Telegram HTML) and the pieces it is made of, pure functions.

A phone shows about 32 monospace characters a line, so tables are drawn in ``<pre>`` with columns sized to their
content and the widest text column cut to fit. Figures follow the dashboard's rule through the notifications'
helpers (``number`` for prices and sizes, two decimals for money).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from core.notifications.messages import number

WIDTH = 32
SUMMARY_LIMIT = 500
# Telegram refuses a message longer than this, counted after the HTML is parsed (tags do not count, entities do
# as one character): https://core.telegram.org/bots/api#sendmessage
MESSAGE_LIMIT = 4096


@dataclass(frozen=True)
class Reply:
    text: str  # Telegram HTML
    outcome: str = "done"  # ChatCommand.Outcome
    buttons: tuple[tuple[str, str], ...] = ()  # (label, callback data), one row
    toast: str = ""  # the short answer to a button tap
    edit: bool = True  # for a button: replace the question's text with ``text``

    @property
    def summary(self) -> str:
        """The reply as plain text, shortened, for the audit row."""
        plain = html.unescape(re.sub(r"<[^>]+>", "", self.text or self.toast))
        return plain if len(plain) <= SUMMARY_LIMIT else plain[: SUMMARY_LIMIT - 1] + "…"


def visible_length(text: str) -> int:
    """What Telegram counts of a message: its text with the tags taken out and the entities read."""
    return len(html.unescape(re.sub(r"<[^>]+>", "", text)))


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """``text`` (Telegram HTML) as one or more messages of at most ``limit`` visible characters, cut between lines.

    A table cut in two is closed at the cut and opened again at the top of the next message, so every part is HTML
    Telegram accepts: the replies keep every tag but ``<pre>`` (``pre``, ``table``) within one line, so ``<pre>`` is
    all a cut has to carry over. A single line longer than a message (none is: tables are phone-width) is cut inside
    its text.
    """
    if visible_length(text) <= limit:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    used, in_pre = 0, False

    def cut() -> None:
        nonlocal current, used
        if current:
            parts.append("\n".join(current) + ("</pre>" if in_pre else ""))
        current, used = [], 0

    for line in text.split("\n"):
        opens, closes = line.count("<pre>"), line.count("</pre>")
        room = limit - 1  # the newline before the next line counts too
        if visible_length(line) > room:
            plain = html.unescape(re.sub(r"<[^>]+>", "", line))
            cut()
            while len(plain) > room:
                parts.append(esc(plain[:room]))
                plain = plain[room:]
            line = esc(plain)
        size = visible_length(line) + 1
        if current and used + size > limit:
            cut()
        if not current and in_pre and opens <= closes and not line.startswith("<pre>"):
            line = "<pre>" + line  # the table goes on in this message
        current.append(line)
        used += size
        if opens != closes:
            in_pre = opens > closes
    cut()
    return parts


def esc(value) -> str:
    return html.escape(str(value), quote=False)


def bold(value) -> str:
    return f"<b>{esc(value)}</b>"


def pre(lines: Sequence[str]) -> str:
    return f"<pre>{esc(chr(10).join(lines))}</pre>"


def table(columns: Sequence[str], rows: Sequence[Sequence[object]], *, right: Sequence[int] = (),
          width: int = WIDTH) -> str:
    """``rows`` under ``columns`` as a monospace table; the widest left-aligned column is cut so a line fits
    ``width`` (numbers, right-aligned, are never cut)."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(text) for text in column) for column in zip(columns, *cells, strict=True)]
    excess = sum(widths) + len(widths) - 1 - width
    cuttable = [index for index in range(len(widths)) if index not in right]
    if excess > 0 and cuttable:
        widest = max(cuttable, key=lambda index: widths[index])
        widths[widest] = max(widths[widest] - excess, 4)

    def line(values: Sequence[str]) -> str:
        fitted = [_fit(value, widths[i]).rjust(widths[i]) if i in right else _fit(value, widths[i]).ljust(widths[i])
                  for i, value in enumerate(values)]
        return " ".join(fitted).rstrip()

    return pre([line(columns), *(line(row) for row in cells)])


def pairs(rows: Sequence[tuple[str, object]], *, width: int = WIDTH) -> str:
    """Label / value lines, values right-aligned: a small report card."""
    label_width = max(len(label) for label, _ in rows)
    return pre([f"{label:<{label_width}} {str(value):>{max(width - label_width - 1, 1)}}" for label, value in rows])


def money(value: Decimal | None) -> str:
    """Signed, two decimals, no unit (the heading says USDT): "+12.30", "-4.05", "0.00"; "-" when unknown."""
    if value is None:
        return "-"
    amount = Decimal(value).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return f"+{amount}" if amount > 0 else f"{amount}"


def plain_money(value: Decimal | None) -> str:
    return "-" if value is None else f"{Decimal(value).quantize(Decimal('0.01'), ROUND_HALF_UP)}"


def percent(value: Decimal | None) -> str:
    return "-" if value is None else f"{Decimal(value).quantize(Decimal('0.01'), ROUND_HALF_UP)}%"


def side(value: str) -> str:
    return {"Buy": "long", "Sell": "short"}.get(value, value)


def size(value: Decimal | None) -> str:
    return number(value)


def local_time(moment: datetime | None, zone: str, *, with_date: bool = False) -> str:
    if moment is None:
        return "never"
    return moment.astimezone(ZoneInfo(zone)).strftime("%b %d %H:%M %Z" if with_date else "%H:%M:%S %Z")


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
