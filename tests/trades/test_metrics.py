from decimal import Decimal as D

from trades.metrics import max_drawdown, trade_stats


def test_it_computes_the_seed_statistics_by_hand():
    stats = trade_stats([D("100"), D("-50"), D("30"), D("-80"), D("20")])
    assert (stats.total_trades, stats.wins, stats.losses) == (5, 3, 2)
    assert stats.win_rate == D("60.0000")
    assert stats.total_pnl == D("20")
    assert stats.average_pnl == D("4.0000")
    assert stats.profit_factor == D("1.1538")  # 150 / 130
    assert stats.max_drawdown == D("100")  # peak +100 -> trough +0 (100-50+30-80)


def test_it_has_no_profit_factor_without_losses_and_nothing_for_no_trades():
    assert trade_stats([D("5"), D("7")]).profit_factor is None
    empty = trade_stats([])
    assert (empty.total_trades, empty.win_rate, empty.average_pnl, empty.max_drawdown) == (0, None, None, D("0"))


def test_it_locates_the_drawdown():
    drawdown = max_drawdown([D("10"), D("-4"), D("-7"), D("20")], starting_equity=D("100"))
    assert (drawdown.value, drawdown.peak_index, drawdown.trough_index) == (D("11"), 0, 2)
