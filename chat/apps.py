from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    label = "chat"
    verbose_name = "Chat control"
    default_auto_field = "django.db.models.BigAutoField"
