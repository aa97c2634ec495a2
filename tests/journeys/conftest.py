"""Browser journeys (issue 18): what a person does, in Debian's Chromium at a laptop's and a phone's width,
against daphne on the test database and the fake Bybit (testnet mode, so real-money rules apply).

``signed_in(viewport)`` opens a page signed in as ``operator``, a superuser whose live trading switch is on.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.browser import PASSWORD, sign_in

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = [pytest.param(LAPTOP, id="1366px"), pytest.param(PHONE, id="390px")]


@pytest.fixture
def operator(django_user_model):
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from core.models import OperatorSettings

    hasher = PBKDF2PasswordHasher()
    user = django_user_model.objects.create_superuser("operator", "operator@example.com")
    user.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
    user.save(update_fields=["password"])
    OperatorSettings.objects.create(user=user, live_trading_enabled=True)
    return user


@pytest.fixture
def signed_in(browser, daphne, operator):
    """``signed_in(viewport, context=None)``: a new page signed in (in a new browser context unless one is given,
    so two pages of one context share the session, as two tabs do). Closed at the end."""
    contexts = []

    def open_page(viewport, context=None):
        def step():
            nonlocal context
            if context is None:
                context = browser.chromium.new_context(viewport=viewport)
                contexts.append(context)
                return sign_in(context.new_page(), daphne.url, "operator")
            return context.new_page()

        return browser.do(step)

    yield open_page
    browser.do(lambda: [context.close() for context in contexts])


@pytest.fixture
def realistic_data(db, app_on_fake_bybit, make_strategy):
    """What a page shows after weeks of trading: 60 trades (one failed with a 200-character reason, long strategy
    names), 3 open positions held by 3 open trades, a strategy with decisions."""
    from trades.models import Decision, Trade

    fake = app_on_fake_bybit
    strategy = make_strategy(name="Trend following on the majors with a long descriptive name", type="trend_following",
                             symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT"], timeframe="5", is_active=False)
    now = timezone.now()
    for index in range(57):
        closed_at = now - timedelta(hours=index + 1)
        Trade.objects.create(
            strategy=strategy if index % 3 else None, symbol=("BTCUSDT", "ETHUSDT", "SOLUSDT")[index % 3],
            side="Buy" if index % 2 else "Sell", quantity=Decimal("0.012"), price=Decimal("65000.5"),
            stop_loss=Decimal("64350.1"), take_profit=Decimal("66300.2"), exit_price=Decimal("65500.3"),
            realized_pnl=Decimal("5.99712345") * (1 if index % 4 else -1), fees=Decimal("0.85812345"),
            order_link_id=f"seed-{uuid.uuid4().hex[:24]}", status="failed" if index == 56 else "closed",
            status_reason=("order refused: " + "ab not enough for new order; " * 7)[:200] if index == 56 else "",
            executed_at=closed_at - timedelta(minutes=30), closed_at=closed_at)
    for symbol, side, qty in (("BTCUSDT", "Buy", "0.010"), ("ETHUSDT", "Sell", "0.50"), ("SOLUSDT", "Buy", "3.0")):
        link = f"seed-open-{symbol}"
        fake.state.create_order({"symbol": symbol, "side": side, "qty": qty, "orderType": "Market",
                                 "orderLinkId": link})
        entry = fake.state.positions[symbol].entry
        Trade.objects.create(strategy=strategy, symbol=symbol, side=side, quantity=Decimal(qty), price=entry,
                             order_link_id=link, status="open", executed_at=now, fees=Decimal("0.1"))
        Decision.objects.create(strategy=strategy, symbol=symbol, timeframe="5", candle_time=now, action="HOLD",
                                outcome="hold", reasons=["EMA 9 above EMA 21 not met", "MACD above signal"])
    return strategy


def assert_fits(page, name: str) -> None:
    """Nothing scrolls sideways, and every action (button, or link styled as one) lies inside the viewport."""
    width = page.evaluate("innerWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways at {width}px"
    outside = page.evaluate("""() => [...document.querySelectorAll('button, .button, input[type=submit]')]
        .filter(el => el.offsetParent !== null)
        .filter(el => { const r = el.getBoundingClientRect(); return r.left < 0 || r.right > innerWidth + 0.5; })
        .map(el => el.textContent.trim() || el.value)""")
    assert outside == [], f"{name} at {width}px: actions outside the viewport: {outside}"
