"""Pages, admin and API all need a login; the schema and docs answer a logged-in user."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_dashboard_redirects_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_login_with_the_password_works(client, user):
    response = client.post("/accounts/login/", {"username": "trader", "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_a_wrong_password_is_refused_with_a_message(client, user):
    response = client.post("/accounts/login/", {"username": "trader", "password": "nope"})
    assert "didn't match" in response.content.decode()


def test_the_api_refuses_anonymous_callers(anonymous_api_client):
    for path in ("/api/schema/", "/api/docs/"):
        assert anonymous_api_client.get(path).status_code in (401, 403), path


def test_the_schema_and_docs_answer_a_logged_in_user(logged_in_client):
    schema = logged_in_client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"openapi:" in schema.content
    docs = logged_in_client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()  # served from the sidecar package: works offline


def test_token_auth_works_for_scripts(user, anonymous_api_client):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=user)
    response = anonymous_api_client.get("/api/schema/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200


def test_the_health_check_is_public_and_says_nothing_else(client):
    response = client.get("/healthz")
    assert response.json() == {"status": "ok"}
