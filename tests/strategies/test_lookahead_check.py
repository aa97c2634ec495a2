"""The look-ahead and warm-up check, and the gate it puts in front of every activation: a strategy that reads the
future (``shift(-1)``) or trusts a 50-candle average after 5 candles is caught and named; the built-ins pass; an
activation of a failing strategy (API create, update and activate, ``services.switch``, the admin's action) is
refused with the report and changes nothing; a pass is remembered until the file changes."""

from __future__ import annotations

import pytest
from django.conf import settings

from exchange.replay import load_minutes
from market.candles import bundled_files, resample
from strategies import catalogue, services
from strategies.checks import CheckFailed, check_strategy
from strategies.models import Strategy, StrategyCheck
from strategies.sdk import IStrategy
from strategies.sdk.lookahead import check
from tests.strategies.test_strategy_admin import FORM as ADMIN_FORM

PEEKING = '''
from strategies.sdk import IStrategy


class Peeking(IStrategy):
    """Enters when the next candle closes higher: it reads the future."""

    timeframe = "15"
    startup_candle_count = 20

    def populate_indicators(self, frame, metadata):
        frame["next_close"] = frame["close"].shift(-1)
        return frame

    def populate_entry_trend(self, frame, metadata):
        frame.loc[frame["next_close"] > frame["close"] * 1.002, ["enter_long", "enter_tag"]] = (True, "up next")
        return frame
'''

HONEST = '''
from strategies.sdk import IStrategy
from strategies.sdk.indicators import crossed_above, sma


class Honest(IStrategy):
    """Long on the close crossing above its 20-candle average."""

    timeframe = "15"
    startup_candle_count = 30

    def populate_indicators(self, frame, metadata):
        frame["average"] = sma(frame["close"], 20)
        return frame

    def populate_entry_trend(self, frame, metadata):
        frame.loc[crossed_above(frame["close"], frame["average"]), "enter_long"] = True
        return frame
'''


class ShortWarmup(IStrategy):
    """A 50-candle average trusted after 5 candles."""

    timeframe = "15"
    startup_candle_count = 5

    def populate_indicators(self, frame, metadata):
        frame["sma_slow"] = frame["close"].rolling(50).mean()
        return frame

    def populate_entry_trend(self, frame, metadata):
        frame.loc[frame["close"] > frame["sma_slow"], "enter_long"] = True
        return frame


class PeekInEntryHook(IStrategy):
    """The look-ahead written straight into the entry hook."""

    timeframe = "15"
    startup_candle_count = 20

    def populate_entry_trend(self, frame, metadata):
        frame["enter_long"] = frame["close"].shift(-1) > frame["close"]
        return frame


@pytest.fixture(scope="module")
def btc_15m():
    minutes = load_minutes(str(bundled_files(settings.CANDLE_DATA_DIR)["BTCUSDT"]))
    return resample(minutes, "15").iloc[-1500:]


@pytest.fixture
def strategy_dir(tmp_path, settings):
    settings.STRATEGY_DIRS = [tmp_path]

    def write(name: str, source: str):
        (tmp_path / f"{name}.py").write_text(source)
        catalogue.refresh()

    write("peeking", PEEKING)
    write("honest", HONEST)
    return write


# The check itself -------------------------------------------------------------------------------------------------

def test_a_shift_minus_one_in_populate_indicators_is_look_ahead_naming_the_column_and_the_candle(btc_15m):
    namespace = {}
    exec(compile(PEEKING, "peeking.py", "exec"), namespace)  # noqa: S102 - the test's own strategy source
    report = check(namespace["Peeking"], {}, btc_15m)
    assert not report.passed
    assert report.lookahead_columns == ["enter_long", "enter_tag", "next_close"]
    first = report.lookahead[-1]
    assert first.column == "next_close" and first.other_value != first.other_value  # NaN: the next candle is gone
    assert first.full_value == btc_15m["close"].shift(-1)[first.time]
    text = report.text()
    assert "Peeking failed the check: it looks into the future (enter_long, enter_tag, next_close)." in text
    assert f"'next_close' on the candle of {first.time:%Y-%m-%d %H:%M} UTC was" in text
    assert report.warmup == ()


def test_a_shift_minus_one_in_the_entry_hook_is_caught_on_the_signal_column(btc_15m):
    report = check(PeekInEntryHook, {}, btc_15m)
    assert report.lookahead_columns == ["enter_long"]
    assert "was True with the later candles available and False without them" in report.text()


def test_a_50_candle_average_after_5_startup_candles_fails_the_warmup_check_naming_the_column(btc_15m):
    report = check(ShortWarmup, {}, btc_15m)
    assert not report.passed and report.lookahead == ()
    assert "sma_slow" in report.warmup_columns
    problem = next(problem for problem in report.warmup if problem.column == "sma_slow")
    assert problem.needed == 50 and problem.startup == 5
    assert ("'sma_slow' has no value yet after 5 start-up candles; set startup_candle_count to at least 50 "
            "(now 5, 45 more)") in report.text()
    assert "its warm-up is too short" in report.summary()


def test_the_same_strategy_with_the_warmup_it_needs_passes(btc_15m):
    enough = type("EnoughWarmup", (ShortWarmup,), {"startup_candle_count": 50})
    report = check(enough, {}, btc_15m)
    assert report.passed, report.text()
    assert report.summary().startswith("EnoughWarmup passed: its signals on 1500 candles did not change")


@pytest.mark.parametrize("key", ["scalping", "trend_following", "ema_crossover", "donchian_breakout",
                                 "mean_reversion_htf"])
def test_every_builtin_passes_on_the_bundled_candles(key):
    report = check_strategy(key, {})
    assert report.passed, report.text()
    assert report.cuts == 20 and report.warmup_checked


def test_a_strategy_that_raises_fails_the_check_with_its_error(btc_15m):
    broken = type("Broken", (IStrategy,), {"timeframe": "15", "populate_entry_trend": lambda self, f, m: 1 / 0})
    report = check(broken, {}, btc_15m)
    assert not report.passed
    assert report.summary().startswith("Broken could not be checked: Broken.populate_entry_trend raised "
                                       "ZeroDivisionError")


# The gate ---------------------------------------------------------------------------------------------------------

BODY = {"name": "Peeker", "type": "Peeking", "symbols": ["BTCUSDT"], "timeframe": "15", "risk_percentage": "1",
        "max_positions": 1, "stop_loss_percentage": "1", "take_profit_percentage": "2", "indicators": {}}


@pytest.mark.django_db
def test_the_api_refuses_to_create_an_active_strategy_that_looks_ahead(api_client, strategy_dir):
    response = api_client.post("/api/strategies", {**BODY, "is_active": True}, format="json")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("Not activated: it failed the look-ahead and warm-up check.")
    assert "it looks into the future" in detail and "'next_close'" in detail
    assert not Strategy.objects.exists()
    # Inactive, it may be created (and backtested): only trading it is refused.
    assert api_client.post("/api/strategies", BODY, format="json").status_code == 201


@pytest.mark.django_db
def test_the_api_refuses_to_activate_it_by_update_or_by_the_activate_endpoint(api_client, strategy_dir,
                                                                              make_strategy):
    strategy = make_strategy(name="Peeker", type="Peeking", timeframe="15", is_active=False)
    patched = api_client.patch(f"/api/strategies/{strategy.pk}", {"is_active": True}, format="json")
    assert patched.status_code == 400 and "'next_close'" in patched.json()["detail"]
    activated = api_client.post(f"/api/strategies/{strategy.pk}/activate")
    assert activated.status_code == 400 and "'next_close'" in activated.json()["detail"]
    strategy.refresh_from_db()
    assert (strategy.is_active, strategy.activated_by) == (False, None)


@pytest.mark.django_db
def test_an_active_strategy_switched_to_a_class_that_looks_ahead_is_refused(api_client, strategy_dir, make_strategy):
    strategy = make_strategy(name="Honest one", type="Honest", timeframe="15")
    response = api_client.patch(f"/api/strategies/{strategy.pk}", {"type": "Peeking"}, format="json")
    assert response.status_code == 400 and "'next_close'" in response.json()["detail"]
    strategy.refresh_from_db()
    assert strategy.type == "Honest" and strategy.is_active
    assert api_client.patch(f"/api/strategies/{strategy.pk}", {"max_positions": 2}, format="json").status_code == 200


@pytest.mark.django_db
def test_services_switch_refuses_it_naming_the_column_and_changes_nothing(user, strategy_dir, make_strategy):
    strategy = make_strategy(name="Peeker", type="Peeking", timeframe="15", is_active=False)
    with pytest.raises(CheckFailed) as refused:
        services.switch(user, strategy.pk, True)
    assert refused.value.status == 400
    assert "it looks into the future (enter_long, enter_tag, next_close)" in refused.value.message
    strategy.refresh_from_db()
    assert (strategy.is_active, strategy.activated_by) == (False, None)
    assert services.switch(user, strategy.pk, False).is_active is False  # deactivating needs no check


@pytest.mark.django_db
def test_the_admin_action_refuses_the_failing_strategy_and_activates_the_others(logged_in_client, strategy_dir,
                                                                                make_strategy):
    peeker = make_strategy(name="Peeker", type="Peeking", timeframe="15", is_active=False)
    builtin = make_strategy(name="Scalper", is_active=False)
    response = logged_in_client.post("/admin/strategies/strategy/", {
        "action": "activate", "_selected_action": [peeker.pk, builtin.pk]}, follow=True)
    body = response.content.decode()
    assert "Peeker: Not activated: it failed the look-ahead and warm-up check." in body
    assert "1 strategies activated" in body
    assert list(Strategy.objects.filter(is_active=True).values_list("name", flat=True)) == ["Scalper"]


@pytest.mark.django_db
def test_a_pass_is_remembered_until_the_class_file_changes(user, strategy_dir, make_strategy):
    strategy = make_strategy(name="Honest one", type="Honest", timeframe="15", is_active=False)
    services.switch(user, strategy.pk, True)
    first = StrategyCheck.objects.get(key="Honest")
    assert first.passed and first.symbol == "BTCUSDT"
    services.switch(user, strategy.pk, False)
    services.switch(user, strategy.pk, True)
    again = StrategyCheck.objects.get(key="Honest")
    assert again.checked_at == first.checked_at  # not run again
    strategy_dir("honest", HONEST + "\n# edited\n")
    services.switch(user, strategy.pk, True)
    assert StrategyCheck.objects.filter(key="Honest").count() == 2  # the edited file was checked afresh


def test_the_admin_change_form_refuses_to_save_an_active_strategy_that_looks_ahead(logged_in_client, strategy_dir):
    form = {**ADMIN_FORM, "name": "Peeker", "type": "Peeking", "timeframe": "15", "indicators": "{}", "is_active": "on"}
    response = logged_in_client.post("/admin/strategies/strategy/add/", form)
    assert response.status_code == 200  # the form again, with the refusal
    assert "it failed the look-ahead and warm-up check" in response.content.decode()
    assert not Strategy.objects.filter(name="Peeker").exists()
    inactive = {key: value for key, value in form.items() if key != "is_active"}
    assert logged_in_client.post("/admin/strategies/strategy/add/", inactive).status_code == 302  # saved, off
    assert Strategy.objects.get(name="Peeker").is_active is False
