from django.urls import path

from dashboard.consumers import DashboardConsumer

websocket_urlpatterns = [path("ws/", DashboardConsumer.as_asgi())]
