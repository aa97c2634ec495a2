"""The bot-wide entry switch (issue 22): ``trades.entries`` and its thin front end ``/api/bot/entries``; the
status API and the dashboard's status line say when entries are stopped. (The cycle refusing entries while an open
trade's stop still works is shown at the wire in tests/chat/test_bot_wire.py.)"""

import pytest

from core.errors import Forbidden
from trades import entries
from trades.models import EntrySwitch

pytestmark = pytest.mark.django_db


def test_stopping_and_allowing_entries_through_the_api(api_client, logged_in_client):
    assert api_client.get("/api/bot/entries").json() == {"stopped": False, "reason": "", "changed_by": None,
                                                         "changed_at": None}
    stopped = api_client.post("/api/bot/entries", {"stopped": True, "reason": "  CPI at 14:30 "}, format="json")

    assert stopped.status_code == 200, stopped.json()
    assert stopped.json()["stopped"] is True and stopped.json()["changed_by"] == "trader"
    assert entries.entries_stopped() == "CPI at 14:30 (by trader)"
    assert api_client.get("/api/bot/status").json()["entries_stopped"] == "CPI at 14:30 (by trader)"
    assert "new entries stopped: CPI at 14:30 (by trader)" in logged_in_client.get("/cards/status").content.decode()

    allowed = api_client.post("/api/bot/entries", {"stopped": False}, format="json")
    assert allowed.status_code == 200 and allowed.json()["stopped"] is False
    assert entries.entries_stopped() is None
    assert api_client.get("/api/bot/status").json()["entries_stopped"] is None


def test_without_the_order_permission_the_switch_is_refused_and_unchanged(make_member):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(make_member("viewer-vi", "viewer"))
    response = api.post("/api/bot/entries", {"stopped": True}, format="json")
    assert response.status_code == 403
    assert "You need the 'Can place, close and cancel orders' permission" in response.json()["detail"]
    assert not EntrySwitch.objects.exists()


def test_bad_input_is_a_400_naming_the_field(api_client):
    assert api_client.post("/api/bot/entries", {"stopped": "maybe"}, format="json").json().keys() == {"stopped"}
    assert api_client.post("/api/bot/entries", {"reason": "no switch"}).status_code == 400  # a form saying nothing
    long = api_client.post("/api/bot/entries", {"stopped": True, "reason": "x" * 201}, format="json")
    assert long.status_code == 400 and "reason" in long.json()
    assert entries.entries_stopped() is None


def test_off_paper_allowing_entries_again_needs_the_live_trading_switch_but_stopping_never_does(make_member,
                                                                                               settings):
    settings.EXCHANGE_MODE = "testnet"
    trader = make_member("careful", "trader", live=False)
    entries.stop_entries(trader, "going to sleep")
    assert entries.entries_stopped() == "going to sleep (by careful)"
    with pytest.raises(Forbidden, match="Live trading is switched off for careful"):
        entries.start_entries(trader)
    assert entries.entries_stopped() == "going to sleep (by careful)"
