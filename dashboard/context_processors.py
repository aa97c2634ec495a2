from django.conf import settings


def bot(request):
    """What every page shows in its header: which exchange the bot trades on."""
    return {
        "exchange_mode": settings.EXCHANGE_MODE,
        "market_data": settings.MARKET_DATA if settings.EXCHANGE_MODE == "paper" else "bybit",
    }
