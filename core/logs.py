"""Log lines a person and a machine can both read, with no secret in them.

``StructuredFormatter`` appends every ``extra={...}`` field as ``key=value`` (or emits one JSON
object per line), so trade lines carry strategy, symbol and order_link_id. ``redact`` masks
every configured secret value and token-shaped URL parts wherever text leaves the process.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

_STANDARD_ATTRS = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime",
                                                                                     "taskName"}
# Telegram puts the token in the URL path (/bot<token>/sendMessage); Bybit signs with api_key fields.
_TOKEN_PATTERNS = [
    (re.compile(r"/bot[0-9]+:[A-Za-z0-9_-]+"), "/bot***"),
    (re.compile(r"(?i)(api[_-]?key|api[_-]?secret|x-bapi-api-key|x-bapi-sign|authorization)"
                r"(['\"]?\s*[:=]\s*['\"]?)(?:Bearer |Token )?[A-Za-z0-9._\-]{6,}"), r"\1\2***"),
]


def _secret_values() -> list[str]:
    try:
        from django.conf import settings

        return list(getattr(settings, "SECRET_VALUES", []))
    except Exception:  # settings not configured yet (very early start-up)
        return []


def redact(text: str) -> str:
    if not text:
        return text
    for value in _secret_values():
        if value in text:
            text = text.replace(value, "***")
    for pattern, replacement in _TOKEN_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class StructuredFormatter(logging.Formatter):
    def __init__(self, fmt: str = "text", **kwargs):
        super().__init__()
        self.json = fmt == "json"

    def format(self, record: logging.LogRecord) -> str:
        fields = {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRS}
        timestamp = datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if self.json:
            payload = {"time": timestamp, "level": record.levelname, "logger": record.name, "message": message}
            payload.update({key: _jsonable(value) for key, value in fields.items()})
            if record.exc_text:
                payload["exception"] = record.exc_text
            return redact(json.dumps(payload, default=str))
        line = f"{timestamp} {record.levelname:<7} {record.name}: {message}"
        if fields:
            line += " " + " ".join(f"{key}={_quote(value)}" for key, value in fields.items())
        if record.exc_text:
            line += "\n" + record.exc_text
        return redact(line)


def _jsonable(value):
    return value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else str(value)


def _quote(value) -> str:
    text = str(value)
    return f'"{text}"' if (" " in text or not text) else text
