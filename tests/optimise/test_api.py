"""The Optimisations API: launch (the study runs eagerly here), read, apply, resume; refusals as 400, 403, 409."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from strategies.models import Strategy
from trades.optimise.models import OptimisationRun

pytestmark = pytest.mark.django_db


def client_for(person) -> APIClient:
    api = APIClient()
    api.force_authenticate(person)
    return api


def launch_body(ema, **values):
    return {"strategy": ema.pk, "start": "2026-04-02", "end": "2026-04-09", "trials": 2, "min_trades": 0,
            "space": {"fast": "5:12", "slow": "30:60"}, "seed": 3, **values}


def test_a_study_is_launched_read_and_applied_through_the_api(api_client, ema, eager,
                                                              django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = api_client.post("/api/optimisations", launch_body(ema, walk_forward=2, test_share=0.4,
                                                                    objectives="sharpe"), format="json")
    assert created.status_code == 201, created.json()
    run_id = created.json()["id"]
    assert created.json()["url"] == f"/backtests/optimise/{run_id}/" and len(created.json()["folds"]) == 2

    detail = api_client.get(f"/api/optimisations/{run_id}").json()
    assert detail["status"] == "done" and detail["trials_done"] == 4
    assert [fold["index"] for fold in detail["folds"]] == [0, 1]
    assert detail["results"]["folds"][1]["oos_score"] is not None
    listed = api_client.get("/api/optimisations").json()["results"]
    assert [run["id"] for run in listed] == [run_id] and "results" not in listed[0]

    last = detail["folds"][1]
    applied = api_client.post(f"/api/optimisations/{run_id}/apply", {"trial": last["chosen_trial"]}, format="json")
    assert applied.status_code == 201
    assert applied.json()["indicators"] == last["chosen_params"] and applied.json()["is_active"] is False
    assert api_client.post(f"/api/optimisations/{run_id}/resume").status_code == 409  # it has ended


@pytest.mark.parametrize(("values", "field", "says"), [
    ({"space": {"fast": "1:99"}}, "space", "outside the declared range 3..50"),
    ({"space": "fast"}, "space", "write name=value"),
    ({"walk_forward": 9}, "walk_forward", "shorter than"),
    ({"objectives": ["alpha"]}, "objectives", "not a valid choice"),
    ({"symbols": "BTCUSDT,btc"}, "symbols", "not a USDT perpetual"),
    ({"start": "2026-04-09", "end": "2026-04-02"}, "end", "must not be before"),
])
def test_bad_input_answers_400_naming_the_field(api_client, ema, values, field, says):
    answer = api_client.post("/api/optimisations", launch_body(ema, **values), format="json")
    assert answer.status_code == 400 and field in answer.json(), answer.json()
    assert says in str(answer.json()[field])
    assert not OptimisationRun.objects.exists()


def test_a_viewer_reads_but_may_neither_launch_nor_apply(ema, make_member, launched):
    run = launched(trials=1)
    viewer = client_for(make_member("eyes", "viewer"))
    assert viewer.get(f"/api/optimisations/{run.pk}").status_code == 200
    refused = viewer.post("/api/optimisations", launch_body(ema), format="json")
    assert refused.status_code == 403 and "add optimisation run" in refused.json()["detail"]
    refused = viewer.post(f"/api/optimisations/{run.pk}/apply", {"trial": 0}, format="json")
    assert refused.status_code == 403 and "Can add strategy" in refused.json()["detail"]
    assert Strategy.objects.count() == 1 and OptimisationRun.objects.count() == 1


def test_the_schema_documents_the_endpoints(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert {"/api/optimisations/", "/api/optimisations/{id}/", "/api/optimisations/{id}/apply/",
            "/api/optimisations/{id}/resume/"} <= set(schema["paths"])
    launch = schema["paths"]["/api/optimisations/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert launch["$ref"].endswith("/OptimiseLaunchRequest")
