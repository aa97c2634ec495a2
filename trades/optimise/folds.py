"""Walk-forward windows: where each fold optimises (train) and where its choice is scored, unseen (test). Pure.

The range is cut so that the test windows follow one another to its end, each ``test_share`` of its fold:

    rolling   |--train 0--|t0|                 anchored  |--train 0--|t0|
                 |--train 1--|t1|                        |---train 1----|t1|
                    |--train 2--|t2|                     |-----train 2-----|t2|

Rolling folds train on windows of equal length that move forward; anchored ones always train from the start, so
each learns from everything before its test window. Either way a test window lies after its train window and never
overlaps another test window: stitched together they are one out-of-sample run over the end of the range.
A window shorter than the strategy's warm-up (or than a few candles) would score noise, and is refused, saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MINUTE = timedelta(minutes=1)
MAX_FOLDS = 20
TEST_SHARE_RANGE = (0.05, 0.8)


class FoldError(ValueError):
    """The windows cannot be cut as asked; the message says why and what would work."""


@dataclass(frozen=True)
class Fold:
    index: int
    train_start: datetime
    train_end: datetime
    test_start: datetime | None = None  # None: in-sample only (no walk-forward)
    test_end: datetime | None = None

    @property
    def train_days(self) -> float:
        return (self.train_end - self.train_start) / timedelta(days=1)

    @property
    def test_days(self) -> float:
        return 0.0 if self.test_start is None else (self.test_end - self.test_start) / timedelta(days=1)


def in_sample(start: datetime, end: datetime, *, min_window: timedelta, why: str = "") -> list[Fold]:
    """One study over the whole range, no test window."""
    _long_enough("the range", end - start, min_window, why)
    return [Fold(0, start, end)]


def walk_forward(start: datetime, end: datetime, folds: int, test_share: float, *, anchored: bool = False,
                 min_window: timedelta, why: str = "") -> list[Fold]:
    """``folds`` train/test windows over ``[start, end)``; ``why`` explains ``min_window`` in an error."""
    if not 1 <= folds <= MAX_FOLDS:
        raise FoldError(f"walk-forward folds must be from 1 to {MAX_FOLDS}, got {folds}")
    low, high = TEST_SHARE_RANGE
    if not low <= test_share <= high:
        raise FoldError(f"the test share must be from {low} to {high} of each fold, got {test_share}")
    end -= timedelta(seconds=end.second, microseconds=end.microsecond)  # windows of whole minutes
    total = end - start
    # folds test windows of length S end the range; the first train window (T) is before them; S = share x (T + S).
    test = _minutes(total / (folds + (1 - test_share) / test_share))
    train = _minutes(test * (1 - test_share) / test_share)
    _long_enough("each test window", test, min_window, why)
    _long_enough("the first train window", train, min_window, why)
    first_test = end - folds * test
    result = []
    for index in range(folds):
        test_start = first_test + index * test
        train_start = start if anchored else test_start - train
        result.append(Fold(index, train_start, test_start, test_start, test_start + test))
    return result


def _minutes(span: timedelta) -> timedelta:
    return span - span % MINUTE


def _long_enough(what: str, span: timedelta, minimum: timedelta, why: str) -> None:
    if span < minimum:
        reason = f" ({why})" if why else ""
        raise FoldError(f"{what} would be {_words(span)}, shorter than {_words(minimum)}{reason}: use fewer folds, "
                        f"a larger test share or a longer range")


def _words(span: timedelta) -> str:
    days, rest = divmod(int(span.total_seconds()) // 60, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    return " ".join(part for part in parts if part) or "nothing"
