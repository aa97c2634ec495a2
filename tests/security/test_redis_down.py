"""Redis down (issue 17, defect 7): a write that needs it answers 503 saying so, never a 500; signing in works without
it (the lockout steps aside and logs it); live events missed never break a request or a trade.

"Down" is real: a private redis-server on a free port (the shared one on 6379 serves other test runs) becomes the
cache and the channel layer, answers once, and is SIGKILLed before the request."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache
from django.http import HttpResponse
from django.test import Client
from django.urls import path
from django.views.decorators.http import require_POST

from exchange.models import PaperOrder
from tests.hardening.processes import PrivateRedis
from tradebot.urls import urlpatterns as project_urlpatterns
from trades.models import Trade

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # the ``user`` fixture's
ORDER = {"symbol": "ETHUSDT", "side": "Buy", "qty": "0.5"}


@require_POST
def remember(request):
    """A page write that needs the cache, as any future one may (the project's own all degrade or go through DRF)."""
    cache.set(f"remembered:{request.user.pk}", request.POST.get("value", ""))
    return HttpResponse("remembered")


urlpatterns = [*project_urlpatterns, path("test/remember", remember)]  # for @pytest.mark.urls(__name__)


@pytest.fixture
def private_redis():
    server = PrivateRedis().start()
    yield server
    server.stop()


def use_redis(settings, url: str, *, cache_too: bool = True) -> None:
    """The channel layer (and the cache) on ``url``. Changing the settings drops Django's cache connections and
    Channels' layers (both listen to ``setting_changed``), so the next call connects to ``url``."""
    if cache_too:
        settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": url}}
    settings.CHANNEL_LAYERS = {"default": {**settings.CHANNEL_LAYERS["default"],
                                           "CONFIG": {"hosts": [{"address": url}], "prefix": "redis-down-test"}}}


@pytest.fixture
def redis_down(settings, private_redis, paper):
    use_redis(settings, private_redis.url)
    cache.set("redis-down-test", 1)  # connected to the private server: the settings took effect
    assert cache.get("redis-down-test") == 1
    private_redis.kill()


def warned(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]


def test_an_order_answers_503_naming_redis_and_places_nothing(redis_down, api_client, caplog):
    response = api_client.post("/api/bybit/order", ORDER, format="json")

    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("Redis (the cache) is not reachable: ")
    assert response.json()["detail"].endswith("; try again when it is back.")
    assert response["Retry-After"] == "30"
    assert not Trade.objects.exists() and not PaperOrder.objects.exists()
    assert len(warned(caplog, "Redis unreachable, answered 503")) == 1


@pytest.mark.parametrize("login", ["/accounts/login/", "/admin/login/"])
def test_the_right_password_signs_in_and_the_lockout_says_it_is_unavailable(redis_down, user, login, caplog):
    landing = "/admin/" if login.startswith("/admin/") else "/trades/"
    client = Client(REMOTE_ADDR="203.0.113.7")

    response = client.post(login, {"username": "trader", "password": PASSWORD, "next": landing})

    assert (response.status_code, response["Location"]) == (302, landing)
    assert client.get(landing).status_code == 200  # the session (database-backed) works
    assert warned(caplog, "login lockout unavailable: ")


@pytest.mark.parametrize(("login", "refusal"), [
    ("/accounts/login/", "didn't match"),
    ("/admin/login/", "Please enter the correct username and password for a staff account."),
])
def test_a_wrong_password_is_the_usual_form_error(redis_down, user, login, refusal):
    client = Client(REMOTE_ADDR="203.0.113.7")

    response = client.post(login, {"username": "trader", "password": "wrong"})

    assert response.status_code == 200 and refusal in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("htmx", [False, True])
def test_a_page_write_that_needs_redis_answers_a_503_page(redis_down, logged_in_client, htmx, caplog):
    headers = {"HX-Request": "true"} if htmx else {}

    response = logged_in_client.post("/test/remember", {"value": "x"}, headers=headers)

    page = response.content.decode()
    assert response.status_code == 503 and response["Content-Type"].startswith("text/html")
    assert "Redis (the cache) is not reachable: " in page and "Traceback" not in page
    assert response["Retry-After"] == "30"
    assert len(warned(caplog, "Redis unreachable, answered 503")) == 1


def test_without_the_channel_layer_pages_and_trades_go_on(settings, private_redis, paper, logged_in_client,
                                                          api_client, django_capture_on_commit_callbacks, caplog):
    """The cache is up (the shared Redis), only live events are lost: they are logged, nothing else notices.
    (This held before the 503 work too; it guards core.events' promise.)"""
    use_redis(settings, private_redis.url, cache_too=False)
    private_redis.kill()

    assert logged_in_client.get("/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):  # events go out after the commit
        response = api_client.post("/api/bybit/order", ORDER, format="json")

    assert response.status_code == 201, response.content
    assert Trade.objects.filter(symbol="ETHUSDT").exists()
    assert warned(caplog, "live event not delivered")
