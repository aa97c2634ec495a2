"""Walk-forward windows: rolling and anchored, test windows back to back to the end, too-short ones refused."""

from datetime import UTC, datetime, timedelta

import pytest

from trades.optimise.folds import FoldError, in_sample, walk_forward

START, END = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_rolling_folds_train_on_equal_windows_and_test_back_to_back_up_to_the_end():
    folds = walk_forward(START, END, 5, 0.2, min_window=HOUR)
    assert len(folds) == 5 and folds[-1].test_end == END
    for fold in folds:
        assert fold.train_end == fold.test_start  # the test window follows its train window, unseen
        assert fold.test_days == pytest.approx(0.2 * (fold.train_days + fold.test_days), rel=0.01)
        assert fold.train_days == pytest.approx(folds[0].train_days)
    assert all(a.test_end == b.test_start for a, b in zip(folds, folds[1:], strict=False))  # no overlap, no gap
    assert folds[0].train_start >= START


def test_anchored_folds_always_train_from_the_start():
    folds = walk_forward(START, END, 4, 0.25, anchored=True, min_window=HOUR)
    assert {fold.train_start for fold in folds} == {START}
    assert [fold.train_end for fold in folds] == [fold.test_start for fold in folds]
    assert folds[0].train_days < folds[-1].train_days


def test_windows_are_whole_minutes():
    for fold in walk_forward(START, END + timedelta(seconds=7), 3, 0.3, min_window=HOUR):
        assert fold.test_start.second == fold.train_end.second == fold.test_end.second == 0


def test_a_window_shorter_than_the_warm_up_is_refused_saying_what_would_work():
    with pytest.raises(FoldError, match=r"each test window would be 1 d 22 h 30 min, shorter than 2 d 2 h "
                                        r"\(200 candles of 15 minutes\): use fewer folds"):
        walk_forward(START, END, 12, 0.2, min_window=timedelta(minutes=200 * 15), why="200 candles of 15 minutes")


@pytest.mark.parametrize(("folds", "share", "says"), [(0, 0.2, "from 1 to 20"), (21, 0.2, "from 1 to 20"),
                                                      (3, 0.9, "test share must be from 0.05 to 0.8")])
def test_out_of_range_settings_are_refused(folds, share, says):
    with pytest.raises(FoldError, match=says):
        walk_forward(START, END, folds, share, min_window=HOUR)


def test_in_sample_is_one_window_without_a_test():
    [fold] = in_sample(START, END, min_window=HOUR)
    assert (fold.train_start, fold.train_end, fold.test_start) == (START, END, None)
    with pytest.raises(FoldError, match="the range would be 1 h"):
        in_sample(START, START + HOUR, min_window=2 * HOUR)
