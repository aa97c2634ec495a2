"""What a backtest starts with and pays unless told otherwise: the engine, the command, the API and the page
all take their defaults from here."""

from decimal import Decimal

INITIAL_BALANCE = Decimal("10000")  # USDT
FEE_RATE = Decimal("0.00055")  # per side: Bybit's taker fee on USDT perpetuals
SLIPPAGE_BPS = Decimal("2")  # how much worse than the price seen a market order fills, in basis points


def fee_percent(rate: Decimal) -> Decimal:
    """0.00055 -> 0.055: people read and type the fee in percent."""
    return (rate * 100).normalize()


FEE_PERCENT = fee_percent(FEE_RATE)

# The launch forms' starting values, as typed (the backtest and optimise pages).
FORM_DEFAULTS = {"initial_balance": str(INITIAL_BALANCE), "fee_percent": str(FEE_PERCENT),
                 "slippage_bps": str(SLIPPAGE_BPS)}
