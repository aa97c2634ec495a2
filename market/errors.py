"""Typed exchange errors, carrying the exchange's own message and code.

The API maps them to HTTP answers (``core.api.exception_handler``): ``InvalidOrderError`` is the
caller's mistake (400), everything else the exchange's answer or absence (502).
"""

from __future__ import annotations

from collections.abc import Callable


def _unchanged(text: str) -> str:
    return text


# The platform installs its secret masking here at start-up (core.apps): this floor cannot read the settings'
# secrets, yet every exchange message must be masked once, where the error is made (see ExchangeError).
_scrub: Callable[[str], str] = _unchanged


def scrub_messages_with(scrub: Callable[[str], str]) -> None:
    """Mask every later error message with ``scrub`` (the platform's ``redact``)."""
    global _scrub
    _scrub = scrub


class ExchangeError(Exception):
    """Anything the exchange (real or paper) refused or failed to answer."""

    http_status = 502

    def __init__(self, message: str, *, ret_code: int | None = None):
        # Masked once, here: Bybit's signature refusal echoes the signed string (API key included), and the
        # message goes on to logs, API answers, stored decisions and the dashboard.
        message = _scrub(message)
        super().__init__(message)
        self.message = message
        self.ret_code = ret_code

    def __str__(self) -> str:
        return f"{self.message} (retCode {self.ret_code})" if self.ret_code is not None else self.message


class TemporaryError(ExchangeError):
    """A failure worth retrying for idempotent calls: 5xx, timeouts, dropped connections."""


class RateLimitedError(TemporaryError):
    """retCode 10006, HTTP 429, or HTTP 403 with rate-limit headers."""

    def __init__(self, message: str, *, ret_code: int | None = None, retry_after: float | None = None):
        super().__init__(message, ret_code=ret_code)
        self.retry_after = retry_after


class AuthenticationError(ExchangeError):
    """Keys missing, wrong, expired, or without the needed permission."""


class OrderRejectedError(ExchangeError):
    """The exchange received the order and refused it (insufficient balance, bad price, ...)."""


class InvalidOrderError(ExchangeError):
    """Refused before sending: the order breaks the instrument's rules (below min qty, bad side, ...)."""

    http_status = 400


class OrderNotFoundError(ExchangeError):
    """No order with this id or orderLinkId exists on the exchange."""

    http_status = 404


class OrderStateUnknownError(TemporaryError):
    """An order was sent, its answer was lost, and looking it up by orderLinkId did not settle it yet.

    Never re-send: the reconciler resolves it later by the same orderLinkId.
    """

    def __init__(self, message: str, *, order_link_id: str, ret_code: int | None = None):
        super().__init__(message, ret_code=ret_code)
        self.order_link_id = order_link_id
