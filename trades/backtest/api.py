"""Backtests API: list, launch (a Celery task does the work), get one with its curve and trades."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from core.security import ModelPermissions
from trades.backtest.commands import launch_backtest
from trades.backtest.models import BacktestRun
from trades.backtest.serializers import BacktestDetailSerializer, BacktestLaunchSerializer, BacktestSummarySerializer


class BacktestList(generics.ListCreateAPIView):
    filter_backends = []
    permission_classes = [ModelPermissions]  # launching needs add_backtestrun; listing, a login

    def get_queryset(self):
        return BacktestRun.objects.defer(*BacktestRun.HEAVY_FIELDS, "parameters", "data", "metrics")

    def get_serializer_class(self):
        return BacktestLaunchSerializer if self.request.method == "POST" else BacktestSummarySerializer

    @extend_schema(summary="List backtest runs (newest first; no curves or trades)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(summary="Launch a backtest", request=BacktestLaunchSerializer,
                   responses={201: BacktestDetailSerializer},
                   description="Creates a pending run and queues it; follow it with GET /api/backtests/{id} or the "
                               "backtestProgress events on the dashboard socket.")
    def post(self, request, *args, **kwargs):
        serializer = BacktestLaunchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = launch_backtest(request.user, serializer.validated_data["spec"], serializer.validated_data["settings"])
        return Response(BacktestDetailSerializer(run).data, status=status.HTTP_201_CREATED)


class BacktestDetail(generics.RetrieveAPIView):
    queryset = BacktestRun.objects.all()
    serializer_class = BacktestDetailSerializer

    @extend_schema(summary="One backtest run: parameters, data, metrics, equity curve, trades, chart candles")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
