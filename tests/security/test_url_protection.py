"""Every route the URL conf has, with every method, refuses anonymous callers and CSRF-less session writes.

The routes are walked, not listed (``tests/security/urlwalk.py``): an endpoint added tomorrow is tested by
these same tests, and one added without protection fails them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory
from rest_framework.authtoken.models import Token

from tests.security.urlwalk import ALL_METHODS, UNSAFE_METHODS, routes

pytestmark = pytest.mark.django_db

# The only routes that answer a stranger: the health check and the two login forms.
PUBLIC = {"/healthz", "/accounts/login/", "/admin/login/"}
LOGIN_PAGES = {"/accounts/login/", "/admin/login/"}


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


def test_the_same_session_write_with_its_csrf_token_goes_through(django_user_model, make_strategy):
    strategy = make_strategy(is_active=True)
    user = django_user_model.objects.create_user("csrf-user", password="pw-not-used-here")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    token = get_token(RequestFactory().get("/"))
    client.cookies["csrftoken"] = token

    page = client.post(f"/strategies/{strategy.pk}/deactivate", HTTP_X_CSRFTOKEN=token)
    api = client.post(f"/api/strategies/{strategy.pk}/activate", HTTP_X_CSRFTOKEN=token)

    assert page.status_code == 302 and api.status_code == 200, (page.status_code, api.content)
    strategy.refresh_from_db()
    assert strategy.is_active


def test_token_auth_works_for_scripts_and_needs_no_csrf_token(django_user_model, make_strategy):
    strategy = make_strategy(is_active=True)
    user = django_user_model.objects.create_user("script", password=None)
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
    for refused in (wrong, revoked):
        # 403, not 401: DRF answers 401 only when its first authenticator (the session) names a scheme.
        assert refused.status_code == 403 and refused.json() == {"detail": "Invalid token."}
