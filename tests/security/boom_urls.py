"""The project's URLs plus one view that fails with a secret in its exception, for the error-page test."""

from django.conf import settings
from django.urls import path

from tradebot.urls import urlpatterns as project_urlpatterns


def boom(request):
    raise RuntimeError(f"unexpected failure while using key {settings.BYBIT_API_KEY} and {settings.OPENAI_API_KEY}")


urlpatterns = [*project_urlpatterns, path("boom", boom)]
