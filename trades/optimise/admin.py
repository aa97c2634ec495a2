"""Optimisations in the admin, read-only: they are results, made by ``manage.py optimise``, the page or the API."""

from django.contrib import admin

from core.admin import ReadOnlyAdmin
from trades.optimise.models import AppliedTrial, OptimisationRun


class OptimisationRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "name", "status", "progress", "trials_done", "trials_total", "created_by")
    list_filter = ("status", "strategy")
    search_fields = ("name",)
    date_hierarchy = "created_at"


class AppliedTrialAdmin(ReadOnlyAdmin):
    list_display = ("id", "applied_at", "run", "fold_index", "trial_number", "strategy_name", "applied_by")


admin.site.register(OptimisationRun, OptimisationRunAdmin)
admin.site.register(AppliedTrial, AppliedTrialAdmin)
