"""Redis unreachable: which errors mean it, and what a person is told.

Redis is the cache (order rate limit, login lockout), the channel layer (live events) and the Celery broker. A
request that needs it while it is down answers 503 with the reason below and a ``Retry-After``, never a 500:
``core.api.exception_handler`` for the API, ``core.middleware.RedisUnavailableMiddleware`` for pages. Sign-in
and live events do not need it: they log and go on (``core.security.LoginLockout``, ``core.events``).
"""

from __future__ import annotations

import logging

import redis.exceptions
from kombu.exceptions import OperationalError as BrokerUnreachable

logger = logging.getLogger(__name__)

# redis-py raises these when the server is down, refuses or does not answer in time (its AuthenticationError and
# BusyLoadingError are ConnectionErrors too); Django's RedisCache and channels_redis let them through unwrapped.
# Kombu wraps the same failures of the Celery broker, which is Redis as well.
REDIS_UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, BrokerUnreachable)

RETRY_AFTER_SECONDS = 30


def redis_down_reason(error: BaseException, request) -> str:
    """Log the failure (one warning line, no traceback: the cause is known) and return what the caller is told."""
    logger.warning("Redis unreachable, answered 503: %s: %s", type(error).__name__, error,
                   extra={"path": request.path, "method": request.method})
    return f"Redis (the cache) is not reachable: {str(error).rstrip('.')}; try again when it is back."


def redis_down_body(reason: str) -> dict:
    return {"detail": reason, "unavailable": "redis"}
