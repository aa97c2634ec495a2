"""The search space: declared ranges by default, a run's own ranges and pins, refusals that name the setting."""

from decimal import Decimal

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from core.errors import Invalid
from trades.optimise.space import Space, build_space, parse_items


def test_by_default_every_declared_parameter_is_searched_over_its_declared_range():
    space = build_space("ema_crossover")
    assert space.distributions() == {"fast": IntDistribution(3, 50), "slow": IntDistribution(10, 200)}
    assert space.pinned == {}


def test_each_kind_of_parameter_becomes_its_distribution():
    distributions = build_space("donchian_breakout").distributions()
    assert distributions["channel"] == IntDistribution(10, 100)
    assert distributions["atr_stop"] == FloatDistribution(0.5, 5.0, step=0.1)
    assert distributions["use_volume"] == CategoricalDistribution([False, True])


def test_a_runs_ranges_replace_the_declared_ones_and_the_rest_keeps_the_strategys_values():
    space = build_space("donchian_breakout", {"channel": "20:60:10", "use_volume": "true"}, {"atr_period": "21"})
    assert space.distributions() == {"channel": IntDistribution(20, 60, step=10),
                                     "use_volume": CategoricalDistribution([True])}
    assert space.pinned == {"atr_period": 21}
    assert space.split({"channel": 30, "use_volume": True}) == ({"atr_period": 21, "channel": 30, "use_volume": True},
                                                                {})


def test_a_risk_setting_can_be_searched_and_comes_back_as_a_decimal():
    space = build_space("ema_crossover", {"stop_loss_percentage": "0.5:2:0.5"})
    assert space.dimensions[0].grid_values() == [0.5, 1.0, 1.5, 2.0]
    assert space.split({"stop_loss_percentage": 1.5}) == ({}, {"stop_loss_percentage": Decimal("1.5")})


def test_the_grid_lists_every_cell_once_and_cell_n_is_the_nth():
    space = build_space("ema_crossover", {"fast": "5:50:5", "slow": "20:200:20"})
    grid = space.grid()
    assert space.grid_size() == len(grid) == 100
    assert grid[0] == {"fast": 5, "slow": 20} and grid[-1] == {"fast": 50, "slow": 200}
    assert [space.cell(n) for n in range(100)] == grid


def test_a_steps_end_is_the_last_value_it_reaches():
    assert build_space("ema_crossover", {"fast": "5:50:10"}).dimensions[0].grid_values() == [5, 15, 25, 35, 45]


def test_floats_are_stored_as_the_parameter_writes_them():
    space = build_space("donchian_breakout", {"atr_stop": "0.5:2"})
    assert space.normalise({"atr_stop": 0.30000000000000004 + 0.4}) == {"atr_stop": 0.7}


@pytest.mark.parametrize(("ranges", "pins", "says"), [
    ({"fast": "1:40"}, {}, "outside the declared range 3..50"),
    ({"fast": "20:10"}, {}, "the high end must be above the low end"),
    ({"fast": "5:9.5"}, {}, "takes whole numbers"),
    ({"fast": "a:b"}, {}, "the bounds must be numbers"),
    ({"speed": "1:2"}, {}, "speed is not a parameter of this strategy nor a risk setting"),
    ({"leverage": "1:500"}, {}, "outside the declared range 1..100"),
    ({"fast": "5:9"}, {"fast": "7"}, "searched and pinned at once"),
    ({}, {"fast": "70"}, "fast must be from 3 to 50"),
    ({}, {"speed": "1"}, "not a parameter of this strategy"),
])
def test_a_bad_range_or_pin_is_refused_naming_it(ranges, pins, says):
    with pytest.raises(Invalid, match=says) as refused:
        build_space("ema_crossover", ranges, pins)
    assert refused.value.field == "space"


def test_nothing_to_search_is_refused():
    with pytest.raises(Invalid, match="Nothing to search"):
        build_space("ema_crossover", {}, {"fast": "9", "slow": "21"})


def test_a_space_survives_its_json():
    space = build_space("donchian_breakout", {"channel": "20:60:10", "atr_stop": "1:2", "use_volume": "true,false"})
    assert Space.from_dict(space.as_dict()) == space


def test_items_are_read_as_name_and_text():
    assert parse_items(["fast=5:50", " slow = 20:200 "], "--space") == {"fast": "5:50", "slow": "20:200"}
    with pytest.raises(Invalid, match="write name=value"):
        parse_items(["fast"], "--space")
