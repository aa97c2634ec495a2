"""Who may do what (issue 17, defect 6): Django's model permissions through the groups the migrations ship.

A signed-in user without permissions reads but changes nothing; strategies need add/change/delete_strategy,
orders the trade_orders permission (paper included), leverage set_leverage. Letting a strategy trade (activating
it, or changing it while active) needs what placing an order needs, so the live trading switch cannot be walked
around by a strategy: off paper, a user with the switch off cannot activate a 50x strategy. The URL walk in
test_url_protection.py covers every route; these are the cases that matter, end to end.
"""

from __future__ import annotations

import html

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.test import APIClient

from strategies.models import Strategy

pytestmark = pytest.mark.django_db

RECKLESS = {"name": "50x all-in", "type": "scalping", "symbols": ["BTCUSDT"], "timeframe": "1",
            "risk_percentage": "100", "stop_loss_percentage": "1", "take_profit_percentage": "2",
            "leverage": "50", "max_positions": 1}
PAGE_FORM = {**RECKLESS, "symbols": "BTCUSDT", "confirm_timeframe": "", "min_ai_confidence": "70",
             "max_daily_loss_percentage": ""}
NEEDS_TRADER = "You need the 'Can place, close and cancel orders' permission (group 'trader')."


def api_as(person) -> APIClient:
    client = APIClient()
    client.force_authenticate(person)
    return client


def page_as(person) -> Client:
    client = Client()
    client.force_login(person)
    return client


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_the_migrations_ship_the_three_groups_with_their_permissions():
    def perms(name):
        return {f"{p.content_type.app_label}.{p.codename}" for p in Group.objects.get(name=name).permissions.all()}

    view = {"strategies.view_strategy", "trades.view_trade", "trades.view_decision", "trades.view_cyclerun",
            "trades.view_backtestrun", "exchange.view_marketsubscription", "ai.view_aicall",
            "notifications.view_delivery", "optimise.view_optimisationrun"}
    assert perms("viewer") == view
    assert perms("trader") == view | {"trades.trade_orders", "trades.set_leverage", "trades.add_backtestrun",
                                      "optimise.add_optimisationrun"}
    assert perms("strategist") == view | {"strategies.add_strategy", "strategies.change_strategy",
                                          "strategies.delete_strategy", "trades.add_backtestrun",
                                          "optimise.add_optimisationrun"}


def test_a_plain_user_cannot_create_or_activate_a_strategy_through_the_api(paper, make_member, make_strategy):
    api = api_as(make_member("plain", live=True))
    strategy = make_strategy(is_active=False)

    created = api.post("/api/strategies", RECKLESS, format="json")
    activated = api.post(f"/api/strategies/{strategy.pk}/activate")
    changed = api.patch(f"/api/strategies/{strategy.pk}", {"leverage": "50"}, format="json")
    deleted = api.delete(f"/api/strategies/{strategy.pk}")

    assert created.status_code == activated.status_code == changed.status_code == deleted.status_code == 403
    assert created.json()["detail"].startswith("You need the 'Can add strategy' permission (group 'strategist').")
    assert activated.json()["detail"].startswith("You need the 'Can change strategy' permission (group 'strategist')")
    assert deleted.json()["detail"].startswith("You need the 'Can delete strategy' permission")
    assert api.get("/api/strategies").status_code == api.get(f"/api/strategies/{strategy.pk}").status_code == 200
    strategy.refresh_from_db()
    assert Strategy.objects.count() == 1 and not strategy.is_active and strategy.leverage == 1


def test_a_plain_user_cannot_create_or_activate_a_strategy_through_the_pages(paper, make_member, make_strategy):
    page = page_as(make_member("plain", live=True))
    strategy = make_strategy(is_active=False)

    form = page.get("/strategies/new")
    created = page.post("/strategies/new", PAGE_FORM)
    activated = page.post(f"/strategies/{strategy.pk}/activate")
    from_htmx = page.post(f"/strategies/{strategy.pk}/activate", HTTP_HX_REQUEST="true")

    assert form.status_code == 200  # reading the form is allowed; saving it is not
    assert created.status_code == activated.status_code == from_htmx.status_code == 403
    assert "You need the 'Can add strategy' permission (group 'strategist')" in text(created)
    assert "You need the 'Can change strategy' permission (group 'strategist')" in text(activated)
    # From htmx, the strategy's card comes back in place, saying why (static/js/live.js swaps it in).
    assert from_htmx["X-Refusal"] and f'id="strategy-{strategy.pk}"' in text(from_htmx)
    assert "You need the 'Can change strategy' permission" in text(from_htmx)
    strategy.refresh_from_db()
    assert Strategy.objects.count() == 1 and not strategy.is_active


def test_a_strategist_edits_strategies_but_only_someone_who_may_trade_lets_one_trade(paper, make_member):
    strategist = api_as(make_member("planner", "strategist"))
    created = strategist.post("/api/strategies", RECKLESS, format="json")
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]

    refused = strategist.post(f"/api/strategies/{pk}/activate")
    active_at_birth = strategist.post("/api/strategies", {**RECKLESS, "name": "born active", "is_active": True},
                                      format="json")
    assert refused.status_code == active_at_birth.status_code == 403
    assert refused.json()["detail"] == f"An active strategy places orders. {NEEDS_TRADER} An administrator can " \
                                       f"grant it in the admin, under Authentication and Authorization."

    both = make_member("runner", "strategist", "trader")
    activated = api_as(both).post(f"/api/strategies/{pk}/activate")  # paper: no switch needed
    assert activated.status_code == 200 and activated.json()["activated_by"] == "runner"
    assert Strategy.objects.get(pk=pk).activated_by == both
    # Changing it while it trades is letting it trade too; deactivating is always allowed to a strategist.
    assert strategist.patch(f"/api/strategies/{pk}", {"leverage": "20"}, format="json").status_code == 403
    assert strategist.post(f"/api/strategies/{pk}/deactivate").status_code == 200
    assert not Strategy.objects.get(pk=pk).is_active


def test_with_the_switch_off_in_testnet_nobody_activates_a_50x_strategy(app_on_fake_bybit, make_member,
                                                                         make_strategy):
    """The bypass the issue found: no order by hand, but a 50x, 100%-risk strategy the cycle would trade."""
    person = make_member("switched-off", "strategist", "trader")  # every permission, the switch off
    api, page = api_as(person), page_as(person)
    reckless = make_strategy(**{**RECKLESS, "symbols": ["BTCUSDT"], "is_active": False})

    answers = [
        api.post(f"/api/strategies/{reckless.pk}/activate"),
        api.patch(f"/api/strategies/{reckless.pk}", {"is_active": True}, format="json"),
        api.post("/api/strategies", {**RECKLESS, "name": "born active", "is_active": True}, format="json"),
        page.post(f"/strategies/{reckless.pk}/activate"),
    ]

    for answer in answers:
        assert answer.status_code == 403
        assert "Live trading is switched off for switched-off: orders on the testnet exchange need it." in text(answer)
    reckless.refresh_from_db()
    assert not reckless.is_active and reckless.activated_by is None
    assert list(Strategy.objects.values_list("name", flat=True)) == ["50x all-in"]
    assert app_on_fake_bybit.orders_received == []


def test_in_testnet_changing_an_active_strategy_needs_the_switch_too(app_on_fake_bybit, make_member, make_strategy):
    strategy = make_strategy(is_active=True)
    person = make_member("switched-off", "strategist", "trader")

    through_api = api_as(person).patch(f"/api/strategies/{strategy.pk}", {"risk_percentage": "100"}, format="json")
    through_page = page_as(person).post(f"/strategies/{strategy.pk}/edit", {**PAGE_FORM, "name": strategy.name})
    stopped = api_as(person).post(f"/api/strategies/{strategy.pk}/deactivate")

    assert through_api.status_code == through_page.status_code == 403
    assert "Live trading is switched off" in text(through_api) and "Live trading is switched off" in text(through_page)
    assert stopped.status_code == 200  # stopping a strategy never needs the switch
    strategy.refresh_from_db()
    assert strategy.risk_percentage == 1 and not strategy.is_active


def test_with_the_switch_on_an_activation_records_who_did_it(app_on_fake_bybit, make_member, make_strategy):
    strategy = make_strategy(is_active=False)
    person = make_member("allowed", "strategist", "trader", live=True)

    response = page_as(person).post(f"/strategies/{strategy.pk}/activate")

    assert response.status_code == 302
    strategy.refresh_from_db()
    assert strategy.is_active and strategy.activated_by == person


def test_orders_and_leverage_are_permissions_of_their_own_on_paper_too(paper, make_member):
    order = {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.001"}
    viewer = api_as(make_member("looker", "viewer"))
    trader = api_as(make_member("dealer", "trader"))

    refused_order = viewer.post("/api/bybit/order", order, format="json")
    refused_leverage = viewer.post("/api/bybit/leverage", {"symbol": "BTCUSDT", "leverage": "2"}, format="json")
    refused_subscription = trader.post("/api/bybit/subscribe", {"symbols": ["BTCUSDT"]}, format="json")

    assert refused_order.status_code == refused_leverage.status_code == refused_subscription.status_code == 403
    assert refused_order.json()["detail"].startswith(NEEDS_TRADER)
    assert refused_leverage.json()["detail"].startswith("You need the 'Can set a symbol's leverage' permission "
                                                        "(group 'trader').")
    assert refused_subscription.json()["detail"].startswith("You need the 'Can add market subscription' permission.")
    assert trader.post("/api/bybit/leverage", {"symbol": "BTCUSDT", "leverage": "2"}, format="json").status_code == 200
    assert trader.post("/api/bybit/order", order, format="json").status_code == 201


def test_the_admin_applies_the_same_rule_and_records_the_activator(app_on_fake_bybit, make_member, make_strategy):
    staff = make_member("staff-strategist", "strategist")  # no order permission, switch off
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    strategy = make_strategy(is_active=False)
    admin = page_as(staff)

    bulk = admin.post("/admin/strategies/strategy/", {"action": "activate", "_selected_action": [strategy.pk]},
                      follow=True)
    form = admin.post(f"/admin/strategies/strategy/{strategy.pk}/change/", {
        "name": strategy.name, "type": "scalping", "is_active": "on", "symbols": "BTCUSDT", "timeframe": "5",
        "confirm_timeframe": "", "risk_percentage": "1", "max_positions": "1", "stop_loss_percentage": "1",
        "take_profit_percentage": "2", "leverage": "1", "max_daily_loss_percentage": "", "min_ai_confidence": "70",
        "indicators": "{}", "pause_reason": ""})

    assert f"An active strategy places orders. {NEEDS_TRADER}" in text(bulk)
    assert form.status_code == 200 and f"An active strategy places orders. {NEEDS_TRADER}" in text(form)
    strategy.refresh_from_db()
    assert not strategy.is_active

    allowed = make_member("staff-runner", "strategist", "trader", live=True)
    allowed.is_staff = True
    allowed.save(update_fields=["is_staff"])
    page_as(allowed).post("/admin/strategies/strategy/", {"action": "activate", "_selected_action": [strategy.pk]})
    strategy.refresh_from_db()
    assert strategy.is_active and strategy.activated_by == allowed
