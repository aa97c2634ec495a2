"""Deliveries and daily-summary claims are history: the admin shows them and nobody edits them."""

import uuid
from datetime import UTC, date, datetime

import pytest
from django.utils import timezone

from core.notifications.models import DailySummary, Delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_delivery():
    return Delivery.objects.create(
        key=uuid.uuid4(), channel="telegram", event="trade_opened", title="Opened long BTCUSDT",
        text="Size: 0.01 BTCUSDT at 65000", status="failed", attempts=5, created_at=timezone.now(),
        last_error="Telegram answered HTTP 502: Bad Gateway (gave up after 5 attempts)")


def test_a_failed_delivery_is_listed_with_its_reason(logged_in_client, failed_delivery):
    page = logged_in_client.get("/admin/notifications/delivery/?status__exact=failed")
    assert page.status_code == 200
    assert "Opened long BTCUSDT" in page.content.decode()
    assert "gave up after 5 attempts" in page.content.decode()


def test_a_delivery_cannot_be_changed_added_or_deleted(logged_in_client, failed_delivery):
    change_url = f"/admin/notifications/delivery/{failed_delivery.pk}/change/"
    assert logged_in_client.get(change_url).status_code == 200  # viewable
    assert logged_in_client.post(change_url, {"status": "sent"}).status_code == 403
    assert logged_in_client.get("/admin/notifications/delivery/add/").status_code == 403
    assert logged_in_client.post(f"/admin/notifications/delivery/{failed_delivery.pk}/delete/").status_code == 403
    failed_delivery.refresh_from_db()
    assert failed_delivery.status == "failed"


def test_the_daily_summary_claims_are_listed(logged_in_client):
    DailySummary.objects.create(day=date(2026, 4, 10), window_start=datetime(2026, 4, 9, 20, tzinfo=UTC),
                                window_end=datetime(2026, 4, 10, 20, tzinfo=UTC))
    page = logged_in_client.get("/admin/notifications/dailysummary/")
    assert page.status_code == 200
    assert "summary for 2026-04-10" in page.content.decode() or "April 10, 2026" in page.content.decode()
