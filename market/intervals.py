"""Bybit v5 kline intervals and their length in minutes."""

from datetime import timedelta

INTERVAL_MINUTES: dict[str, int] = {
    "1": 1, "3": 3, "5": 5, "15": 15, "30": 30,
    "60": 60, "120": 120, "240": 240, "360": 360, "720": 720,
    "D": 1440, "W": 10080,
}
INTERVAL_LABELS: dict[str, str] = {
    "1": "1 minute", "3": "3 minutes", "5": "5 minutes", "15": "15 minutes", "30": "30 minutes",
    "60": "1 hour", "120": "2 hours", "240": "4 hours", "360": "6 hours", "720": "12 hours",
    "D": "1 day", "W": "1 week",
}


def interval_delta(interval: str) -> timedelta:
    try:
        return timedelta(minutes=INTERVAL_MINUTES[interval])
    except KeyError:
        raise ValueError(f"unknown interval {interval!r}; use one of {', '.join(INTERVAL_MINUTES)}") from None


# Bybit's weekly candles open on Mondays at 00:00 UTC; every shorter candle opens on a multiple of its length since
# the epoch, 1970-01-01, a Thursday: only the week is offset, by the four days to the first Monday.
WEEK_OFFSET_MINUTES = 4 * 1440


def origin_minutes(candle_minutes: int) -> int:
    """Minutes after the epoch at which candles of this length are counted from."""
    return WEEK_OFFSET_MINUTES if candle_minutes == INTERVAL_MINUTES["W"] else 0
