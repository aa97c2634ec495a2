"""Backtesting: the live cycle's own indicator, signal, risk and fill functions replayed over history.

- ``data``: where candles come from (bundled, a CSV/Parquet file, the download cache), gaps, checksum.
- ``inputs``: a strategy's signals over a whole history, and when each one may be acted on.
- ``engine``: the simulation (numpy for everything per candle, one Python step per signal).
- ``report``: metrics, equity curve, trade list, tables.
- ``runner``: one run end to end, stored as a ``BacktestRun``; ``grid``: a parameter sweep.
"""
