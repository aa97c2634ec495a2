"""The entry switch from the dashboard's status line: stop new entries (the panic button) or allow them again,
through ``trades.entries`` as ``/stopentry`` and ``POST /api/bot/entries`` do, with the same guards and words."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import Forbidden, Invalid
from core.security import refuse_page
from dashboard import cards
from trades import entries

STATUS = "dashboard/_status.html"


@require_POST
def stop_entries(request):
    # htmx sends what the person typed at its prompt as a header; the plain form (no script) as a field.
    reason = request.headers.get("HX-Prompt") or request.POST.get("reason", "")
    return _switch(request, lambda: entries.stop_entries(request.user, reason))


@require_POST
def allow_entries(request):
    return _switch(request, lambda: entries.start_entries(request.user))


def _switch(request, change):
    try:
        change()
    except Forbidden as refusal:
        context = {**cards.current_status(), "switch_error": refusal.message}
        return refuse_page(request, refusal.message, STATUS, context)
    except Invalid as problem:
        response = render(request, STATUS, {**cards.current_status(), "switch_error": problem.message}, status=400)
        response["X-Refusal"] = "1"
        return response
    if not request.htmx:
        return redirect("dashboard")
    return render(request, STATUS, cards.current_status())
