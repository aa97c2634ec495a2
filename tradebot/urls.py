"""The site: each app's routes where they live, plus sign-in, the admin and the API schema."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.security import LockoutAdminAuthenticationForm, LockoutAuthenticationForm

admin.site.site_header = "tradebot administration"
admin.site.login_form = LockoutAdminAuthenticationForm
admin.site.site_title = "tradebot"

urlpatterns = [
    path("", include("dashboard.urls")),
    # Not all of django.contrib.auth.urls: its password-reset pages are public. An admin resets passwords instead.
    path("accounts/login/", auth_views.LoginView.as_view(authentication_form=LockoutAuthenticationForm), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Each app's urls.py spells its own prefix (bybit/, strategies, trades) with re_path and an optional
    # trailing slash, so the seed's paths (/api/strategies/1/activate) and Django-style ones both work.
    path("api/", include("dashboard.api_urls")),
    path("api/", include("strategies.urls")),
    path("api/", include("trades.urls")),
]
