"""The API fuzzed from its own OpenAPI schema (what ``manage.py spectacular`` writes) with schemathesis, as a
script would call it (token auth), on the paper exchange: valid and schema-violating requests to every
operation, a few of each, from a fixed seed. No answer may be a 5xx; a request that breaks the schema must be
refused with a 4xx. The run's figures are printed at the end of the test session.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import FlakyStrategyDefinition, Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import negative_data_rejection

from exchange.factory import reset_exchange
from tradebot.wsgi import application

# Per operation and generation mode: CI's run stays well under a minute. A longer hunt, e.g.
# FUZZ_EXAMPLES=200 FUZZ_SEED=7 make test PYTEST_ARGS="tests/security/test_api_fuzz.py"
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "12"))
SEED = int(os.environ.get("FUZZ_SEED", "20261125"))
ONLY = os.environ.get("FUZZ_OPERATIONS", "")  # e.g. "PUT /api/strategies": fuzz only matching operations


def project_schema() -> dict:
    """Exactly what ``manage.py spectacular`` renders, as plain JSON types."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated, renderer_context={}))


@pytest.fixture
def in_process_wsgi():
    """The WSGI app called in this thread shares the test's transaction; Django's request signals would close
    that connection, as they do between real requests, so they are off meanwhile (as in Django's test client)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield application
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(db, settings, django_user_model, in_process_wsgi, make_strategy):
    settings.EXCHANGE_MODE, settings.MARKET_DATA = "paper", "replay"
    settings.ORDER_RATE_LIMIT = "100000/min"  # the fuzz sends more orders in a minute than a person may
    settings.DEBUG = False
    reset_exchange()
    make_strategy(name="fuzz-target")  # something for the detail, update and switch endpoints to find
    user = django_user_model.objects.create_superuser("fuzzer", password=None)  # every write is worth fuzzing
    token = Token.objects.create(user=user)
    schema = schemathesis.openapi.from_dict(project_schema())
    schema.config.update(base_url="http://testserver", headers={"Authorization": f"Token {token.key}"})
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                    max_examples=EXAMPLES_PER_OPERATION, deterministic=True)
    yield schema
    reset_exchange()


def only_the_query_string_is_wrong_in_a_way_the_api_ignores(case) -> bool:
    """Two HTTP conventions the API keeps: an empty optional query value (``?symbol=``) means "not given" (DRF's
    reading), and a query parameter the operation does not declare is ignored. A request whose only schema
    violation is one of those is held to "no 5xx", not to "4xx"."""
    negated = {location for location, info in case._meta.components.items() if info.mode.is_negative}
    if negated != {ParameterLocation.QUERY}:
        return False
    query = case.query or {}
    declared = {parameter.name for parameter in case.operation.query}
    blank = [value for value in query.values() if value in ("", [], [""])]
    return bool(blank) or bool(set(query) - declared)


def refuses_malformed_input(ctx, response, case):
    if only_the_query_string_is_wrong_in_a_way_the_api_ignores(case):
        return None
    return negative_data_rejection(ctx, response, case)


def fuzz(operation, mode: GenerationMode, app, stats) -> None:
    """EXAMPLES_PER_OPERATION requests of one kind to one operation; raises on the first failed check."""

    @seed(SEED)
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES_PER_OPERATION, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call(app=app)
        stats.record(operation.label, response.status_code, negative=mode.is_negative,
                     ignored_query=mode.is_negative and only_the_query_string_is_wrong_in_a_way_the_api_ignores(case))
        case.validate_response(response, checks=[not_a_server_error, refuses_malformed_input])

    try:
        run()
    except Unsatisfiable:
        if not mode.is_negative:
            raise
        stats.unbreakable.add(operation.label)  # nothing in it can break the schema (no parameters, no body)
    except FlakyStrategyDefinition:
        pass  # schemathesis drew differently on a replay (seen on long hunts): its generation, not the API


def describe(failure: BaseException, depth: int = 0) -> str:
    text = f"{type(failure).__name__}: {failure}"
    inners = list(getattr(failure, "exceptions", ()))
    if not inners and failure.__cause__ is not None:  # hypothesis wraps a BaseException in a FlakyFailure
        inners = [failure.__cause__]
    for inner in inners:
        text += "\n" + "  " * (depth + 1) + describe(inner, depth + 1)
    return text


def test_it_answers_every_generated_request_without_a_server_error(api_schema, fuzz_stats, in_process_wsgi):
    operations = [result.ok() for result in api_schema.get_all_operations()
                  if ONLY in result.ok().label]
    failures = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz(operation, mode, in_process_wsgi, fuzz_stats)
            except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 - fuzz them all, report every failure
                failures.append(f"{operation.label} ({mode.value}): {describe(failure)}")
    assert len(operations) >= (33 if not ONLY else 1)
    assert not failures, "\n\n".join(failures)
    assert not fuzz_stats.server_errors


# Bodies no schema can describe: broken JSON, the wrong JSON type, another media type, absurd numbers.
MALFORMED_BODIES = [
    ("application/json", b'{"symbol": "BTCUSDT", "qty": '),
    ("application/json", b"[1, 2, 3]"),
    ("application/json", b'"just a string"'),
    ("application/json", b"null"),
    ("application/json", b'{"qty": NaN, "price": Infinity, "leverage": -Infinity, "stop_loss": 1e999999}'),
    ("application/json", b'{"symbols": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
    ("application/json", b'{"name": "\\ud800", "symbol": "BTC\\u0000USDT"}'),  # a lone surrogate, a NUL
    ("application/json", b"\xff\xfe\x00garbage"),
    ("text/plain", b"symbol=BTCUSDT&qty=1"),
    ("application/xml", b"<order><qty>1</qty></order>"),
]


def test_every_malformed_body_answers_4xx(api_schema, in_process_wsgi, fuzz_stats):
    from django.test import Client

    from strategies.models import Strategy

    client = Client(HTTP_AUTHORIZATION=api_schema.config.headers["Authorization"])
    strategy_id = Strategy.objects.get(name="fuzz-target").pk
    answers = []
    for path, methods in project_schema()["paths"].items():
        concrete = path.replace("{id}", str(strategy_id)).replace("{symbol}", "BTCUSDT").replace("{order_id}", "x")
        for method, operation in methods.items():
            if "requestBody" not in operation:
                continue
            for content_type, body in MALFORMED_BODIES:
                response = client.generic(method.upper(), concrete, body, content_type=content_type)
                fuzz_stats.record(f"{method.upper()} {path}", response.status_code, negative=True)
                answers.append((method.upper(), concrete, content_type, body[:40], response.status_code))
    wrong = [answer for answer in answers if not 400 <= answer[-1] < 500]
    assert len({answer[:2] for answer in answers}) >= 9  # order, leverage, stop-loss, ..., strategies, backtests
    assert not wrong, "\n".join(map(str, wrong))
