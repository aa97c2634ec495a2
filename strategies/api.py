"""Strategy API, the seed's seven endpoints (list, get, create, update, delete, activate, deactivate) and the strategy
classes a strategy can be of (``GET /api/strategies/classes``)."""

import logging

import django_filters
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.security import ModelPermissions, RequiresPermission
from strategies import catalogue, services
from strategies.checks import refuse_unless_checked
from strategies.models import Strategy
from strategies.serializers import StrategySerializer
from strategies.services import change_refusal

logger = logging.getLogger(__name__)


def _type_choices():
    # Read on each request: a strategy file added since start-up is a type too.
    return [(key, key) for key in catalogue.known_types()]


class StrategyFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=_type_choices,
                                       help_text="A strategy class's key (GET /api/strategies/classes).")
    # Not BooleanFilter: its widget reads anything but true/false/1/0 as "no filter" and lists every strategy.
    is_active = django_filters.TypedChoiceFilter(
        choices=[(value, value) for value in ("true", "false", "1", "0")], coerce=lambda value: value in ("true", "1"),
        help_text="true or false")

    class Meta:
        model = Strategy
        fields = ["type", "is_active"]


def _save(serializer, user):
    """Save a create or update, refusing (403) one that leaves the strategy active unless ``user`` may let it
    trade, and (400) one that activates rules failing the look-ahead check; a strategy this activates records
    ``user`` as its activator."""
    was_active = serializer.instance is not None and serializer.instance.is_active
    active_after = serializer.validated_data.get("is_active", was_active)
    reason = change_refusal(user, active_after=active_after)
    if reason:
        raise PermissionDenied(reason)
    if active_after and _rules_change(serializer, was_active):
        refuse_unless_checked(*_rules_after(serializer))
    extra = {"activated_by": user} if active_after and not was_active else {}
    return serializer.save(**extra)


def _rules_after(serializer) -> tuple[str, dict]:
    """The class key and parameter values the strategy will have once saved."""
    instance, data = serializer.instance, serializer.validated_data
    return (data.get("type", instance.type if instance else ""),
            data.get("indicators", instance.indicators if instance else {}))


def _rules_change(serializer, was_active: bool) -> bool:
    """Whether this save starts trading new rules: it activates the strategy, or changes an active one's class or
    parameters (the look-ahead check runs then; a rename of an active strategy needs none)."""
    instance = serializer.instance
    return not was_active or _rules_after(serializer) != (instance.type, instance.indicators)


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


@extend_schema(summary="Activate a strategy: it trades from the next cycle", request=None, responses={
    200: StrategySerializer,
    400: OpenApiResponse(description="It failed the look-ahead and warm-up check: the report says which columns "
                                     "and candles (manage.py check_strategy runs the same check)."),
    403: OpenApiResponse(description="The user may not let it trade (permission, or live trading switch)."),
    404: OpenApiResponse(description="There is no such strategy.")})
class StrategyActivate(_Switch):
    is_active = True


@extend_schema(summary="Deactivate a strategy: no new entries; open positions are kept", request=None,
               responses=StrategySerializer)
class StrategyDeactivate(_Switch):
    is_active = False


def describe_class(key: str, cls, origin: str) -> dict:
    """What a strategy row of this class can be set to: its defaults, its exits and its declared parameters."""
    return {"key": key, "name": cls.__name__, "summary": cls.summary(), "origin": origin,
            "timeframe": cls.interval(), "informative_timeframes": list(cls.informative_timeframes),
            "startup_candle_count": cls.startup_candle_count, "can_short": cls.can_short,
            "exits": {"stoploss": cls.stoploss, "take_profit": cls.take_profit, "trailing_stop": cls.trailing_stop,
                      "trailing_stop_positive": cls.trailing_stop_positive,
                      "trailing_stop_positive_offset": cls.trailing_stop_positive_offset,
                      "exit_after_candles": cls.exit_after_candles,
                      "partial_take_profits": [list(target) for target in cls.partial_take_profits]},
            "parameters": [parameter.describe() for parameter in cls.declared_parameters().values()]}


@extend_schema(summary="List the strategy classes: built-ins and STRATEGY_DIRS files, with their parameters",
               responses={200: OpenApiResponse(description='{"classes": [...], "problems": [{"path", "message"}]}')})
class StrategyClasses(APIView):
    """Every class a strategy's ``type`` may name, and the files that could not be loaded (and why)."""

    permission_classes = [IsAuthenticated]  # a read, like the strategy list

    def get(self, request):
        found = catalogue.refresh()  # a file saved a moment ago is listed (or its problem is)
        classes = [describe_class(key, found.classes[key], "built-in" if found.origins[key].startswith("built-in")
                                  else "file") | {"file": _file_of(found.origins[key])} for key in found.keys()]
        problems = [{"path": problem.path, "message": problem.message} for problem in found.problems]
        return Response({"classes": classes, "problems": problems})


def _file_of(origin: str) -> str:
    """The file of a user class (its origin reads "path (ClassName)"); "" for a built-in."""
    return "" if origin.startswith("built-in") else origin.rsplit(" (", 1)[0]
