"""Why a change a person asked for was not made: plain domain errors with a message for that person and the HTTP
status that fits, raised by the command layer (``trades.commands``) and answered by every front end the same way
(the API's exception handler, the pages, the CLI, chat)."""

from __future__ import annotations


class Refused(Exception):
    """Nothing was changed, and ``message`` says why. ``field`` names the input at fault, when one is."""

    status = 409

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> dict:
        """The API's answer: ``{"detail": ...}``, or ``{field: [...]}`` like a serializer's field error."""
        return {self.field: [self.message]} if self.field else {"detail": self.message}


class Invalid(Refused):
    """The request itself is wrong (a value out of range, a symbol the market data cannot serve)."""

    status = 400


class Forbidden(Refused):
    """This person may not do this: a missing permission, the live trading switch, their own order limit."""

    status = 403


class NotFound(Refused):
    status = 404


class Conflict(Refused):
    """Valid, but the object's state forbids it now (closing a pending trade, a second trade on a symbol)."""

    status = 409


class TooMany(Refused):
    """The person's order rate limit: try again after ``retry_after`` seconds."""

    status = 429

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
