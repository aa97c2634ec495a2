"""Project middleware. Under daphne (ASGI) every middleware here is async-capable, so a request crosses from the
event loop to a thread once, for its view; one sync-only middleware in the chain adds two more crossings, which
cost most of the web server's throughput under load (benchmarks/load_bench.py)."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import JsonResponse
from whitenoise.middleware import WhiteNoiseMiddleware


class LoginRequiredForPagesMiddleware(LoginRequiredMiddleware):
    """Every page needs a login. ``/api/`` is left to DRF, which answers 401/403 instead of redirecting."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class DualModeMiddleware:
    """Base for a middleware that runs in the event loop under ASGI and in the thread under WSGI: subclasses
    implement ``intercept(request)``, returning a response to answer at once, or None to go on."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def intercept(self, request):
        raise NotImplementedError

    def __call__(self, request):
        if self.async_mode:
            return self._acall(request)
        return self.intercept(request) or self.get_response(request)

    async def _acall(self, request):
        return self.intercept(request) or await self.get_response(request)


class StaticFilesMiddleware(DualModeMiddleware):
    """WhiteNoise's static files (compressed, cache headers), without its sync-only middleware. The files are
    indexed once at start-up (no autorefresh outside DEBUG), so the lookup is a dict read, safe in the loop."""

    def __init__(self, get_response):
        super().__init__(get_response)
        self.whitenoise = WhiteNoiseMiddleware(get_response)

    def intercept(self, request):
        if self.whitenoise.autorefresh:  # DEBUG: looks at the disk, so not in the event loop
            return None
        static_file = self.whitenoise.files.get(request.path_info)
        return self.whitenoise.serve(static_file, request) if static_file is not None else None

    def __call__(self, request):
        if self.whitenoise.autorefresh and self.async_mode:
            return self._acall_autorefresh(request)
        if self.whitenoise.autorefresh:
            return self.whitenoise(request)
        return super().__call__(request)

    async def _acall_autorefresh(self, request):
        static_file = await sync_to_async(self.whitenoise.find_file)(request.path_info)
        if static_file is not None:
            return self.whitenoise.serve(static_file, request)
        return await self.get_response(request)


class SingleValuedQueryMiddleware:
    """No API query parameter takes a list, so one given twice (``?limit=10&limit=500``) is refused with 400.
    Left alone, DRF and django-filter silently read the last value, and a caller could not tell which one won."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.intercept(request) or self.get_response(request)

    def intercept(self, request):
        if not request.path_info.startswith("/api/"):
            return None
        repeated = sorted(name for name, values in request.GET.lists() if len(values) > 1)
        if not repeated:
            return None
        names = ", ".join(f"'{name}'" for name in repeated)
        return JsonResponse({"detail": f"The query parameter {names} is given more than once; give each "
                                       f"parameter once."}, status=400)
