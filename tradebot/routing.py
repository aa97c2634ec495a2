from django.urls import path

from tradebot.consumers import DashboardConsumer

websocket_urlpatterns = [path("ws/", DashboardConsumer.as_asgi())]
