"""The Optimise pages: launched from a form linked on the Backtests page, followed live, read as an IS/OOS table
with the stitched out-of-sample equity, applied with a button."""

from __future__ import annotations

import json
import re

import pytest

from strategies.models import Strategy
from trades.optimise.models import OptimisationRun

pytestmark = pytest.mark.django_db


def form(ema, **values):
    return {"strategy": ema.pk, "start": "2026-04-02", "end": "2026-04-09", "trials": "2", "objectives": "sharpe",
            "walk_forward": "2", "test_share": "0.4", "min_trades": "0", "space": "fast=5:12 slow=30:60",
            "data_source": "bundled", "initial_balance": "10000", "fee_percent": "0.055", "slippage_bps": "2",
            **values}


def json_script(html: str, element_id: str):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def test_the_backtests_page_links_to_the_optimise_page_and_its_form(logged_in_client, ema):
    assert 'href="/backtests/optimise/"' in logged_in_client.get("/backtests/").content.decode()
    html = logged_in_client.get("/backtests/optimise/").content.decode()
    assert 'id="optimise-form"' in html and f'<option value="{ema.pk}"' in html
    assert 'aria-current="page">Backtests</a>' in html and "No study yet" in html


def test_a_study_launched_from_the_form_lands_on_its_report(logged_in_client, ema, eager,
                                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in_client.post("/backtests/optimise/", form(ema))
    run = OptimisationRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/backtests/optimise/{run.pk}/"

    html = logged_in_client.get(response["Location"]).content.decode()
    assert "In-sample against out-of-sample, per fold" in html and html.count('<td data-label="fold">') == 2
    assert "mean out-of-sample Sharpe" in html and "How stable the chosen parameters are" in html
    curve = json_script(html, "opt-curve")
    assert curve == run.results["oos_curve"] and "lightweight-charts" in html
    assert html.count('name="trial"') == 2 and "data-confirm=" in html  # Apply, with a confirmation


def test_bad_form_input_is_shown_beside_its_field(logged_in_client, ema):
    response = logged_in_client.post("/backtests/optimise/", form(ema, space="fast=1:99"))
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'field wide-field invalid">\s*<label for="o-space">', html)
    assert "outside the declared range 3..50" in html and 'value="fast=1:99"' in html
    assert not OptimisationRun.objects.exists()


def test_a_viewer_may_not_launch_from_the_page(client, ema, make_member):
    client.force_login(make_member("eyes", "viewer"))
    assert client.post("/backtests/optimise/", form(ema)).status_code == 403
    assert not OptimisationRun.objects.exists()


def test_a_running_study_shows_its_progress_and_follows_it_over_the_socket(logged_in_client, ema, ask,
                                                                          django_capture_on_commit_callbacks):
    from trades.optimise.commands import launch_study

    with django_capture_on_commit_callbacks(execute=False):  # nobody runs it: it stays running
        run = launch_study(None, ask(walk_forward=2, test_share=0.4))
    OptimisationRun.objects.filter(pk=run.pk).update(progress=25, trials_done=2)
    html = logged_in_client.get(f"/backtests/optimise/{run.pk}/").content.decode()
    assert f'<progress max="100" value="25" aria-label="progress of study {run.pk}">' in html
    assert "2 of 8 trials · fold 1 of 2" in html and "optimiseProgress" in html
    assert "No fold has ended yet." in html
    live = logged_in_client.get(f"/backtests/optimise/{run.pk}/live").content.decode()
    assert live.startswith(f'<div id="opt-live" data-run="{run.pk}" data-status="running"')
    listed = logged_in_client.get("/backtests/optimise/").content.decode()
    assert f'data-run="{run.pk}" data-status="running"' in listed and "2/8" in listed


def test_apply_from_the_page_makes_the_new_strategy(logged_in_client, launched, ema):
    run = launched(trials=2)
    fold = run.folds.get()
    response = logged_in_client.post(f"/backtests/optimise/{run.pk}/apply", {"trial": fold.chosen_trial, "fold": 1})
    assert response.status_code == 302 and response["Location"] == "/strategies/"
    made = Strategy.objects.get(derived_from=ema)
    assert made.indicators == fold.chosen_params and not made.is_active
    html = logged_in_client.get(f"/backtests/optimise/{run.pk}/").content.decode()
    assert f"became <a href=\"/strategies/\">{made.name}</a>" in html
