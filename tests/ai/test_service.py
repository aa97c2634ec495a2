"""AI confirmation through the real openai SDK against the loopback fake server.

Retries are the SDK's: these tests check what a person sees of them (how many requests reached the
server, the answer or the reason given up), with ``retry-after-ms: 1`` so a retry waits a millisecond.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from ai.models import AICall
from ai.service import AIDecision, AIService, AIUnavailable, ai_unavailable_reason, get_ai_service
from ai.usage import usage_between

pytestmark = pytest.mark.django_db

CANDLE = datetime(2026, 4, 1, 11, 35, tzinfo=UTC)
INDICATORS = {"rsi": 28.4, "ema_short": 70010.5, "ema_long": 70020.1, "macd": -3.2, "macd_signal": -4.1,
              "macd_hist": 0.9, "bb_upper": 70100.0, "bb_middle": 70030.0, "bb_lower": 69960.0, "stoch_k": 25.0,
              "stoch_d": 18.0, "atr": 35.5}


class FakeClock:
    """Monotonic seconds that advance a quarter second per reading: latency is 250 ms per call."""

    def __init__(self):
        self.now = 1000.0
        self.on_read = []

    def __call__(self):
        self.now += 0.25
        for action in self.on_read:
            action()
        return self.now


def recent_candles() -> pd.DataFrame:
    index = pd.date_range(end=CANDLE, periods=20, freq="5min", tz="UTC", name="start")
    closes = 70000 + np.arange(20, dtype="float64")
    return pd.DataFrame({"open": closes, "high": closes + 5, "low": closes - 5, "close": closes,
                         "volume": np.ones(20)}, index=index)


@pytest.fixture
def service(fake_openai):
    return AIService(client=fake_openai.client(), model="gpt-test", prompt_version="v1", clock=FakeClock(),
                     max_retries=2, price_input_per_mtok=Decimal("0.15"), price_output_per_mtok=Decimal("0.60"))


@pytest.fixture
def strategy(make_strategy):
    return make_strategy(name="ai-scalper", use_ai_confirmation=True)


def ask(service, strategy, *, candle_time=CANDLE, symbol="BTCUSDT"):
    return service.decide(strategy=strategy, symbol=symbol, timeframe="5", candle_time=candle_time,
                          price=Decimal("70019.0"), indicators=INDICATORS, recent_candles=recent_candles())


def test_a_valid_decision_round_trips_through_the_real_sdk(service, strategy, fake_openai):
    fake_openai.answer(action="SHORT", confidence=72, reasoning="Overbought at the upper band.", risk_level="HIGH")
    decision = ask(service, strategy)
    assert decision == AIDecision(action="SHORT", confidence=72, reasoning="Overbought at the upper band.",
                                  risk_level="HIGH", cached=False)
    [request] = fake_openai.completions
    assert request["model"] == "gpt-test"
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["schema"]["required"] == [
        "action", "confidence", "reasoning", "risk_level"]
    user = request["messages"][1]["content"]
    assert "Symbol: BTCUSDT" in user and "- rsi: 28.40" in user and "The last 20 closed candles" in user


def test_every_call_records_model_prompt_version_latency_tokens_and_cost(service, strategy):
    ask(service, strategy)
    call = AICall.objects.get()
    assert (call.strategy, call.symbol, call.timeframe, call.candle_time) == (strategy, "BTCUSDT", "5", CANDLE)
    assert (call.status, call.model, call.prompt_version) == ("ok", "gpt-test", "v1")
    assert (call.action, call.confidence, call.risk_level) == ("LONG", 80, "MEDIUM")
    assert call.reasoning.startswith("RSI recovered")
    assert (call.prompt_tokens, call.completion_tokens, call.latency_ms) == (812, 64, 250)
    assert call.cost_usd == Decimal("0.000160")  # (812 x 0.15 + 64 x 0.60) / 1e6 = 0.0001602
    day = usage_between(CANDLE - timedelta(days=3650), CANDLE + timedelta(days=3650))
    assert day == {"calls": 1, "prompt_tokens": 812, "completion_tokens": 64, "cost_usd": Decimal("0.000160")}


def test_the_same_candle_is_never_asked_twice(service, strategy, make_strategy, fake_openai):
    first = ask(service, strategy)
    fake_openai.answer(action="HOLD", confidence=10)
    again = ask(service, strategy)
    assert len(fake_openai.completions) == 1
    assert again == AIDecision(first.action, first.confidence, first.reasoning, first.risk_level, cached=True)
    assert ask(service, strategy, candle_time=CANDLE + timedelta(minutes=5)).action == "HOLD"
    assert ask(service, make_strategy(name="other"), candle_time=CANDLE).action == "HOLD"
    assert ask(service, strategy, symbol="ETHUSDT").action == "HOLD"
    assert len(fake_openai.completions) == 4
    assert AICall.objects.filter(status="ok").count() == 4


@pytest.mark.parametrize(("kind", "why"), [
    ("not_json", "the answer is not JSON"),
    ("confidence_250", "confidence 250 is outside 0-100"),
    ("unknown_action", "unknown action 'BUY'"),
    ("missing_field", "the answer lacks risk_level"),
])
def test_a_malformed_answer_is_rejected_recorded_as_invalid_and_not_cached(service, strategy, fake_openai, kind, why):
    fake_openai.malformed(kind)
    with pytest.raises(AIUnavailable) as error:
        ask(service, strategy)
    assert error.value.reason.startswith("the AI answer was rejected: ") and why in error.value.reason
    call = AICall.objects.get()
    assert call.status == "invalid" and why in call.error
    assert (call.action, call.confidence, call.prompt_tokens, call.completion_tokens) == ("", None, 812, 64)
    assert len(fake_openai.completions) == 1  # a malformed answer is not retried...
    assert ask(service, strategy).action == "LONG"  # ...and not cached: the next cycle asks again
    assert list(AICall.objects.order_by("id").values_list("status", flat=True)) == ["invalid", "ok"]


def test_rate_limits_are_retried_until_an_answer_comes(service, strategy, fake_openai):
    fake_openai.rate_limit(times=2, retry_after_ms="1")
    assert ask(service, strategy).action == "LONG"
    assert len(fake_openai.completions) == 3
    call = AICall.objects.get()  # one question, one row, however many requests it took
    assert (call.status, call.prompt_tokens) == ("ok", 812)


def test_a_rate_limit_waits_the_servers_retry_after(service, strategy, fake_openai):
    fake_openai.rate_limit(times=1, retry_after="0.6")  # longer than the SDK's own first backoff (at most 0.5 s)
    assert ask(service, strategy).action == "LONG"
    first, second = (request["at"] for request in fake_openai.requests)
    assert second - first >= 0.6


def test_server_errors_are_retried(service, strategy, fake_openai):
    fake_openai.fail(status=503, times=2, retry_after_ms="1")
    assert ask(service, strategy).confidence == 80
    assert len(fake_openai.completions) == 3


def test_a_retry_after_beyond_two_minutes_is_not_waited_for(service, strategy, fake_openai):
    fake_openai.rate_limit(times=1, retry_after="600")
    with pytest.raises(AIUnavailable, match="HTTP 429"):
        ask(service, strategy)  # the trade is skipped now rather than taken ten minutes late
    assert len(fake_openai.completions) == 1


def test_it_gives_up_after_its_retries_and_records_the_failure(service, strategy, fake_openai):
    fake_openai.rate_limit(times=3, retry_after_ms="1")
    with pytest.raises(AIUnavailable) as error:
        ask(service, strategy)
    assert error.value.reason == "the AI call failed: HTTP 429 from the AI server: Rate limit reached for requests"
    assert len(fake_openai.completions) == 3  # max_retries=2: the first request and two retries
    call = AICall.objects.get()
    assert (call.status, call.error, call.prompt_tokens, call.cost_usd) == ("error", error.value.reason, 0, 0)


def test_a_persistent_server_error_is_reported_after_the_retries(service, strategy, fake_openai):
    fake_openai.fail(status=500, times=3, retry_after_ms="1")
    with pytest.raises(AIUnavailable) as error:
        ask(service, strategy)
    assert error.value.reason == ("the AI call failed: HTTP 500 from the AI server: The server had an error while "
                                  "processing your request.")
    assert len(fake_openai.completions) == 3
    assert AICall.objects.get().status == "error"


def test_a_wrong_key_is_not_retried(fake_openai, strategy):
    service = AIService(client=fake_openai.client(api_key="sk-wrong"), model="gpt-test", prompt_version="v1",
                        max_retries=2)
    with pytest.raises(AIUnavailable, match="HTTP 401"):
        ask(service, strategy)
    assert len(fake_openai.completions) == 1


def test_a_slow_server_times_out_and_is_retried_then_reported(fake_openai, strategy):
    fake_openai.slow(5)
    service = AIService(client=fake_openai.client(), model="gpt-test", prompt_version="v1", max_retries=1,
                        timeout=0.2)
    with pytest.raises(AIUnavailable) as error:
        ask(service, strategy)
    assert error.value.reason == "the AI call failed: the request timed out"
    assert len(fake_openai.completions) == 2
    assert AICall.objects.get().status == "error"


def test_the_services_max_retries_wins_over_the_clients(fake_openai, strategy):
    service = AIService(client=fake_openai.client(max_retries=5), model="gpt-test", prompt_version="v1",
                        max_retries=0)
    fake_openai.fail(status=500, times=1, retry_after_ms="1")
    with pytest.raises(AIUnavailable, match="HTTP 500"):
        ask(service, strategy)
    assert len(fake_openai.completions) == 1  # OPENAI_MAX_RETRIES is the one count, whatever the client says


def test_the_service_from_settings_retries_as_many_times_as_the_settings_say(settings, strategy, fake_openai):
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = fake_openai.api_key, fake_openai.url + "/v1"
    settings.OPENAI_MAX_RETRIES = 1
    fake_openai.fail(status=502, times=2, retry_after_ms="1")
    with pytest.raises(AIUnavailable, match="HTTP 502"):
        ask(get_ai_service(), strategy)
    assert len(fake_openai.completions) == 2


def test_an_answer_stored_first_by_another_worker_wins(service, strategy, fake_openai):
    """Two workers asked about the same candle at once: the second to store reads the first's answer."""
    def other_worker_stores_first():
        if len(fake_openai.completions) == 1 and not AICall.objects.exists():
            AICall.objects.create(strategy=strategy, symbol="BTCUSDT", timeframe="5", candle_time=CANDLE,
                                  model="gpt-test", prompt_version="v1", status="ok", action="HOLD", confidence=55,
                                  risk_level="LOW", reasoning="Stored first.")

    service.clock.on_read.append(other_worker_stores_first)
    decision = ask(service, strategy)
    assert decision == AIDecision("HOLD", 55, "Stored first.", "LOW", cached=True)
    assert AICall.objects.filter(status="ok").count() == 1


def test_without_a_key_there_is_no_service_and_a_reason_to_show(settings, strategy):
    settings.OPENAI_API_KEY = ""
    assert get_ai_service() is None
    assert ai_unavailable_reason() == ("AI confirmation is off: OPENAI_API_KEY is not set; strategies that "
                                       "require it do not trade.")
    with pytest.raises(AIUnavailable) as error:
        ask(AIService(client=None, model="gpt-test", prompt_version="v1"), strategy)
    assert error.value.reason == ai_unavailable_reason()
    assert not AICall.objects.exists()


def test_the_service_from_settings_talks_to_any_openai_compatible_server(settings, strategy, fake_openai):
    settings.OPENAI_API_KEY = fake_openai.api_key
    settings.OPENAI_BASE_URL = fake_openai.url + "/v1"
    settings.OPENAI_MODEL = "llama3.1:8b"
    settings.OPENAI_PRICE_INPUT_PER_MTOK = Decimal("0")
    settings.OPENAI_PRICE_OUTPUT_PER_MTOK = Decimal("0")
    assert ai_unavailable_reason() is None
    decision = ask(get_ai_service(), strategy)
    assert decision.action == "LONG"
    assert fake_openai.completions[0]["model"] == "llama3.1:8b"
    assert AICall.objects.get().cost_usd == 0


def test_an_unknown_prompt_version_fails_when_the_service_is_built(fake_openai):
    with pytest.raises(FileNotFoundError, match="no prompt template for version 'v0'"):
        AIService(client=fake_openai.client(), model="gpt-test", prompt_version="v0")
