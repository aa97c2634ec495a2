from urllib.parse import urlsplit

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

from core.unavailable import REDIS_UNREACHABLE, RETRY_AFTER_SECONDS, redis_down_body, redis_down_reason


class LoginRequiredForPagesMiddleware(LoginRequiredMiddleware):
    """Every page needs a login. ``/api/`` is left to DRF, which answers 401/403 instead of redirecting.

    A fragment request (htmx: a card refreshing itself) whose session has ended is not redirected to the login
    page, which htmx would swap into the card: it answers 401 with ``HX-Redirect``, and htmx sends the whole page
    to the login page, ``next`` being the page the fragment was on."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)

    def handle_no_permission(self, request, view_func):
        if request.headers.get("HX-Request") != "true":
            return super().handle_no_permission(request, view_func)
        page = urlsplit(request.headers.get("HX-Current-URL", ""))
        next_path = (page.path + (f"?{page.query}" if page.query else "")) if page.path else "/"
        response = HttpResponse("Your session has ended: sign in again.", status=401, content_type="text/plain")
        response["HX-Redirect"] = redirect_to_login(next_path, self.get_login_url(view_func))["Location"]
        return response


class SingleValuedQueryMiddleware:
    """No API query parameter takes a list, so one given twice (``?limit=10&limit=500``) is refused with 400.
    Left alone, DRF and django-filter silently read the last value, and a caller could not tell which one won."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/api/"):
            repeated = sorted(name for name, values in request.GET.lists() if len(values) > 1)
            if repeated:
                names = ", ".join(f"'{name}'" for name in repeated)
                return JsonResponse({"detail": f"The query parameter {names} is given more than once; give each "
                                               f"parameter once."}, status=400)
        return self.get_response(request)


class RedisUnavailableMiddleware:
    """A view that fails because Redis is unreachable answers 503 saying so (templates/503.html; JSON under
    ``/api/``, for views outside DRF, whose own handler answers the rest) instead of a 500 and a traceback."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, REDIS_UNREACHABLE):
            return None
        reason = redis_down_reason(exception, request)
        if request.path_info.startswith("/api/"):
            response = JsonResponse(redis_down_body(reason), status=503)
        else:
            response = render(request, "503.html", {"reason": reason}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
