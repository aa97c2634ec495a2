"""A posted launch form (a backtest, an optimisation), handled one way: the person first (a refusal is the 403 page,
before any field is looked at), then the fields through the API's serializer (empty inputs count as not given, so
the serializer's defaults apply), then the command. A refusal of the command itself is the 403 page when it is
about the person, a form error otherwise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.http import HttpResponse

from core.errors import Refused
from core.security import refuse_page


@dataclass
class Posted:
    response: HttpResponse | None = None  # where to go now (the new run, or the 403 page); None: show the form
    errors: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)  # what was typed, to fill the form again


def handle_launch(request, *, refusal: Callable[[object], str | None], serializer,
                  launch: Callable[[object], HttpResponse]) -> Posted:
    """``launch(valid_form)`` makes the run and answers (a redirect to it, with its messages)."""
    if request.method != "POST":
        return Posted()
    reason = refusal(request.user)
    if reason:
        return Posted(refuse_page(request, reason))
    values = request.POST.dict()
    form = serializer(data={key: value for key, value in values.items() if value != ""})
    if not form.is_valid():
        return Posted(errors=form.errors, values=values)
    try:
        return Posted(launch(form), values=values)
    except Refused as refused:
        if refused.status == 403:
            return Posted(refuse_page(request, refused.message))
        return Posted(errors={refused.field or "non_field_errors": [refused.message]}, values=values)
