from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project wiring (settings, urls, asgi, celery, the supervisor, runbot and runweb): an app only so that
    its management commands are found. The label ``tradebot`` belongs to ``core``, which holds the tables."""

    name = "tradebot"
    label = "project"
    verbose_name = "Project"
