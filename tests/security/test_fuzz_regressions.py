"""What fuzzing the API found, one test per fix, each the smallest request that showed it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_a_body_nested_too_deeply_for_the_json_module_is_a_400_not_a_500(api_client):
    """Was: RecursionError out of DRF's JSONParser (which only turns ValueError into a 400), a 500."""
    body = '{"symbols": ' + "[" * 5000 + "]" * 5000 + "}"

    response = api_client.generic("POST", "/api/bybit/subscribe", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - the body is nested too deeply."}


def test_a_strategy_filter_that_is_not_true_or_false_is_refused_naming_the_field(api_client, make_strategy):
    """Was: django-filter's BooleanFilter read ``is_active=0.66`` as "no filter" and listed every strategy."""
    make_strategy(is_active=False)

    refused = api_client.get("/api/strategies", {"is_active": "0.66"})
    inactive = api_client.get("/api/strategies", {"is_active": "0"}).json()["results"]

    assert refused.status_code == 400 and "0.66 is not one of the available choices" in refused.json()["is_active"][0]
    assert [strategy["is_active"] for strategy in inactive] == [False]


def test_a_query_parameter_given_twice_is_refused_naming_it(api_client):
    """Was: ``?limit=1&limit=500`` answered 200 with the last value, the caller left to guess which one won."""
    refused = api_client.get("/api/bybit/history?limit=1&limit=500&symbol=BTCUSDT")
    once = api_client.get("/api/bybit/history?limit=1&symbol=BTCUSDT")

    assert refused.status_code == 400
    assert refused.json() == {"detail": "The query parameter 'limit' is given more than once; give each parameter "
                                        "once."}
    assert once.status_code == 200
