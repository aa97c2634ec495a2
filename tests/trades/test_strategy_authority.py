"""The cycle trades a strategy on its activator's authority (issue 17, defect 6): when that person loses the order
permission, or off paper the live trading switch, the strategy holds and its decision says why; a strategy with
no recorded activator trades on paper only."""

from __future__ import annotations

import pytest

from core.models import OperatorSettings
from strategies.services import set_active
from trades.models import Decision, Trade


@pytest.fixture
def testnet(settings):
    settings.EXCHANGE_MODE = "testnet"  # the cycle's exchange is the fake Bybit either way (make_cycle)


def activated_by(strategy, person):
    strategy.activated_by = person
    strategy.save(update_fields=["activated_by"])


def held_because(strategy) -> str:
    decision = Decision.objects.get(strategy=strategy, symbol="BTCUSDT")
    assert (decision.action, decision.outcome, decision.trade) == ("LONG", "skipped", None)
    return decision.detail


def test_an_activator_who_loses_the_switch_stops_the_strategy_off_paper(testnet, long_signal, make_cycle,
                                                                        fake_bybit, make_member):
    strategy, _ = long_signal
    person = make_member("dealer", "strategist", "trader", live=True)
    activated_by(strategy, person)
    OperatorSettings.objects.filter(user=person).update(live_trading_enabled=False)

    report = make_cycle().run([strategy])

    assert report.orders == 0 and fake_bybit.orders_received == [] and not Trade.objects.exists()
    assert held_because(strategy).startswith("not trading: dealer, who activated it, has live trading switched off")


def test_an_activator_who_loses_the_order_permission_stops_the_strategy_on_paper_too(long_signal, make_cycle,
                                                                                    fake_bybit, make_member):
    strategy, _ = long_signal
    person = make_member("dealer", "strategist", "trader", live=True)
    activated_by(strategy, person)
    person.groups.remove(person.groups.get(name="trader"))

    report = make_cycle().run([strategy])

    assert report.orders == 0 and fake_bybit.orders_received == []
    assert held_because(strategy).startswith("not trading: dealer, who activated it, no longer has the order "
                                             "permission")


def test_a_deactivated_account_stops_its_strategies(long_signal, make_cycle, fake_bybit, make_member):
    strategy, _ = long_signal
    person = make_member("leaver", "trader", live=True)
    activated_by(strategy, person)
    person.is_active = False
    person.save(update_fields=["is_active"])

    assert make_cycle().run([strategy]).orders == 0 and fake_bybit.orders_received == []
    assert "leaver, who activated it, has a deactivated account" in held_because(strategy)


def test_a_strategy_nobody_is_recorded_to_have_activated_trades_on_paper_only(testnet, long_signal, make_cycle,
                                                                             fake_bybit, settings, make_member):
    strategy, _ = long_signal
    activated_by(strategy, None)  # activated before activators were recorded

    held = make_cycle().run([strategy])
    assert held.orders == 0 and fake_bybit.orders_received == []
    assert "nobody is recorded as having activated it" in held_because(strategy)
    assert "on the testnet exchange a person allowed to trade must activate it again" in held_because(strategy)

    # Activating it again (it is still active) puts it under that person's authority, and it trades.
    set_active(strategy, True, by=make_member("dealer", "trader", live=True))
    assert make_cycle().run([strategy]).orders == 1 and len(fake_bybit.orders_received) == 1


def test_on_paper_a_strategy_without_a_recorded_activator_keeps_trading(long_signal, make_cycle, fake_bybit,
                                                                        settings):
    settings.EXCHANGE_MODE = "paper"  # the demo seed's strategy, as `make run` creates it
    strategy, _ = long_signal
    activated_by(strategy, None)

    assert make_cycle().run([strategy]).orders == 1


def test_the_strategies_page_says_an_active_strategy_holds_and_why(testnet, make_strategy, logged_in_client):
    strategy = make_strategy(name="orphan", is_active=True)
    activated_by(strategy, None)

    page = logged_in_client.get("/strategies/").content.decode()

    assert "Does not trade: nobody is recorded as having activated it" in page
