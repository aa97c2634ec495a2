"""Every route the URL conf has, with every method, refuses anonymous callers and CSRF-less session writes; a
signed-in user without permissions reads every page and endpoint and changes nothing; a trader with the live
trading switch off reaches no exchange through any of them.

The routes are walked, not listed (``tests/security/urlwalk.py``): an endpoint added tomorrow is tested by
these same tests, and one added without protection fails them.
"""

from __future__ import annotations

import html
import json
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory
from django.utils import timezone
from rest_framework.authtoken.models import Token

from exchange.models import MarketSubscription
from strategies.models import Strategy
from tests.security.urlwalk import ALL_METHODS, UNSAFE_METHODS, routes
from trades.models import BacktestRun, EntrySwitch, Trade, TradeStatus

pytestmark = pytest.mark.django_db

# The only routes that answer a stranger: the health check, the icon browsers fetch, and the two login forms.
PUBLIC = {"/healthz", "/favicon.ico", "/accounts/login/", "/admin/login/"}
LOGIN_PAGES = {"/accounts/login/", "/admin/login/"}
# A signed-in user's own session and password: theirs to change whatever their permissions (and logging out would
# end the walk's session).
OWN_ACCOUNT = {"/accounts/login/", "/accounts/logout/", "/accounts/password_change/",
               "/accounts/password_change/done/", "/admin/login/", "/admin/logout/"}
# What a write carries in the permission walks: valid for the order, leverage, stop-loss, close-position, subscribe
# and strategy endpoints alike, so a refusal is the permission's, not the body's.
WRITE_BODY = {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.001", "order_type": "Market", "leverage": "2",
              "stop_loss": "50000", "symbols": ["BTCUSDT"], "name": "walk", "type": "scalping", "timeframe": "5",
              "is_active": True}


def call(client: Client, method: str, path: str, **extra):
    return getattr(client, method.lower())(path, **extra)


def refusal_of_a_stranger(response) -> str | None:
    """None if the answer refuses an anonymous caller; otherwise what is wrong with it."""
    if response.status_code in (401, 403):
        return None
    if response.status_code == 302 and urlsplit(response["Location"]).path in LOGIN_PAGES:
        return None
    return f"answered {response.status_code} {response.get('Location', '')}".strip()


def test_the_walk_finds_every_part_of_the_site():
    paths = {route.path for route in routes()}
    assert {"/", "/trades/", "/strategies/", "/backtests/", "/admin/", "/api/schema/", "/api/docs/",
            "/api/bybit/order", "/api/trades/1/close", "/api/strategies/1", "/api/backtests", "/api/chart/equity",
            "/api/bot/status", "/cards/status"} <= paths
    assert len(paths) > 100  # the admin's model pages are in it too


def test_every_route_and_method_refuses_an_anonymous_caller(client):
    problems, checked = [], 0
    for route in routes():
        if route.path in PUBLIC:
            continue
        for method in ALL_METHODS:
            checked += 1
            problem = refusal_of_a_stranger(call(client, method, route.path))
            if problem:
                problems.append(f"{method} {route.path} ({route.view_name}) {problem}")
    assert not problems, "open to anonymous callers:\n" + "\n".join(problems)
    assert checked > 700


def test_only_the_health_check_and_the_login_forms_answer_a_stranger(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    icon = client.get("/favicon.ico")
    assert icon.status_code == 301 and icon["Location"].endswith("/favicon.svg")
    for path in LOGIN_PAGES:
        page = client.get(path)
        assert page.status_code == 200 and b'name="password"' in page.content, path
    assert PUBLIC <= {route.path for route in routes()}  # a renamed public route must be renamed here too


def test_every_write_with_a_session_but_no_csrf_token_is_refused(django_user_model):
    """A forged cross-site request carries the victim's cookies (session and CSRF cookie), never the token."""
    admin = django_user_model.objects.create_superuser("csrf-victim", "v@example.com", "pw-not-used-here")
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    client.cookies["csrftoken"] = get_token(RequestFactory().get("/"))
    problems, checked = [], 0
    for route in routes():
        for method in UNSAFE_METHODS:
            checked += 1
            response = call(client, method, route.path, data="{}", content_type="application/json")
            reason = response.content.decode(errors="replace") + str(getattr(response, "data", ""))  # DRF's, as sent
            if response.status_code != 403 or "CSRF" not in reason:
                problems.append(f"{method} {route.path} ({route.view_name}) answered {response.status_code}")
    assert not problems, "writes accepted without a CSRF token:\n" + "\n".join(problems)
    assert checked > 400


def test_every_class_based_view_declares_only_methods_the_walk_tries():
    for route in routes():
        declared = route.declared_methods
        if declared is not None:
            assert set(declared) <= set(ALL_METHODS) | {"TRACE"}, (route.path, declared)


def test_the_same_session_write_with_its_csrf_token_goes_through(make_member, make_strategy):
    strategy = make_strategy(is_active=True)
    user = make_member("csrf-user", "strategist", "trader")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    token = get_token(RequestFactory().get("/"))
    client.cookies["csrftoken"] = token

    page = client.post(f"/strategies/{strategy.pk}/deactivate", HTTP_X_CSRFTOKEN=token)
    api = client.post(f"/api/strategies/{strategy.pk}/activate", HTTP_X_CSRFTOKEN=token)

    assert page.status_code == 302 and api.status_code == 200, (page.status_code, api.content)
    strategy.refresh_from_db()
    assert strategy.is_active


def test_token_auth_works_for_scripts_and_needs_no_csrf_token(make_member, make_strategy):
    strategy = make_strategy(is_active=True)
    user = make_member("script", "strategist")
    token = Token.objects.create(user=user)
    script = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {token.key}")

    balance = script.get("/api/bybit/balance")
    switched = script.post(f"/api/strategies/{strategy.pk}/deactivate")

    assert balance.status_code == 200 and "equity" in balance.json()
    assert switched.status_code == 200
    strategy.refresh_from_db()
    assert not strategy.is_active


def test_a_wrong_or_revoked_token_is_refused(django_user_model):
    user = django_user_model.objects.create_user("script", password=None)
    token = Token.objects.create(user=user)
    key = token.key
    wrong = Client(HTTP_AUTHORIZATION="Token not-a-real-token").get("/api/bybit/balance")
    token.delete()
    revoked = Client(HTTP_AUTHORIZATION=f"Token {key}").get("/api/bybit/balance")
    anonymous = Client().get("/api/bybit/balance")
    for refused in (wrong, revoked, anonymous):
        # 401 and the scheme to use: token authentication is DRF's first authenticator, so it names it.
        assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Token", refused
    assert wrong.json() == revoked.json() == {"detail": "Invalid token."}


# Permissions: the same walk as a signed-in user who may read but not act -----------------------------------------

def write(client: Client, method: str, path: str, *, htmx: bool):
    """A write as the API's scripts send it (JSON) or as the pages' forms do, plain or from htmx."""
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    if path.startswith("/api/"):
        return call(client, method, path, data=json.dumps(WRITE_BODY), content_type="application/json", **headers)
    if method == "POST":
        return client.post(path, {**WRITE_BODY, "symbols": "BTCUSDT"}, **headers)
    return call(client, method, path, **headers)


def not_offered(response, method: str) -> bool:
    """405 for a method the route does not have at all: nothing to refuse."""
    allowed = {name.strip() for name in response.get("Allow", "").split(",")}
    return response.status_code == 405 and method not in allowed


def walk_objects(make_strategy):
    """Id 1 of each kind the routes' sample paths name, so detail pages and row fragments have something to show."""
    strategy = make_strategy(pk=1, name="walked", is_active=True)
    Trade.objects.create(pk=1, strategy=strategy, symbol="BTCUSDT", side="Buy", quantity=Decimal("0.01"),
                         price=Decimal("65000"), status=TradeStatus.OPEN, order_link_id="walk-open-1")
    now = timezone.now()
    BacktestRun.objects.create(pk=1, strategy=strategy, name="walked", symbol="BTCUSDT", timeframe="5",
                               start=now - timezone.timedelta(days=1), end=now, initial_balance=Decimal("10000"),
                               data={"source": "bundled"})
    return strategy


def walk_as(client: Client):
    """Every route but the admin's and the caller's own account, every write method plain and from htmx, and GET.
    Returns (reads, writes): lists of (method, path, view name, response)."""
    reads, writes = [], []
    for route in routes():
        if route.path in OWN_ACCOUNT or route.path.startswith("/admin/"):
            continue
        reads.append(("GET", route.path, route.view_name, client.get(route.path)))
        for method in UNSAFE_METHODS:
            for htmx in (False, True):
                response = write(client, method, route.path, htmx=htmx)
                writes.append((f"{method}{' (htmx)' if htmx else ''}", route.path, route.view_name, response))
    return reads, writes


def read_problem(response) -> str | None:
    if response.status_code in (401, 403) or response.status_code >= 500:
        return f"answered {response.status_code}"
    if response.status_code == 302 and urlsplit(response["Location"]).path in LOGIN_PAGES:
        return "sent to the login page"
    return None


def test_a_user_without_permissions_reads_everything_and_changes_nothing(paper, make_member, make_strategy, client):
    strategy = walk_objects(make_strategy)
    client.force_login(make_member("onlooker", live=True))  # the switch on: the permissions alone refuse

    reads, writes = walk_as(client)

    problems = [f"GET {path} ({view}) {problem}" for _, path, view, response in reads
                if (problem := read_problem(response))]
    problems += [f"{method} {path} ({view}) answered {response.status_code}" for method, path, view, response in writes
                 if response.status_code != 403 and not not_offered(response, method.split()[0])]
    assert not problems, "a user without permissions was not refused, or could not read:\n" + "\n".join(problems)
    refused = [response for _, _, _, response in writes if response.status_code == 403]
    assert len(refused) >= 40 and len(reads) >= 30
    for response in refused:  # every refusal says which permission is missing
        assert "You need the '" in html.unescape(response.content.decode()), response.content[:300]
    row = next(response for method, path, _, response in writes if (method, path) == ("POST (htmx)", "/trades/1/close"))
    assert row["X-Refusal"] and 'id="trade-1"' in row.content.decode()  # the row says why, in place
    assert ("You need the 'Can place, close and cancel orders' permission (group 'trader')"
            in html.unescape(row.content.decode()))
    strategy.refresh_from_db()
    assert list(Strategy.objects.values_list("name", flat=True)) == ["walked"] and strategy.is_active
    assert Trade.objects.get().status == TradeStatus.OPEN
    assert BacktestRun.objects.count() == 1 and not MarketSubscription.objects.exists()


# Stopping new entries needs the order permission and nothing else, by design (trades/entries.py): the panic button
# must work for a trader whose live trading switch is off. It reaches no exchange.
PANIC_BUTTONS = {"/entries/stop"}


def test_a_trader_with_the_switch_off_reaches_no_exchange_through_any_route(app_on_fake_bybit, make_member,
                                                                           make_strategy, client):
    walk_objects(make_strategy)
    client.force_login(make_member("switched-off", "trader"))  # may trade, but live trading is off

    reads, writes = walk_as(client)

    assert app_on_fake_bybit.orders_received == []
    assert [request.path for request in app_on_fake_bybit.requests if request.method == "POST"] == []
    done = [f"{method} {path} ({view}) answered {response.status_code}" for method, path, view, response in writes
            if response.status_code < 400 and path not in PANIC_BUTTONS]
    assert not done, "writes accepted:\n" + "\n".join(done)
    assert EntrySwitch.current().stopped  # the panic button worked, and reached no exchange (above)
    order = next(response for method, path, _, response in writes if (method, path) == ("POST", "/api/bybit/order"))
    assert order.status_code == 403 and order.json()["detail"].startswith("Live trading is switched off")
    assert any(path.startswith("/api/bybit/") and response.status_code == 200 for _, path, _, response in reads)
    assert Trade.objects.get().status == TradeStatus.OPEN


def test_the_admin_stays_closed_to_a_signed_in_user_who_is_not_staff(make_member, client):
    client.force_login(make_member("not-staff", "trader", "strategist", live=True))
    problems = []
    for route in routes():
        if not route.path.startswith("/admin/") or route.path in OWN_ACCOUNT:
            continue
        for method in ALL_METHODS:
            response = call(client, method, route.path)
            if not (response.status_code == 302 and urlsplit(response["Location"]).path == "/admin/login/"):
                problems.append(f"{method} {route.path} answered {response.status_code}")
    assert not problems, "\n".join(problems)
