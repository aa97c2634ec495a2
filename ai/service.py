"""AI confirmation: ask an OpenAI-compatible model whether to take a signal, and remember the answer.

``AIService.decide`` returns an ``AIDecision`` or raises ``AIUnavailable`` with a reason a person can
read; the cycle then skips the trade, it never trades on a guess. Every question is recorded as one
``AICall`` (model, prompt version, latency, tokens, cost, status); a valid answer doubles as the cache,
so the same strategy, symbol, timeframe and candle is never asked twice. What the answer means for the
signal is ``ai.verdict``'s; what it cost, ``ai.pricing``'s.

Retries are the openai SDK's own, the only layer: the client runs with ``max_retries``
(``OPENAI_MAX_RETRIES``) and retries rate limits (waiting the server's ``retry-after-ms`` or
``Retry-After``; one beyond two minutes is not waited for, the trade is skipped now rather than late),
408/409/5xx answers, timeouts and dropped connections with exponential backoff. What still fails is
recorded and reported. A malformed answer is a 200: it is not retried, it is recorded as invalid.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import openai
import pandas as pd
from django.conf import settings
from django.db import IntegrityError, transaction

from ai.models import AICall
from ai.pricing import cost_usd
from ai.prompt import (
    PROMPT_VERSION,
    RESPONSE_FORMAT,
    MalformedAnswer,
    load_template,
    parse_decision,
    render_messages,
)
from ai.verdict import AIDecision

logger = logging.getLogger(__name__)

NO_KEY_REASON = "AI confirmation is off: OPENAI_API_KEY is not set; strategies that require it do not trade."
MICRO_USD = Decimal("0.000001")  # AICall.cost_usd's precision


class AIUnavailable(Exception):
    """No usable answer: no key, the call failed after its retries, or the answer was malformed."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class AIService:
    def __init__(self, *, client: openai.OpenAI | None, model: str, prompt_version: str = PROMPT_VERSION,
                 clock: Callable[[], float] = time.monotonic, max_retries: int | None = None,
                 timeout: float | None = None, price_input_per_mtok: Decimal | None = None,
                 price_output_per_mtok: Decimal | None = None):
        # The SDK's retries are the only ones, at our count whatever the client was built with.
        self.max_retries = settings.OPENAI_MAX_RETRIES if max_retries is None else max_retries
        options = {"max_retries": self.max_retries} | ({} if timeout is None else {"timeout": timeout})
        self.client = client.with_options(**options) if client is not None else None
        self.model = model
        self.prompt_version = prompt_version
        load_template(prompt_version)  # a missing template fails here, not on the first signal
        self.clock = clock
        self.price_input = Decimal(settings.OPENAI_PRICE_INPUT_PER_MTOK if price_input_per_mtok is None
                                   else price_input_per_mtok)
        self.price_output = Decimal(settings.OPENAI_PRICE_OUTPUT_PER_MTOK if price_output_per_mtok is None
                                    else price_output_per_mtok)

    def decide(self, *, strategy, symbol: str, timeframe: str, candle_time: datetime, price: Decimal,
               indicators: dict, recent_candles: pd.DataFrame) -> AIDecision:
        if self.client is None:
            raise AIUnavailable(NO_KEY_REASON)
        key = {"strategy": strategy, "symbol": symbol, "timeframe": timeframe, "candle_time": candle_time}
        log = {"strategy": getattr(strategy, "name", None), "symbol": symbol, "candle_time": candle_time.isoformat()}
        cached = self.cached_decision(**key)
        if cached is not None:
            return cached
        messages = render_messages(version=self.prompt_version, strategy_type=getattr(strategy, "type", ""),
                                   symbol=symbol, timeframe=timeframe, candle_time=candle_time, price=price,
                                   indicators=indicators, recent_candles=recent_candles)
        started = self.clock()
        try:
            raw = self.client.chat.completions.with_raw_response.create(
                model=self.model, messages=messages, response_format=RESPONSE_FORMAT)
            completion = raw.parse()
        except openai.OpenAIError as error:
            reason = f"the AI call failed: {_describe(error)}"
            self._record(key, self._since(started), status=AICall.Status.ERROR, error=reason)
            logger.warning("AI call failed", extra={**log, "error": reason})
            raise AIUnavailable(reason) from error
        latency_ms = self._since(started)
        usage = _usage(completion)
        try:
            answer = _parse(completion)
        except MalformedAnswer as error:
            reason = f"the AI answer was rejected: {error}"
            content = completion.choices[0].message.content if completion.choices else None
            self._record(key, latency_ms, status=AICall.Status.INVALID, usage=usage,
                         error=f"{reason}\nanswer: {(content or '')[:1000]}")
            logger.warning("AI answer rejected", extra={**log, "error": str(error)})
            raise AIUnavailable(reason) from None
        try:
            with transaction.atomic():
                self._record(key, latency_ms, status=AICall.Status.OK, usage=usage, **answer)
        except IntegrityError:  # another worker stored an answer for this candle first: use that one
            logger.info("AI answer for this candle already stored; using it", extra=log)
            winner = self.cached_decision(**key)
            if winner is not None:
                return winner
            raise
        # The SDK logs its retries on the "openai" logger, quiet below WARNING: say here how many it took.
        logger.info("AI decision", extra={**log, "action": answer["action"], "confidence": answer["confidence"],
                                           "latency_ms": latency_ms, "retries": raw.retries_taken})
        return AIDecision(**answer)

    def cached_decision(self, *, strategy, symbol: str, timeframe: str, candle_time: datetime) -> AIDecision | None:
        call = (AICall.objects.filter(strategy=strategy, symbol=symbol, timeframe=timeframe, candle_time=candle_time,
                                      status=AICall.Status.OK)
                .only("action", "confidence", "reasoning", "risk_level").first())
        if call is None:
            return None
        return AIDecision.from_call(call)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> Decimal:
        return cost_usd(prompt_tokens, completion_tokens, input_per_mtok=self.price_input,
                        output_per_mtok=self.price_output).quantize(MICRO_USD)

    def _since(self, started: float) -> int:
        return max(0, round((self.clock() - started) * 1000))

    def _record(self, key: dict, latency_ms: int, *, status: str, usage: tuple[int, int] = (0, 0),
                **fields) -> AICall:
        prompt_tokens, completion_tokens = usage
        return AICall.objects.create(
            **key, model=self.model, prompt_version=self.prompt_version, status=status, latency_ms=latency_ms,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            cost_usd=self.cost(prompt_tokens, completion_tokens), **fields)


def get_ai_service() -> AIService | None:
    """The service configured by the OPENAI_* settings, or None when no key is set."""
    if not settings.OPENAI_API_KEY:
        return None
    client = openai.OpenAI(api_key=settings.OPENAI_API_KEY, base_url=settings.OPENAI_BASE_URL,
                           timeout=settings.OPENAI_TIMEOUT, max_retries=settings.OPENAI_MAX_RETRIES)
    return AIService(client=client, model=settings.OPENAI_MODEL, prompt_version=PROMPT_VERSION)


def ai_unavailable_reason() -> str | None:
    """Why strategies that require AI confirmation cannot trade now, or None when they can."""
    return None if settings.OPENAI_API_KEY else NO_KEY_REASON


def _parse(completion) -> dict:
    if not completion.choices:
        raise MalformedAnswer("the answer had no choices")
    choice = completion.choices[0]
    return parse_decision(choice.message.content, finish_reason=choice.finish_reason,
                          refusal=getattr(choice.message, "refusal", None))


def _usage(completion) -> tuple[int, int]:
    usage = getattr(completion, "usage", None)
    if usage is None:
        return 0, 0
    return int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0)


def _describe(error: openai.OpenAIError) -> str:
    if isinstance(error, openai.APITimeoutError):
        return "the request timed out"
    if isinstance(error, openai.APIConnectionError):
        return "could not connect to the AI server"
    if isinstance(error, openai.APIStatusError):
        body = error.body if isinstance(error.body, dict) else {}
        detail = body.get("message") or (body.get("error") or {}).get("message") or error.message
        return f"HTTP {error.status_code} from the AI server: {_short(str(detail))}"
    return _short(str(error)) or type(error).__name__


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
