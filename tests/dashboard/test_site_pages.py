"""What the site answers around its pages: the API root, styled 404 and 500 pages, the favicon, 401 for a script
without a valid token."""

from __future__ import annotations

import logging

import pytest
from django.test import Client, RequestFactory
from django.views.defaults import server_error
from rest_framework.authtoken.models import Token

from dashboard.api_root import ENDPOINTS

pytestmark = pytest.mark.django_db


def test_the_api_root_lists_every_endpoint_to_a_signed_in_user(logged_in_client):
    listed = logged_in_client.get("/api/", HTTP_ACCEPT="application/json")
    page = logged_in_client.get("/api/", HTTP_ACCEPT="text/html")

    assert listed.status_code == 200 and set(listed.json()) == set(ENDPOINTS)  # every name reverses
    assert listed.json()["backtests"] == "http://testserver/api/backtests"
    assert page.status_code == 200 and "Api Root" in page.content.decode()  # DRF's browsable, styled page


def test_the_api_root_needs_a_login_or_a_token(django_user_model):
    anonymous = Client().get("/api/")
    token = Token.objects.create(user=django_user_model.objects.create_user("script", password=None))
    script = Client(HTTP_AUTHORIZATION=f"Token {token.key}").get("/api/", HTTP_ACCEPT="application/json")

    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == "Token"
    assert script.status_code == 200 and "trades" in script.json()


def test_an_unknown_page_is_a_styled_404(logged_in_client):
    response = logged_in_client.get("/no/such/page")

    html = response.content.decode()
    assert response.status_code == 404
    assert "css/app.css" in html and "Page not found" in html and "/no/such/page" in html
    assert 'aria-label="Main"' in html  # the site's own navigation, to get back


def test_the_500_page_is_styled_and_needs_no_request_context():
    response = server_error(RequestFactory().get("/"))  # Django renders it with an empty context

    html = response.content.decode()
    assert response.status_code == 500 and "css/app.css" in html and "Server error" in html


def test_the_favicon_is_served_to_anyone_and_logs_no_warning(client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        icon = client.get("/favicon.ico", follow=True)

    assert icon.status_code == 200 and icon.redirect_chain[0][1] == 301
    assert b"<svg" in b"".join(icon.streaming_content if icon.streaming else [icon.content])
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
