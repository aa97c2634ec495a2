from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import JsonResponse


class LoginRequiredForPagesMiddleware(LoginRequiredMiddleware):
    """Every page needs a login. ``/api/`` is left to DRF, which answers 401/403 instead of redirecting."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


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
