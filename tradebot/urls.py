from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from tradebot import budget, chart_api, order_form, views
from tradebot.api_root import ApiRoot
from tradebot.security import LockoutAdminAuthenticationForm, LockoutAuthenticationForm

admin.site.site_header = "tradebot administration"
admin.site.login_form = LockoutAdminAuthenticationForm
admin.site.site_title = "tradebot"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("cards/<slug:name>", views.card, name="card"),
    path("orders/new", order_form.place_order, name="dashboard-order"),
    path("strategies/budget", budget.strategy_budget, name="strategy-budget"),
    path("", include("trades.page_urls")),
    path("", include("strategies.page_urls")),
    path("backtests/", include("trades.backtest.page_urls")),
    # Not all of django.contrib.auth.urls: its password-reset pages are public. An admin resets passwords instead.
    path("accounts/login/", auth_views.LoginView.as_view(authentication_form=LockoutAuthenticationForm), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("admin/", admin.site.urls),
    path("favicon.ico", views.favicon, name="favicon"),
    path("api/", ApiRoot.as_view(), name="api-root"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Each app's urls.py spells its own prefix (bybit/, strategies, trades) with re_path and an optional
    # trailing slash, so the seed's paths (/api/strategies/1/activate) and Django-style ones both work.
    path("api/", include("exchange.urls")),
    path("api/", include("strategies.urls")),
    path("api/", include("trades.urls")),
    re_path(r"^api/chart/equity/?$", chart_api.EquityView.as_view(), name="chart-equity"),
    re_path(r"^api/chart/(?P<symbol>[^/]+)/?$", chart_api.ChartView.as_view(), name="chart"),
    re_path(r"^api/bot/status/?$", chart_api.BotStatusView.as_view(), name="bot-status"),
]
