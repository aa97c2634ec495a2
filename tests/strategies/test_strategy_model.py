"""What must always hold for a strategy is refused by validation and, underneath, by the database."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from strategies.config import indicator_defaults, validate_indicators
from strategies.models import Strategy

VALID = {"name": "s", "type": "scalping", "symbols": ["BTCUSDT"], "timeframe": "5"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("risk_percentage", Decimal("150")),
        ("risk_percentage", Decimal("0")),
        ("max_positions", 0),
        ("stop_loss_percentage", Decimal("100")),
        ("take_profit_percentage", Decimal("0")),
        ("min_ai_confidence", 101),
        ("leverage", Decimal("0.5")),
        ("timeframe", "7"),
    ],
)
def test_it_is_refused_by_the_database_constraint(field, value):
    with pytest.raises(IntegrityError), transaction.atomic():
        Strategy.objects.create(**{**VALID, field: value})


@pytest.mark.django_db
def test_it_explains_each_refused_value():
    strategy = Strategy(**{**VALID, "risk_percentage": Decimal("150"), "max_positions": 0})
    with pytest.raises(ValidationError) as error:
        strategy.full_clean()
    assert "Ensure this value is less than or equal to 100" in str(error.value.message_dict["risk_percentage"])
    assert "Ensure this value is greater than or equal to 1" in str(error.value.message_dict["max_positions"])


@pytest.mark.django_db
def test_it_refuses_bad_symbols_and_a_confirmation_timeframe_that_is_not_longer():
    strategy = Strategy(**{**VALID, "symbols": ["btcusdt", "BTC/USDT"], "confirm_timeframe": "1"})
    with pytest.raises(ValidationError) as error:
        strategy.full_clean()
    assert "a symbol is a USDT perpetual in capitals" in str(error.value.message_dict["symbols"])
    assert "must be longer" in str(error.value.message_dict["confirm_timeframe"])


def test_it_fills_indicator_defaults_and_refuses_nonsense():
    assert validate_indicators({"rsi_period": 7}) == {**indicator_defaults(), "rsi_period": 7}
    for bad, message in [
        ({"rsi_perod": 7}, "Unknown indicator setting 'rsi_perod'"),
        ({"ema_short": 0}, "ema_short must be greater than 0"),
        ({"ema_short": 30, "ema_long": 21}, "ema_short (30) must be shorter than ema_long (21)"),
        ({"bb_period": 2.5}, "bb_period must be a whole number"),
        ({"rsi_period": "14"}, "rsi_period must be a number"),
        ([1, 2], "Indicators must be a JSON object"),
    ]:
        with pytest.raises(ValidationError) as error:
            validate_indicators(bad)
        assert message in " ".join(error.value.messages)
