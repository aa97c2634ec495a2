"""The paper exchange's state (account, positions, orders, fills, closed PnL), the replay clock's anchor and
the symbols the market stream follows.

Record times (``created_at``, ``closed_at``, ...) are wall-clock times; ``placed_at`` and ``checked_until`` are
market times (the replay clock in replay mode), used to know which candles an order or a stop has already seen.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

MONEY = {"max_digits": 20, "decimal_places": 8}
SIDES = [("Buy", "Buy"), ("Sell", "Sell")]


class PaperAccount(models.Model):
    """One simulated USDT wallet. Every change to it, its positions or its orders happens with this row locked."""

    name = models.CharField(max_length=50, unique=True, default="default")
    initial_balance = models.DecimalField(**MONEY)
    cash = models.DecimalField(**MONEY, help_text="Wallet balance: deposits + realized PnL - fees.")
    realized_pnl = models.DecimalField(**MONEY, default=0, help_text="Price PnL of every close, before fees.")
    fees_paid = models.DecimalField(**MONEY, default=0)
    funding = models.DecimalField(**MONEY, default=0, help_text="Funding received (negative: paid), every 8 hours.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "paper_accounts"

    def __str__(self):
        return f"paper account {self.name}: {self.cash} USDT"


class PaperPosition(models.Model):
    """One symbol's one-way position. The row outlives a close (size 0) because it carries the leverage."""

    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="positions")
    symbol = models.CharField(max_length=50)
    side = models.CharField(max_length=4, choices=SIDES, blank=True, default="", help_text="Empty when flat.")
    size = models.DecimalField(**MONEY, default=0)
    entry_price = models.DecimalField(**MONEY, default=0)
    open_fee = models.DecimalField(**MONEY, default=0, help_text="Opening fees not yet attributed to a close.")
    leverage = models.DecimalField(max_digits=5, decimal_places=2, default=1)
    stop_loss = models.DecimalField(**MONEY, null=True, blank=True)
    take_profit = models.DecimalField(**MONEY, null=True, blank=True)
    checked_until = models.DateTimeField(null=True, blank=True,
                                         help_text="Market time up to which stop-loss/take-profit were checked.")
    funded_until = models.DateTimeField(null=True, blank=True,
                                        help_text="Market time up to which funding was settled (from the opening).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "paper_positions"
        constraints = [
            models.UniqueConstraint(fields=["account", "symbol"], name="paper_one_position_per_symbol"),
            models.CheckConstraint(condition=Q(size__gte=0), name="paper_position_size_not_negative"),
            models.CheckConstraint(condition=Q(size=0, side="") | Q(size__gt=0, side__in=["Buy", "Sell"]),
                                   name="paper_position_side_matches_size"),
        ]

    def __str__(self):
        return f"{self.side or 'flat'} {self.size} {self.symbol}"


class PaperOrder(models.Model):
    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="orders")
    order_id = models.CharField(max_length=36, unique=True)
    order_link_id = models.CharField(max_length=36)
    symbol = models.CharField(max_length=50)
    side = models.CharField(max_length=4, choices=SIDES)
    order_type = models.CharField(max_length=10)
    qty = models.DecimalField(**MONEY)
    price = models.DecimalField(**MONEY, null=True, blank=True)
    status = models.CharField(max_length=30, db_index=True)
    avg_price = models.DecimalField(**MONEY, null=True, blank=True)
    filled_qty = models.DecimalField(**MONEY, default=0)
    fee = models.DecimalField(**MONEY, default=0)
    reduce_only = models.BooleanField(default=False)
    stop_loss = models.DecimalField(**MONEY, null=True, blank=True)
    take_profit = models.DecimalField(**MONEY, null=True, blank=True)
    reject_reason = models.TextField(blank=True, default="")
    placed_at = models.DateTimeField(help_text="Market time the order was placed.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "paper_orders"
        ordering = ["-created_at", "-id"]
        constraints = [
            # Bybit refuses a second order with the same orderLinkId (retCode 110072); so does paper.
            models.UniqueConstraint(fields=["account", "order_link_id"], name="paper_order_link_id_unique"),
            models.CheckConstraint(condition=Q(qty__gt=0), name="paper_order_qty_positive"),
        ]

    def __str__(self):
        return f"{self.side} {self.qty} {self.symbol} {self.status} [{self.order_link_id}]"


class PaperFill(models.Model):
    """One execution: the only place a fee is charged."""

    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="fills")
    order = models.ForeignKey(PaperOrder, on_delete=models.CASCADE, related_name="fills")
    symbol = models.CharField(max_length=50)
    side = models.CharField(max_length=4, choices=SIDES)
    qty = models.DecimalField(**MONEY)
    price = models.DecimalField(**MONEY)
    fee = models.DecimalField(**MONEY)
    trigger = models.CharField(max_length=20, blank=True, default="",
                               help_text="stop_loss, take_profit, liquidation or another exit, if any.")
    market_time = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "paper_fills"
        ordering = ["-created_at", "-id"]


class PaperFunding(models.Model):
    """One funding settlement of a position (``market.funding``): the wallet's gain, negative when it paid."""

    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="fundings")
    symbol = models.CharField(max_length=50)
    side = models.CharField(max_length=4, choices=SIDES, help_text="Side of the position.")
    size = models.DecimalField(**MONEY)
    mark_price = models.DecimalField(**MONEY)
    rate = models.DecimalField(max_digits=12, decimal_places=8)
    assumed = models.BooleanField(default=False, help_text="No funding history: market.funding.ASSUMED_RATE.")
    amount = models.DecimalField(**MONEY)
    funding_time = models.DateTimeField(help_text="Market time of the settlement (00:00, 08:00 or 16:00 UTC).")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "paper_funding"
        ordering = ["-funding_time", "-id"]
        constraints = [models.UniqueConstraint(fields=["account", "symbol", "funding_time"],
                                               name="paper_funding_once_per_time")]

    def __str__(self):
        return f"funding {self.amount} on {self.side} {self.size} {self.symbol} at {self.funding_time:%Y-%m-%d %H:%M}"


class PaperClosedPnl(models.Model):
    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="closed_pnls")
    order = models.ForeignKey(PaperOrder, on_delete=models.CASCADE, related_name="closed_pnls")
    symbol = models.CharField(max_length=50)
    side = models.CharField(max_length=4, choices=SIDES, help_text="Side of the closing order.")
    qty = models.DecimalField(**MONEY)
    entry_price = models.DecimalField(**MONEY)
    exit_price = models.DecimalField(**MONEY)
    realized_pnl = models.DecimalField(**MONEY, help_text="Net of the opening and closing fees of this part.")
    closed_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "paper_closed_pnl"
        ordering = ["-closed_at", "-id"]


class ReplayState(models.Model):
    """Where the replay clock started (wall time), so a restart continues the replay instead of rewinding it."""

    anchor = models.DateTimeField()

    class Meta:
        db_table = "replay_state"

    @classmethod
    def anchor_time(cls):
        state, _ = cls.objects.get_or_create(pk=1, defaults={"anchor": timezone.now()})
        return state.anchor

    def __str__(self):
        return f"replay anchored at {self.anchor:%Y-%m-%d %H:%M:%S}"


class MarketSubscription(models.Model):
    """A symbol whose live price ``manage.py stream_market`` publishes (besides active strategies' symbols)."""

    symbol = models.CharField(max_length=50, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "market_subscriptions"
        ordering = ["symbol"]

    def __str__(self):
        return self.symbol
