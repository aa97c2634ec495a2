from django.contrib import admin, messages

from chat.models import LINK_CODE_MINUTES, ChatCommand, LinkCode, TelegramLink
from core.admin import ReadOnlyAdmin


@admin.register(TelegramLink)
class TelegramLinkAdmin(admin.ModelAdmin):
    """Link a chat to a user by hand (the chat id is in the bot's log line when it refuses an unlinked chat)."""

    list_display = ("chat_id", "chat_name", "user", "linked_at")
    search_fields = ("chat_id", "chat_name", "user__username")
    autocomplete_fields = ("user",)
    fields = ("chat_id", "user", "chat_name")


@admin.register(LinkCode)
class LinkCodeAdmin(admin.ModelAdmin):
    """A one-time code for a user to send from their chat (/link CODE); shown once, when it is made."""

    list_display = ("user", "created_at", "expires_at", "used_at", "used_by_chat")
    autocomplete_fields = ("user",)
    fields = ("user",)

    def has_change_permission(self, request, obj=None):
        return False  # a code is made, used or left to expire; never edited

    def save_model(self, request, obj, form, change):
        code = obj.new_code()
        super().save_model(request, obj, form, change)
        self.message_user(request, f"Link code for {obj.user}: send \u201c/link {code}\u201d to the bot from the "
                                   f"chat to link (valid {LINK_CODE_MINUTES} minutes, once). It is not shown again.",
                          messages.WARNING)


@admin.register(ChatCommand)
class ChatCommandAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "chat_id", "user", "text", "outcome", "reply")
    list_filter = ("outcome",)
    search_fields = ("text", "reply", "chat_id")
    date_hierarchy = "created_at"
