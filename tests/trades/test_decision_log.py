"""The decision log's two writers (one JSON document on PostgreSQL, Django's upsert elsewhere) store the same rows,
and both keep the latest decision per strategy, symbol and candle."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from trades.decision_log import FIELDS, write_as_document, write_as_models, write_decisions
from trades.models import Decision, Trade, TradeStatus

CANDLE = datetime(2026, 4, 1, 12, 5, tzinfo=UTC)


def rows_for(strategy, trade):
    return [
        {"strategy": strategy.pk, "symbol": "BTCUSDT", "timeframe": "5", "candle_time": CANDLE, "action": "LONG",
         "outcome": "entered", "reasons": ["RSI 28 < 30", "price \"under\" the band"], "detail": "ok; note",
         "price": Decimal("65000.12345678"), "ai_confidence": 81, "trade": trade.pk},
        {"strategy": strategy.pk, "symbol": "ETHUSDT", "timeframe": "5", "candle_time": CANDLE, "action": "HOLD",
         "outcome": "hold", "reasons": [], "detail": "", "price": Decimal("3100.5"), "ai_confidence": None,
         "trade": None},
        {"strategy": strategy.pk, "symbol": "SOLUSDT", "timeframe": "5", "candle_time": None, "action": "HOLD",
         "outcome": "failed", "reasons": [], "detail": "klines unavailable: timeout", "price": None,
         "ai_confidence": None, "trade": None},
    ]


def stored():
    return sorted((tuple(row[name if name not in ("strategy", "trade") else f"{name}_id"] for name in FIELDS)
                   for row in Decision.objects.values()), key=repr)


@pytest.mark.django_db
def test_both_writers_store_the_same_rows_and_update_in_place(make_strategy):
    strategy = make_strategy()
    trade = Trade.objects.create(strategy=strategy, symbol="BTCUSDT", side="Buy", quantity=Decimal("0.01"),
                                 price=Decimal("65000"), status=TradeStatus.OPEN, order_link_id="log-1")
    rows = rows_for(strategy, trade)

    write_as_document(rows)
    by_document = stored()
    Decision.objects.all().delete()
    write_as_models(rows)
    assert stored() == by_document
    assert Decision.objects.get(symbol="BTCUSDT").reasons == ["RSI 28 < 30", 'price "under" the band']
    assert Decision.objects.get(symbol="ETHUSDT").price == Decimal("3100.5")

    # The same candle decided again (a redelivered sub-task): updated, not added, by either writer.
    again = [dict(row, outcome="skipped", detail="already held") for row in rows[:2]]
    write_decisions(again)
    write_as_models(again)
    assert Decision.objects.count() == 3
    assert set(Decision.objects.filter(candle_time=CANDLE).values_list("outcome", flat=True)) == {"skipped"}
