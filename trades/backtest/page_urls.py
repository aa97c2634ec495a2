from django.urls import path

from trades.backtest import views

urlpatterns = [
    path("", views.backtest_list, name="backtest-page"),
    path("compare/", views.backtest_compare, name="backtest-compare"),
    path("<int:pk>/", views.backtest_detail, name="backtest-detail"),
]
