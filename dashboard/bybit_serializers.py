"""Validation of what clients send to /api/bybit/..., and the shapes of what they get back.

Input serializers expect the exchange in their context (``{"exchange": ...}``) so that a symbol the
exchange does not list is refused on the ``symbol`` field, with the exchange's reason.
"""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from exchange.services import new_order_link_id
from market.errors import InvalidOrderError
from market.instruments import ORDER_LINK_ID_RE, SYMBOL_RE
from market.intervals import INTERVAL_MINUTES
from market.types import OrderRequest, OrderType, Side


def money(**kwargs):
    """A Decimal rendered as a string, as the exchange sends it."""
    return serializers.DecimalField(max_digits=None, decimal_places=None, coerce_to_string=True, **kwargs)


class SymbolField(serializers.CharField):
    default_error_messages = {"invalid": "a symbol is a USDT perpetual in capitals, such as BTCUSDT"}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 30)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not SYMBOL_RE.match(value):
            self.fail("invalid")
        exchange = self.context.get("exchange")
        if exchange is not None:
            try:
                exchange.get_instrument(value)
            except InvalidOrderError as error:
                raise serializers.ValidationError(error.message) from None
        return value


class PositiveDecimalField(serializers.DecimalField):
    default_error_messages = {"not_positive": "must be a number greater than 0"}

    def __init__(self, **kwargs):
        super().__init__(max_digits=20, decimal_places=8, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value <= 0:
            self.fail("not_positive")
        return value


def side_field(**kwargs):
    return serializers.ChoiceField(choices=[s.value for s in Side], error_messages={
        "invalid_choice": "side must be Buy or Sell, not {input!r}"}, **kwargs)


# Inputs
class SymbolQuerySerializer(serializers.Serializer):
    symbol = SymbolField(required=False, help_text="Only this symbol, e.g. BTCUSDT.")


class HistoryQuerySerializer(SymbolQuerySerializer):
    limit = serializers.IntegerField(min_value=1, max_value=50, default=50)


class KlineQuerySerializer(serializers.Serializer):
    symbol = SymbolField()
    interval = serializers.ChoiceField(choices=list(INTERVAL_MINUTES), default="5", error_messages={
        "invalid_choice": f"interval must be one of {', '.join(INTERVAL_MINUTES)}"})
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=200)


class PriceQuerySerializer(serializers.Serializer):
    symbol = SymbolField()


class PlaceOrderSerializer(serializers.Serializer):
    symbol = SymbolField()
    side = side_field()
    qty = PositiveDecimalField(help_text="Quantity in the base coin, e.g. 0.001 BTC.")
    order_type = serializers.ChoiceField(choices=[t.value for t in OrderType], default=OrderType.MARKET.value)
    price = PositiveDecimalField(required=False, help_text="Limit price; required for Limit orders.")
    reduce_only = serializers.BooleanField(default=False)
    stop_loss = PositiveDecimalField(required=False)
    take_profit = PositiveDecimalField(required=False)
    order_link_id = serializers.RegexField(
        ORDER_LINK_ID_RE, required=False,
        error_messages={"invalid": "order_link_id is 1-36 characters of letters, digits, _ and -"},
        help_text="Your idempotent id; generated (man-<hex>) when missing.")

    def validate(self, attrs):
        if attrs["order_type"] == OrderType.LIMIT and "price" not in attrs:
            raise serializers.ValidationError({"price": "a Limit order needs a price"})
        if attrs["order_type"] == OrderType.MARKET and "price" in attrs:
            raise serializers.ValidationError({"price": "a Market order takes no price; use order_type Limit"})
        attrs.setdefault("order_link_id", new_order_link_id())
        return attrs  # the order's value is checked once, by the command (trades.commands.place_order)

    @staticmethod
    def to_request(attrs) -> OrderRequest:
        return OrderRequest(symbol=attrs["symbol"], side=Side(attrs["side"]), qty=attrs["qty"],
                            order_link_id=attrs["order_link_id"],
                            order_type=OrderType(attrs["order_type"]), price=attrs.get("price"),
                            reduce_only=attrs["reduce_only"], stop_loss=attrs.get("stop_loss"),
                            take_profit=attrs.get("take_profit"))


class LeverageSerializer(serializers.Serializer):
    symbol = SymbolField()
    leverage = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=Decimal("1"),
                                        max_value=Decimal("100"), coerce_to_string=True,
                                        error_messages={"min_value": "leverage must be between 1 and 100",
                                                        "max_value": "leverage must be between 1 and 100"})


class TradingStopSerializer(serializers.Serializer):
    symbol = SymbolField()
    stop_loss = serializers.DecimalField(max_digits=20, decimal_places=8, min_value=Decimal("0"), required=False,
                                         coerce_to_string=True, help_text="Trigger price; 0 cancels the stop-loss.")
    take_profit = serializers.DecimalField(max_digits=20, decimal_places=8, min_value=Decimal("0"), required=False,
                                           coerce_to_string=True, help_text="Trigger price; 0 cancels it.")

    def validate(self, attrs):
        if "stop_loss" not in attrs and "take_profit" not in attrs:
            raise serializers.ValidationError({"stop_loss": "send a stop_loss, a take_profit or both"})
        return attrs


class ClosePositionSerializer(serializers.Serializer):
    symbol = SymbolField()
    order_link_id = serializers.RegexField(
        ORDER_LINK_ID_RE, required=False,
        error_messages={"invalid": "order_link_id is 1-36 characters of letters, digits, _ and -"})


class SubscribeSerializer(serializers.Serializer):
    symbols = serializers.ListField(child=SymbolField(), min_length=1, max_length=50,
                                    help_text="Symbols whose live price the dashboard receives.")


# Outputs
class BalanceSerializer(serializers.Serializer):
    coin = serializers.CharField()
    equity = money(help_text="Wallet balance + unrealized PnL.")
    wallet_balance = money()
    available = money()
    unrealized_pnl = money()
    used_margin = money()


class PositionSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    side = serializers.CharField()
    size = money()
    entry_price = money()
    mark_price = money()
    unrealized_pnl = money()
    leverage = money()
    stop_loss = money(allow_null=True)
    take_profit = money(allow_null=True)
    liquidation_price = money(allow_null=True)
    value = money()
    updated_at = serializers.DateTimeField(allow_null=True)


class OrderSerializer(serializers.Serializer):
    order_id = serializers.CharField()
    order_link_id = serializers.CharField()
    symbol = serializers.CharField()
    side = serializers.CharField()
    order_type = serializers.CharField()
    qty = money()
    price = money(allow_null=True)
    status = serializers.CharField()
    avg_price = money(allow_null=True)
    filled_qty = money()
    fee = money()
    reduce_only = serializers.BooleanField()
    reject_reason = serializers.CharField()
    created_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)


class CandleSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    open = money()
    high = money()
    low = money()
    close = money()
    volume = money()
    closed = serializers.BooleanField(help_text="False for the newest candle while its period is still running.")


class KlineSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    interval = serializers.CharField()
    candles = CandleSerializer(many=True)


class TickerSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    last_price = money()
    time = serializers.DateTimeField()
    bid = money(allow_null=True)
    ask = money(allow_null=True)
    mark_price = money(allow_null=True)
    change_24h_pct = money(allow_null=True)
    volume_24h = money(allow_null=True)


class LeverageResultSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    leverage = money()


class TradingStopResultSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    stop_loss = money(allow_null=True, required=False)
    take_profit = money(allow_null=True, required=False)
    trade = serializers.IntegerField(allow_null=True, required=False,
                                     help_text="The open trade on the symbol, which now carries these prices.")


class ClosedPositionSerializer(OrderSerializer):
    trade = serializers.IntegerField(allow_null=True, help_text="The bot's trade that this close ended, if any.")


class OrderProblemSerializer(serializers.Serializer):
    """A 502 answer to an order that the exchange did not carry out whole (rejected, or partly filled)."""

    detail = serializers.CharField()
    order = OrderSerializer()
    trade = serializers.IntegerField(allow_null=True, help_text="The trade it left (open for what filled, or failed).")
    exchange_reason = serializers.CharField()


class CancelResultSerializer(serializers.Serializer):
    order_id = serializers.CharField()
    symbol = serializers.CharField()
    cancelled = serializers.BooleanField()


class CancelAllResultSerializer(serializers.Serializer):
    cancelled = serializers.IntegerField(help_text="How many open orders were cancelled.")


class SubscriptionsSerializer(serializers.Serializer):
    symbols = serializers.ListField(child=serializers.CharField(), help_text="Every symbol now streamed.")
