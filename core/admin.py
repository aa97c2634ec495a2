from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from core.models import OperatorSettings


class ReadOnlyAdmin(admin.ModelAdmin):
    """History written by the bot only: the admin shows it and nobody edits it."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OperatorSettings)
class OperatorSettingsAdmin(admin.ModelAdmin):
    """The live trading switch per user: off by default; paper trading never needs it."""

    list_display = ("user", "live_trading_enabled", "max_order_notional", "updated_at")
    list_editable = ("live_trading_enabled",)
    list_filter = ("live_trading_enabled",)
    search_fields = ("user__username",)
    autocomplete_fields = ("user",)


class OperatorSettingsInline(admin.StackedInline):
    model = OperatorSettings
    can_delete = False
    extra = 1
    max_num = 1


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class UserWithOperatorSettingsAdmin(UserAdmin):
    """Django's user admin, with the user's operator settings (the live trading switch) on the same page."""

    inlines = [*UserAdmin.inlines, OperatorSettingsInline]
