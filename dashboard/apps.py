from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The top floor: pages, cards, chart API, live fragments, the market price stream and the sockets. It reads
    every app below it; nothing imports it."""

    name = "dashboard"
    verbose_name = "Dashboard"
