"""The entry switch on the dashboard's status line: the panic button and its undo, through trades.entries (the
same guards and words as /stopentry and POST /api/bot/entries)."""

import pytest

from trades.models import EntrySwitch

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def member_client(client, make_member):
    def signed_in(*groups, live=False):
        client.force_login(make_member("someone", *groups, live=live))
        return client
    return signed_in


@pytest.mark.django_db
def test_stop_then_allow_from_the_status_line(logged_in_client):
    page = logged_in_client.get("/").content.decode()
    assert "Stop new entries" in page and "Allow new entries" not in page

    stopped = logged_in_client.post("/entries/stop", HTTP_HX_PROMPT="CPI at 14:30", **HTMX)

    assert stopped.status_code == 200
    card = stopped.content.decode()
    assert "new entries stopped: CPI at 14:30 (by trader); open trades stay managed" in card
    assert "Allow new entries" in card and "Stop new entries" not in card
    assert EntrySwitch.current().stopped and EntrySwitch.current().reason == "CPI at 14:30"

    allowed = logged_in_client.post("/entries/allow", **HTMX)

    assert allowed.status_code == 200
    assert "new entries stopped" not in allowed.content.decode()
    assert not EntrySwitch.current().stopped


@pytest.mark.django_db
def test_a_viewer_is_refused_and_nothing_changes(member_client):
    response = member_client("viewer").post("/entries/stop", HTTP_HX_PROMPT="panic", **HTMX)

    assert response.status_code == 403 and response["X-Refusal"] == "1"
    assert 'role="alert"' in response.content.decode()
    assert not EntrySwitch.current().stopped


@pytest.mark.django_db
def test_allowing_entries_off_paper_needs_the_live_trading_switch(member_client, settings, user):
    settings.EXCHANGE_MODE = "testnet"
    EntrySwitch.objects.create(pk=EntrySwitch.ONLY_ID, stopped=True, reason="by hand", changed_by=user)

    response = member_client("trader", live=False).post("/entries/allow", **HTMX)

    assert response.status_code == 403
    assert "live trading" in response.content.decode().lower()
    assert EntrySwitch.current().stopped


@pytest.mark.django_db
def test_a_reason_too_long_is_refused_and_nothing_changes(logged_in_client):
    response = logged_in_client.post("/entries/stop", HTTP_HX_PROMPT="x" * 201, **HTMX)

    assert response.status_code == 400 and response["X-Refusal"] == "1"
    assert "The reason is 201 characters long; at most 200." in response.content.decode()
    assert not EntrySwitch.current().stopped


@pytest.mark.django_db
def test_without_scripts_the_form_posts_and_comes_back_to_the_dashboard(logged_in_client):
    response = logged_in_client.post("/entries/stop", {"reason": "no js"})

    assert response.status_code == 302 and response["Location"] == "/"
    assert EntrySwitch.current().reason == "no js"
