from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from trades.models import Trade, TradeStatus


def test_a_strategy_past_its_daily_loss_limit_pauses_and_says_why(long_signal, make_cycle, fake_bybit):
    strategy, _ = long_signal
    strategy.max_daily_loss_percentage = Decimal("2")
    strategy.save()
    Trade.objects.create(strategy=strategy, symbol="ETHUSDT", side="Buy", quantity=Decimal("1"), price=Decimal("2000"),
                         order_link_id="lost-today", status=TradeStatus.CLOSED, realized_pnl=Decimal("-250"),
                         closed_at=timezone.now() - timedelta(minutes=5))

    report = make_cycle().run([strategy])

    strategy.refresh_from_db()
    assert fake_bybit.orders_received == []
    assert strategy.paused_until > timezone.now()
    assert strategy.pause_reason.startswith("daily loss limit reached: -250.00 USDT realized today is beyond 2% of "
                                            "equity (10000.00 USDT)")
    assert report.pairs[0].detail == strategy.pause_reason
    again = make_cycle().run([strategy])
    assert again.pairs[0].detail.startswith("paused until ")


def test_losses_from_yesterday_do_not_count(long_signal, make_cycle, fake_bybit):
    strategy, _ = long_signal
    strategy.max_daily_loss_percentage = Decimal("2")
    strategy.save()
    Trade.objects.create(strategy=strategy, symbol="ETHUSDT", side="Buy", quantity=Decimal("1"), price=Decimal("2000"),
                         order_link_id="lost-yesterday", status=TradeStatus.CLOSED, realized_pnl=Decimal("-900"),
                         closed_at=timezone.now() - timedelta(days=1, hours=1))
    assert make_cycle().run([strategy]).orders == 1
