"""Webhooks: the notifications' events POSTed to any HTTP endpoint, signed, or to Discord.

The ``json`` preset sends ``{"event", "title", "text", "created_at", "context"}`` with

    X-Tradebot-Timestamp: <unix seconds>
    X-Tradebot-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the hook's secret>

so a receiver proves the message is ours and fresh (the timestamp is signed: an old message replayed is refused by
its age). ``verify`` is the receiver's side, the recipe docs/telegram.md shows. The ``discord`` preset posts
``{"content": "**title**\\ntext"}`` (Discord takes 2000 characters: a longer message is cut and says so).

``send_webhook`` returns (sent) or raises ``DeliveryError`` as the other transports do: 5xx, 429 and network
trouble are retried by the delivery task, any other answer is not. Reasons never carry the hook's URL (a Discord
URL holds a token) nor its secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from urllib.parse import urlsplit

import requests

from core.logs import redact
from core.notifications.models import Webhook
from core.notifications.transports import REASON_LIMIT, DeliveryError

TIMEOUT_SECONDS = 10
DISCORD_LIMIT = 2000
DISCORD_CUT_NOTE = "\n… (cut: Discord takes at most 2000 characters)"
SIGNATURE_HEADER = "X-Tradebot-Signature"
TIMESTAMP_HEADER = "X-Tradebot-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signed: str, *, now: float | None = None,
           tolerance: int = 300) -> bool:
    """The receiver's check: the signature matches and the timestamp is at most ``tolerance`` seconds old."""
    if not timestamp.isdigit() or abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), signed)


def request_for(hook: Webhook, *, key: str, event: str, title: str, text: str, created_at: str, context: dict,
                now: float | None = None) -> tuple[bytes, dict]:
    """The body and headers ``hook`` gets for one message (signed at send time: each attempt is fresh)."""
    if hook.preset == Webhook.Preset.DISCORD:
        payload = {"content": discord_content(title, text), "allowed_mentions": {"parse": []}}
    else:
        payload = {"event": event, "title": title, "text": text, "created_at": created_at, "context": context}
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = str(int(time.time() if now is None else now))
    headers = {"Content-Type": "application/json", "User-Agent": "tradebot-webhook/1", "X-Tradebot-Event": event,
               "X-Tradebot-Delivery": key, TIMESTAMP_HEADER: timestamp,
               SIGNATURE_HEADER: signature(hook.secret, timestamp, body)}
    return body, headers


def discord_content(title: str, text: str) -> str:
    content = f"**{title}**\n{text}".strip()
    if len(content) <= DISCORD_LIMIT:
        return content
    return content[: DISCORD_LIMIT - len(DISCORD_CUT_NOTE)].rstrip() + DISCORD_CUT_NOTE


def send_webhook(hook: Webhook, **message) -> None:
    """POST one message to ``hook``; ``message`` is ``request_for``'s keyword arguments."""
    body, headers = request_for(hook, **message)
    try:
        response = requests.post(hook.url, data=body, headers=headers, timeout=TIMEOUT_SECONDS,
                                 allow_redirects=False)
    except requests.Timeout:
        raise DeliveryError(f"webhook {hook.name} did not answer within {TIMEOUT_SECONDS} s") from None
    except requests.RequestException as error:
        # `from None` and the URL masked: requests names the URL, and a Discord URL holds its token.
        raise DeliveryError(f"cannot reach webhook {hook.name}: {_scrub(str(error), hook)}") from None
    status = response.status_code
    if 200 <= status < 300:
        return
    reason = f"webhook {hook.name} answered HTTP {status}: {_scrub(response.text[:200] or response.reason, hook)}"
    if status == 429:
        raise DeliveryError(reason, retry_after=_retry_after(response))
    if 300 <= status < 400:
        raise DeliveryError(f"{reason} (redirects are not followed: set the final URL)", retryable=False)
    raise DeliveryError(reason, retryable=status >= 500)  # a 4xx will not change by trying again


def _scrub(text: str, hook: Webhook) -> str:
    """``text`` without the hook's URL, nor its path alone (requests names either), nor the secret."""
    text = str(text).replace(hook.url, "<url>").replace(hook.secret, "***")
    path = urlsplit(hook.url)._replace(scheme="", netloc="").geturl()
    if len(path) > 1:
        text = text.replace(path, "<url>")
    text = redact(" ".join(text.split()))
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


def _retry_after(response) -> int | None:
    """Discord says how long in the body's ``retry_after`` (seconds, a float); others in the Retry-After header."""
    try:
        value = response.json().get("retry_after")
    except (ValueError, AttributeError):
        value = None
    value = value if value is not None else response.headers.get("Retry-After")
    try:
        return max(math.ceil(float(value)), 0)
    except (TypeError, ValueError):
        return None
