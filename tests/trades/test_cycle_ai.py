"""Step 5: AI confirmation through the real openai SDK against the fake OpenAI server."""

import pytest

from ai.models import AICall
from ai.service import AIService
from trades.models import Decision, Trade, TradeStatus


@pytest.fixture
def ai_strategy(long_signal):
    strategy, candles = long_signal
    strategy.use_ai_confirmation = True
    strategy.min_ai_confidence = 70
    strategy.save()
    return strategy


@pytest.fixture
def ai(fake_openai):
    return AIService(client=fake_openai.client(), model="gpt-test")


def test_a_confirmed_signal_trades_with_the_ai_reasoning(ai_strategy, make_cycle, fake_bybit, fake_openai, ai):
    fake_openai.answer("LONG", 85, "Fresh EMA cross with MACD support.")
    report = make_cycle(ai_service=ai).run([ai_strategy])

    trade = Trade.objects.get()
    assert report.orders == 1 and trade.status == TradeStatus.OPEN
    assert (trade.confidence, trade.reasoning) == (85, "Fresh EMA cross with MACD support.")
    call = AICall.objects.get()
    assert (call.status, call.model, call.symbol, call.candle_time) == ("ok", "gpt-test", "BTCUSDT",
                                                                       trade.candle_time)
    assert call.prompt_tokens == fake_openai.prompt_tokens and call.cost_usd > 0
    # The same candle is never asked twice.
    make_cycle(ai_service=ai).run([ai_strategy])
    assert len(fake_openai.completions) == 1


@pytest.mark.parametrize("kind", ["not_json", "confidence_250", "unknown_action", "missing_field"])
def test_a_malformed_answer_never_produces_a_trade(ai_strategy, make_cycle, fake_bybit, fake_openai, ai, kind):
    fake_openai.malformed(kind)
    report = make_cycle(ai_service=ai).run([ai_strategy])

    assert fake_bybit.orders_received == [] and not Trade.objects.exists()
    pair = report.pairs[0]
    assert pair.outcome == "skipped"
    assert pair.detail.startswith("AI unavailable, not trading on a guess: the AI answer was rejected")
    assert AICall.objects.get().status == "invalid"


def test_low_confidence_or_disagreement_skips_with_the_reason(ai_strategy, make_cycle, fake_bybit, fake_openai, ai):
    fake_openai.answer("LONG", 40)
    report = make_cycle(ai_service=ai).run([ai_strategy])
    assert report.pairs[0].detail == "AI confidence 40 is below the strategy's minimum 70"
    assert fake_bybit.orders_received == []


def test_without_a_key_strategies_that_need_ai_do_not_trade_and_say_why(ai_strategy, make_cycle, fake_bybit):
    from ai.service import ai_unavailable_reason

    report = make_cycle(ai_service=None, ai_unavailable_reason=ai_unavailable_reason()).run([ai_strategy])
    assert fake_bybit.orders_received == []
    decision = Decision.objects.get()
    assert (decision.outcome, decision.detail) == ("skipped", "AI confirmation is off: OPENAI_API_KEY is not set; "
                                                              "strategies that require it do not trade.")
    assert report.orders == 0
