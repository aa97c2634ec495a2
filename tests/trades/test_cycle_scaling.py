"""Issue 23: the cycle at ten thousand pairs. Klines parsed straight to a frame, fetched once per (symbol, interval)
for every strategy of a run, evaluations shared between strategies with the same settings, the dispatcher's split
into groups of whole strategies, and the check of a configuration against Bybit's IP limit."""

from decimal import Decimal

import pandas as pd
import pytest

from exchange import bybit_parse
from market.candles import candles_to_frame
from market.errors import ExchangeError
from strategies.models import Strategy
from tests.fakes.scenarios import serve, signal_window
from trades.models import Decision
from trades.runner import CALLS_PER_TASK, kline_calls, rate_limit_problem, strategy_groups

SYMBOLS = [f"SYM{number:03d}USDT" for number in range(500)]
KLINE_ROWS = [["1767225600000", "100.5", "101", "99.25", "100", "12.5", "1250"],
              ["1767225300000", "100", "100.75", "99.5", "100.5", "3", "300"]]  # newest first, as Bybit sends


def test_klines_parse_straight_to_the_same_frame_as_through_candles():
    result = {"list": KLINE_ROWS}
    fast = bybit_parse.kline_frame(result)
    # The same numbers, times and labels (held as plain objects rather than pandas' Arrow strings: cheaper to add to).
    pd.testing.assert_frame_equal(fast, candles_to_frame(bybit_parse.candles(result)), check_exact=True,
                                  check_column_type=False)
    assert fast.index[0] < fast.index[1] and fast["close"].tolist() == [100.5, 100.0]
    assert bybit_parse.kline_frame({"list": []}).empty


def test_a_kline_that_is_not_numbers_is_an_exchange_error():
    with pytest.raises(ExchangeError, match="not six numbers"):
        bybit_parse.kline_frame({"list": [["1767225600000", "abc", "1", "1", "1", "1"]]})


def strategies(count: int, symbols: list[str], timeframes=("5", "15")) -> list[Strategy]:
    return [Strategy(pk=index + 1, name=f"s{index}", type=("scalping", "trend_following")[index % 2],
                     symbols=symbols, timeframe=timeframes[index * len(timeframes) // count]) for index in range(count)]


def test_twenty_strategies_on_500_symbols_split_by_timeframe_so_no_kline_is_fetched_twice():
    groups = strategy_groups(strategies(20, SYMBOLS))  # CYCLE_PAIRS_PER_TASK: 5,000
    assert [sum(len(s.symbols) for s in group) for group in groups] == [5000] * 2
    assert sorted(s.pk for group in groups for s in group) == list(range(1, 21))  # each strategy once, whole
    assert [{s.timeframe for s in group} for group in groups] == [{"15"}, {"5"}]  # a group shares its klines
    # One kline request per (symbol, interval) a group needs, plus each group's time, balance and positions.
    assert kline_calls(groups) == 2 * (500 + CALLS_PER_TASK)


def test_smaller_sub_tasks_spread_wider_and_pay_for_it_in_requests(settings):
    settings.CYCLE_PAIRS_PER_TASK = 2500  # for several worker machines, each with its own address
    groups = strategy_groups(strategies(20, SYMBOLS))
    assert [sum(len(s.symbols) for s in group) for group in groups] == [2500] * 4
    assert all(len({s.timeframe for s in group}) == 1 for group in groups)
    assert kline_calls(groups) == 4 * (500 + CALLS_PER_TASK)  # each timeframe's klines fetched by two groups


def test_a_few_strategies_stay_one_group_and_a_huge_one_is_never_split():
    assert len(strategy_groups(strategies(3, SYMBOLS[:10]))) == 1
    huge = strategies(1, SYMBOLS * 8)  # 4,000 pairs in one strategy
    assert strategy_groups(huge) == [huge]


def test_a_configuration_over_bybits_ip_limit_is_named_with_what_to_change():
    assert rate_limit_problem(2_012) == ""  # 18 s at BYBIT_IP_LIMIT's 110 requests a second
    problem = rate_limit_problem(10_000)  # 20 strategies each fetching 500 symbols apart: 91 s
    assert "91 s" in problem and "550 requests per 5 s per IP" in problem and "more worker machines" in problem
    assert rate_limit_problem(10_000, ips=2) == ""


@pytest.mark.django_db(transaction=True)
def test_strategies_with_the_same_settings_share_one_kline_request_and_one_evaluation(fake_bybit, make_cycle,
                                                                                      make_strategy):
    candles, _ = signal_window(action="LONG", strategy_type="trend_following", symbol="BTCUSDT", interval="1")
    serve(fake_bybit, "BTCUSDT", "1", candles)
    same = [make_strategy(type="trend_following", symbols=["BTCUSDT"], timeframe="1", risk_percentage=Decimal(r))
            for r in ("0.5", "1")]
    other = make_strategy(type="scalping", symbols=["BTCUSDT"], timeframe="1")
    before = len(fake_bybit.requests_to("/v5/market/kline"))

    report = make_cycle(dry_run=True).run([*same, other])

    assert len(fake_bybit.requests_to("/v5/market/kline")) - before == 1  # one request for three strategies
    first, second, third = (pair.signal for pair in report.pairs)
    assert first is second and first.action == "LONG"  # the same question, answered once
    assert third is not first and third.reasons != first.reasons
    assert Decision.objects.filter(symbol="BTCUSDT").count() == 3
