from django.apps import AppConfig


class OptimiseConfig(AppConfig):
    name = "trades.optimise"
    label = "optimise"
    verbose_name = "Optimisation"
