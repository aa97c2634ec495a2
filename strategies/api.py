"""Strategy API, the seed's seven endpoints: list, get, create, update, delete, activate, deactivate."""

import logging

import django_filters
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from core.security import ModelPermissions, RequiresPermission
from strategies import services
from strategies.models import Strategy, StrategyType
from strategies.serializers import StrategySerializer
from strategies.services import change_refusal

logger = logging.getLogger(__name__)


class StrategyFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=StrategyType.choices, help_text="scalping or trend_following")
    # Not BooleanFilter: its widget reads anything but true/false/1/0 as "no filter" and lists every strategy.
    is_active = django_filters.TypedChoiceFilter(
        choices=[(value, value) for value in ("true", "false", "1", "0")], coerce=lambda value: value in ("true", "1"),
        help_text="true or false")

    class Meta:
        model = Strategy
        fields = ["type", "is_active"]


def _save(serializer, user):
    """Save a create or update, refusing (403) one that leaves the strategy active unless ``user`` may let it
    trade; a strategy this activates records ``user`` as its activator."""
    was_active = serializer.instance is not None and serializer.instance.is_active
    active_after = serializer.validated_data.get("is_active", was_active)
    reason = change_refusal(user, active_after=active_after)
    if reason:
        raise PermissionDenied(reason)
    extra = {"activated_by": user} if active_after and not was_active else {}
    return serializer.save(**extra)


class StrategyList(generics.ListCreateAPIView):
    queryset = Strategy.objects.all()
    serializer_class = StrategySerializer
    filterset_class = StrategyFilter
    permission_classes = [ModelPermissions]

    @extend_schema(summary="List strategies",
                   parameters=[OpenApiParameter("is_active", bool, description="true or false")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(summary="Create a strategy")
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_create(self, serializer):
        strategy = _save(serializer, self.request.user)
        logger.info("strategy created", extra={"strategy": strategy.name, "user": self.request.user.get_username()})


class StrategyDetail(generics.RetrieveUpdateDestroyAPIView):
    queryset = Strategy.objects.all()
    serializer_class = StrategySerializer
    permission_classes = [ModelPermissions]

    @extend_schema(summary="Get a strategy")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(summary="Update a strategy")
    def put(self, request, *args, **kwargs):
        return super().put(request, *args, **kwargs)

    @extend_schema(summary="Update some fields of a strategy")
    def patch(self, request, *args, **kwargs):
        return super().patch(request, *args, **kwargs)

    @extend_schema(summary="Delete a strategy", responses={
        204: None, 409: OpenApiResponse(description="The strategy has trades; deactivate it instead.")})
    def delete(self, request, *args, **kwargs):
        return super().delete(request, *args, **kwargs)

    def perform_update(self, serializer):
        strategy = _save(serializer, self.request.user)
        logger.info("strategy updated", extra={"strategy": strategy.name, "user": self.request.user.get_username()})

    def perform_destroy(self, strategy):
        services.delete(self.request.user, strategy)


class _Switch(APIView):
    is_active: bool
    permission_classes = [RequiresPermission("strategies.change_strategy")]

    def post(self, request, pk):
        return Response(StrategySerializer(services.switch(request.user, int(pk), self.is_active)).data)


@extend_schema(summary="Activate a strategy: it trades from the next cycle", request=None,
               responses=StrategySerializer)
class StrategyActivate(_Switch):
    is_active = True


@extend_schema(summary="Deactivate a strategy: no new entries; open positions are kept", request=None,
               responses=StrategySerializer)
class StrategyDeactivate(_Switch):
    is_active = False
