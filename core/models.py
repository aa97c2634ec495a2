"""Per-user operator settings: may this person trade real money through the API and the dashboard, and how big."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


class OperatorSettings(models.Model):
    """What one user may do to the exchange by hand. A user without a row has the defaults: live trading off,
    the global ``MAX_ORDER_NOTIONAL``. Paper trading never needs the switch (``core.security``)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator_settings")
    live_trading_enabled = models.BooleanField(
        "live trading enabled", default=False,
        help_text="Let this user place, change, close and cancel orders through the API and the dashboard when "
                  "EXCHANGE_MODE is testnet, demo or live. Paper trading is always allowed.")
    max_order_notional = models.DecimalField(
        "max order notional (USDT)", max_digits=20, decimal_places=8, null=True, blank=True,
        help_text="Largest order value this user may send. Empty: MAX_ORDER_NOTIONAL. Never above it.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "operator settings"
        verbose_name_plural = "operator settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_order_notional__isnull=True) | models.Q(max_order_notional__gt=0),
                name="operator_max_notional_positive",
                violation_error_message="The max order notional must be more than 0."),
        ]

    def __str__(self) -> str:
        return f"operator settings of {self.user}"

    @classmethod
    def of(cls, user) -> OperatorSettings:
        """The user's settings, or the defaults (unsaved) when none were stored: reading never writes."""
        found = cls.objects.filter(user_id=user.pk).first() if user.pk else None
        return found or cls(user_id=user.pk)

    @property
    def order_notional_limit(self) -> Decimal:
        """The user's own limit, capped by the global one."""
        if self.max_order_notional is None:
            return settings.MAX_ORDER_NOTIONAL
        return min(self.max_order_notional, settings.MAX_ORDER_NOTIONAL)

    def clean(self):
        if self.max_order_notional is not None and self.max_order_notional > settings.MAX_ORDER_NOTIONAL:
            raise ValidationError({"max_order_notional": f"At most MAX_ORDER_NOTIONAL ({settings.MAX_ORDER_NOTIONAL} "
                                                         f"USDT); leave it empty to use that limit."})
