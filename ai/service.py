"""AI confirmation: ask an OpenAI-compatible model whether to take a signal, and remember the answer.

``AIService.decide`` returns an ``AIDecision`` or raises ``AIUnavailable`` with a reason a person can
read; the cycle then skips the trade, it never trades on a guess. Every question is recorded as an
``AICall`` (model, prompt version, latency, tokens, cost, status); a valid answer doubles as the cache,
so the same strategy, symbol, timeframe and candle is never asked twice.

Retries live here, in one layer: the SDK client runs with ``max_retries=0`` and ``decide`` retries
rate limits (honouring Retry-After), 408/409/5xx answers, timeouts and dropped connections with
exponential backoff, at most ``max_retries`` times. A malformed answer is not retried: it is recorded
as invalid and reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import openai
import pandas as pd
from django.conf import settings
from django.db import IntegrityError, transaction

from ai.models import AICall
from ai.prompt import (
    PROMPT_VERSION,
    RESPONSE_FORMAT,
    MalformedAnswer,
    load_template,
    parse_decision,
    render_messages,
)

logger = logging.getLogger(__name__)

NO_KEY_REASON = "AI confirmation is off: OPENAI_API_KEY is not set; strategies that require it do not trade."
RETRYABLE_STATUS = {408, 409, 429}
MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class AIDecision:
    action: str  # LONG, SHORT or HOLD
    confidence: int  # 0..100
    reasoning: str
    risk_level: str  # LOW, MEDIUM or HIGH
    cached: bool = False


class AIUnavailable(Exception):
    """No usable answer: no key, the call failed after its retries, or the answer was malformed."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class AIService:
    def __init__(self, *, client: openai.OpenAI | None, model: str, prompt_version: str = PROMPT_VERSION,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 max_retries: int | None = None, backoff_base: float = 0.5, max_backoff: float = 8.0,
                 timeout: float | None = None, price_input_per_mtok: Decimal | None = None,
                 price_output_per_mtok: Decimal | None = None):
        # One retry layer: ours. The SDK would otherwise retry inside each of our attempts.
        options = {"max_retries": 0} if timeout is None else {"max_retries": 0, "timeout": timeout}
        self.client = client.with_options(**options) if client is not None else None
        self.model = model
        self.prompt_version = prompt_version
        load_template(prompt_version)  # a missing template fails here, not on the first signal
        self.clock = clock
        self.sleep = sleep
        self.max_retries = settings.OPENAI_MAX_RETRIES if max_retries is None else max_retries
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
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
            completion = self._ask(messages, log)
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
        logger.info("AI decision", extra={**log, "action": answer["action"], "confidence": answer["confidence"],
                                           "latency_ms": latency_ms})
        return AIDecision(**answer)

    def cached_decision(self, *, strategy, symbol: str, timeframe: str, candle_time: datetime) -> AIDecision | None:
        call = (AICall.objects.filter(strategy=strategy, symbol=symbol, timeframe=timeframe, candle_time=candle_time,
                                      status=AICall.Status.OK)
                .only("action", "confidence", "reasoning", "risk_level").first())
        if call is None:
            return None
        return AIDecision(action=call.action, confidence=call.confidence, reasoning=call.reasoning,
                          risk_level=call.risk_level, cached=True)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> Decimal:
        cost = (prompt_tokens * self.price_input + completion_tokens * self.price_output) / MILLION
        return cost.quantize(Decimal("0.000001"))

    def _ask(self, messages: list[dict], log: dict):
        for attempt in range(self.max_retries + 1):
            try:
                return self.client.chat.completions.create(model=self.model, messages=messages,
                                                           response_format=RESPONSE_FORMAT)
            except openai.OpenAIError as error:
                if attempt >= self.max_retries or not _retryable(error):
                    raise
                delay = self._backoff(attempt, error)
                logger.info("AI call will be retried", extra={**log, "attempt": attempt + 1, "delay_s": delay,
                                                              "error": _describe(error)})
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, error: openai.OpenAIError) -> float:
        """The server's Retry-After when it gives one, else base * 2^attempt; never above max_backoff."""
        response = getattr(error, "response", None)
        wanted = _retry_after(response.headers) if response is not None else None
        if wanted is None:
            wanted = self.backoff_base * 2 ** attempt
        return max(0.0, min(wanted, self.max_backoff))

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
                           timeout=settings.OPENAI_TIMEOUT, max_retries=0)
    return AIService(client=client, model=settings.OPENAI_MODEL, prompt_version=PROMPT_VERSION,
                     max_retries=settings.OPENAI_MAX_RETRIES)


def ai_unavailable_reason() -> str | None:
    """Why strategies that require AI confirmation cannot trade now, or None when they can."""
    return None if settings.OPENAI_API_KEY else NO_KEY_REASON


def _retryable(error: openai.OpenAIError) -> bool:
    if isinstance(error, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(error, openai.APIStatusError):
        return error.status_code in RETRYABLE_STATUS or error.status_code >= 500
    return False


def _retry_after(headers) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) * scale
        except ValueError:  # an HTTP date: fall back to our own backoff
            return None
    return None


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
