from django.urls import re_path

from trades.optimise import api

urlpatterns = [
    re_path(r"^optimisations/?$", api.OptimisationList.as_view(), name="optimise-list"),
    re_path(r"^optimisations/(?P<pk>[0-9]+)/?$", api.OptimisationDetail.as_view(), name="optimise-api-detail"),
    re_path(r"^optimisations/(?P<pk>[0-9]+)/apply/?$", api.ApplyTrial.as_view(), name="optimise-apply"),
    re_path(r"^optimisations/(?P<pk>[0-9]+)/resume/?$", api.ResumeStudy.as_view(), name="optimise-resume"),
]
