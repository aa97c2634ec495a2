from django.urls import path

from strategies import views

urlpatterns = [
    path("strategies/", views.strategy_list, name="strategy-page"),
    path("strategies/new", views.strategy_create, name="strategy-page-create"),
    path("strategies/<int:pk>/edit", views.strategy_edit, name="strategy-page-edit"),
    path("strategies/<int:pk>/decisions", views.strategy_decisions, name="strategy-page-decisions"),
    path("strategies/<int:pk>/activate", views.strategy_switch, {"active": True}, name="strategy-page-activate"),
    path("strategies/<int:pk>/deactivate", views.strategy_switch, {"active": False},
         name="strategy-page-deactivate"),
]
