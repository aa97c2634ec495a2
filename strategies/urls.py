from django.urls import re_path

from strategies import api

urlpatterns = [
    re_path(r"^strategies/?$", api.StrategyList.as_view(), name="strategy-list"),
    re_path(r"^strategies/classes/?$", api.StrategyClasses.as_view(), name="strategy-classes"),
    re_path(r"^strategies/(?P<pk>[0-9]+)/?$", api.StrategyDetail.as_view(), name="strategy-detail"),
    re_path(r"^strategies/(?P<pk>[0-9]+)/activate/?$", api.StrategyActivate.as_view(), name="strategy-activate"),
    re_path(r"^strategies/(?P<pk>[0-9]+)/deactivate/?$", api.StrategyDeactivate.as_view(),
            name="strategy-deactivate"),
]
