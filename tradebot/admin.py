from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """History written by the bot only: the admin shows it and nobody edits it."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
