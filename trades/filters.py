"""The trade filters: one FilterSet for ``GET /api/trades`` (list, by symbol, stats) and the Trades page.

A bad value is an error on its field (the API answers 400 with it, the page shows it next to the input),
never dropped: a filter that silently did nothing would list every trade as if it matched.
"""

from __future__ import annotations

from datetime import UTC

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django_filters.fields import IsoDateTimeField

from market.instruments import SYMBOL_RE
from trades.models import Trade, TradeStatus

MOMENT_ERROR = "Use an ISO 8601 date and time, e.g. 2026-04-01T00:00."


class TradeFilterForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since >= until:
            self.add_error("until", "must be later than since.")
        return cleaned


class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField  # NumberFilter's is a DecimalField, which would take "1.5" for an id


class MomentField(IsoDateTimeField):
    def to_python(self, value):
        moment = super().to_python(value)
        # In UTC: PostgreSQL refuses an offset beyond 15:59 that Python reads (2026-04-01T00:00-20:20).
        try:
            return moment.astimezone(UTC) if moment else moment
        except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0
            raise ValidationError("is out of range (years 1 to 9999, in UTC).", code="invalid") from None


class MomentFilter(django_filters.IsoDateTimeFilter):
    field_class = MomentField


class TradeFilterSet(django_filters.FilterSet):
    symbol = django_filters.CharFilter(
        validators=[RegexValidator(SYMBOL_RE, "Use a USDT perpetual in capitals, e.g. BTCUSDT.")],
        help_text="e.g. BTCUSDT")
    status = django_filters.ChoiceFilter(
        choices=TradeStatus.choices, error_messages={"invalid_choice": '"%(value)s" is not a valid choice.'})
    # The id as given (an unknown one matches no trade, as an unknown symbol does), within the column's range.
    strategy = IdFilter(field_name="strategy", min_value=1, max_value=2**63 - 1, help_text="strategy id",
                        error_messages={"invalid": "must be a strategy id (a whole number)."})
    since = MomentFilter(
        field_name="created_at", lookup_expr="gte", help_text="created at or after (ISO 8601)",
        error_messages={"invalid": MOMENT_ERROR})
    until = MomentFilter(
        field_name="created_at", lookup_expr="lt", help_text="created before (ISO 8601)",
        error_messages={"invalid": MOMENT_ERROR})

    class Meta:
        model = Trade
        fields = []  # only the filters declared above, none made up from the model's fields
        form = TradeFilterForm


class SymbolTradeFilterSet(TradeFilterSet):
    """The same filters under ``/api/trades/symbol/<symbol>``, whose symbol is in the path."""

    symbol = None
