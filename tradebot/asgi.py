"""HTTP through Django's WSGI handler in a worker thread (``tradebot.http``), WebSocket (/ws/) through Channels with
the session's (or an API token's) user."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradebot.settings")
django_wsgi_app = get_wsgi_application()  # also sets Django up, before the imports below

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the apps loaded)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from core.security import TokenAuthMiddleware  # noqa: E402
from dashboard.routing import websocket_urlpatterns  # noqa: E402
from tradebot.http import DjangoHTTP  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": DjangoHTTP(django_wsgi_app, threads=settings.MAX_CONCURRENT_REQUESTS),
        # A browser's session cookie, or a script's API token (Authorization: Token <key>).
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))),
    }
)

# What was loaded at start-up lives as long as the process: out of the collector's way. The young generation is
# collected less often: a request allocates thousands of short-lived objects, and each collection paused every
# thread of the process (p99 latency halved with both, benchmarks/load_bench.py).
gc.collect()
gc.freeze()
gc.set_threshold(20_000, 20, 100)
