from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "tradebot.notifications"
    label = "notifications"
    verbose_name = "Notifications"
