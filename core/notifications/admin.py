from django.contrib import admin

from core.admin import ReadOnlyAdmin
from core.notifications.models import DailySummary, Delivery


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "event", "channel", "status", "attempts", "title", "last_error")
    list_filter = ("status", "channel", "event")
    search_fields = ("title", "text", "last_error")
    date_hierarchy = "created_at"


@admin.register(DailySummary)
class DailySummaryAdmin(ReadOnlyAdmin):
    list_display = ("day", "window_start", "window_end", "created_at")
