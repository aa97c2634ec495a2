from django.urls import path

from trades import views

urlpatterns = [
    path("trades/", views.trade_list, name="trade-page"),
    path("trades/<int:pk>/close", views.close_trade, name="trade-page-close"),
    path("trades/<int:pk>/cancel", views.cancel_trade, name="trade-page-cancel"),
]
