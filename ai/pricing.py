"""What one AI question costs, spelled once for the recorded calls and the backtest's estimate."""

from decimal import Decimal

MILLION = Decimal(1_000_000)


def cost_usd(prompt_tokens: int, completion_tokens: int, *, input_per_mtok: Decimal,
             output_per_mtok: Decimal) -> Decimal:
    """USD at per-million-token prices, not rounded: an estimate multiplies it by many questions first."""
    return (prompt_tokens * Decimal(input_per_mtok) + completion_tokens * Decimal(output_per_mtok)) / MILLION
