from django import forms
from django.contrib import admin, messages

from core.admin import ReadOnlyAdmin
from core.notifications.models import DailySummary, Delivery, Event, Webhook, new_webhook_secret


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "event", "channel", "webhook", "status", "attempts", "title", "last_error")
    list_filter = ("status", "channel", "event", "webhook")
    search_fields = ("title", "text", "last_error")
    date_hierarchy = "created_at"


@admin.register(DailySummary)
class DailySummaryAdmin(ReadOnlyAdmin):
    list_display = ("day", "window_start", "window_end", "created_at")


class WebhookForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https",
                         help_text=Webhook._meta.get_field("url").help_text)
    events = forms.MultipleChoiceField(
        choices=[(value, label) for value, label in Event.choices if value != Event.TEST],
        widget=forms.CheckboxSelectMultiple, help_text=Webhook._meta.get_field("events").help_text)

    class Meta:
        model = Webhook
        fields = ("name", "url", "preset", "events", "enabled")


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    """Hooks and their presets. The secret is shown once, when the hook is created or its secret replaced."""

    form = WebhookForm
    list_display = ("name", "preset", "events", "enabled", "created_at")
    list_filter = ("preset", "enabled")
    search_fields = ("name",)
    actions = ["replace_secret"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            self._show_secret_once(request, obj)

    @admin.action(description="Replace the secret of the selected webhooks (each new one is shown once)")
    def replace_secret(self, request, queryset):
        for hook in queryset:
            hook.secret = new_webhook_secret()
            hook.save(update_fields=["secret"])
            self._show_secret_once(request, hook)

    def _show_secret_once(self, request, hook: Webhook) -> None:
        if hook.preset == Webhook.Preset.DISCORD:
            return  # Discord checks no signature: nothing to copy
        self.message_user(request, f"The signing secret of webhook \u201c{hook.name}\u201d is {hook.secret} \u2014 "
                                   f"copy it into the receiver now: it is not shown again.", messages.WARNING)
