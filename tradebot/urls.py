from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from tradebot import views

admin.site.site_header = "tradebot administration"
admin.site.site_title = "tradebot"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Each app's urls.py spells its own prefix (bybit/, strategies, trades) with re_path and an optional
    # trailing slash, so the seed's paths (/api/strategies/1/activate) and Django-style ones both work.
    path("api/", include("exchange.urls")),
    path("api/", include("strategies.urls")),
    path("api/", include("trades.urls")),
]
