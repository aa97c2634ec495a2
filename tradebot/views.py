from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


def dashboard(request):
    return render(request, "dashboard.html")


@login_not_required
@require_GET
def healthz(request):
    """Liveness for load balancers and docker compose: says nothing but whether the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return JsonResponse({"status": "ok"})
    except Exception:  # noqa: BLE001
        return JsonResponse({"status": "database unavailable"}, status=503)
