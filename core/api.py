"""Shared DRF plumbing: one exception handler so every error answers with a message a person reads, and a JSON
parser that answers every unreadable body with 400."""

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import parsers, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from core.errors import Refused, TooMany
from core.unavailable import REDIS_UNREACHABLE, RETRY_AFTER_SECONDS, redis_down_body, redis_down_reason
from market.errors import ExchangeError

logger = logging.getLogger(__name__)


class JSONParser(parsers.JSONParser):
    """DRF's, except that a body nested deeper than Python's json module can read is a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None


def exception_handler(exc, context):
    if isinstance(exc, Refused):
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooMany) else None
        return Response(exc.body(), status=exc.status, headers=headers)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ExchangeError):
        logger.warning("exchange error answered to API client: %s", exc)
        body = {"detail": str(exc), "exchange_error": type(exc).__name__}
        if exc.ret_code is not None:
            body["ret_code"] = exc.ret_code
        return Response(body, status=exc.http_status)
    if isinstance(exc, REDIS_UNREACHABLE):  # e.g. the order rate limit cannot count: refuse the write, say why
        set_rollback()
        reason = redis_down_reason(exc, context["request"])
        return Response(redis_down_body(reason), status=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return drf_exception_handler(exc, context)
