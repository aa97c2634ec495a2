"""Optimisations API: list, launch (the trials run as Celery tasks), get one with its folds and report, apply a
trial's parameters as a new strategy, resume a study whose messages or workers were lost."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Forbidden
from core.security import ModelPermissions
from strategies.serializers import StrategySerializer
from trades.optimise.commands import apply_parameters, apply_refusal, launch_study, resume_study
from trades.optimise.models import OptimisationRun
from trades.optimise.serializers import (
    ApplySerializer,
    OptimiseDetailSerializer,
    OptimiseLaunchSerializer,
    OptimiseSummarySerializer,
)


class OptimisationList(generics.ListCreateAPIView):
    filter_backends = []
    permission_classes = [ModelPermissions]  # launching needs add_optimisationrun; listing, a login

    def get_queryset(self):
        return OptimisationRun.objects.defer("results", "settings")

    def get_serializer_class(self):
        return OptimiseLaunchSerializer if self.request.method == "POST" else OptimiseSummarySerializer

    @extend_schema(summary="List optimisations (newest first; no reports)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(summary="Launch an optimisation", request=OptimiseLaunchSerializer,
                   responses={201: OptimiseDetailSerializer},
                   description="Makes the Optuna studies (one per walk-forward fold) and queues the trials as "
                               "Celery tasks; follow it with GET /api/optimisations/{id} or the optimiseProgress "
                               "events on the dashboard socket.")
    def post(self, request, *args, **kwargs):
        serializer = OptimiseLaunchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = launch_study(request.user, serializer.request())
        return Response(OptimiseDetailSerializer(run).data, status=status.HTTP_201_CREATED)


class OptimisationDetail(generics.RetrieveAPIView):
    queryset = OptimisationRun.objects.prefetch_related("folds")
    serializer_class = OptimiseDetailSerializer

    @extend_schema(summary="One optimisation: settings, folds (in-sample and out-of-sample), report")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ApplyTrial(APIView):
    @extend_schema(summary="Make a trial's parameters a new strategy (inactive; the old one is kept)",
                   request=ApplySerializer, responses={201: StrategySerializer})
    def post(self, request, pk: int):
        refusal = apply_refusal(request.user)  # before reading the body: a refusal comes first
        if refusal:
            raise Forbidden(refusal)
        serializer = ApplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fold = serializer.validated_data.get("fold")
        strategy = apply_parameters(request.user, pk, serializer.validated_data["trial"],
                                    None if fold is None else fold - 1)
        return Response(StrategySerializer(strategy).data, status=status.HTTP_201_CREATED)


class ResumeStudy(APIView):
    @extend_schema(summary="Queue again what a running optimisation waits for (lost messages, dead workers)",
                   request=None, responses={200: dict})
    def post(self, request, pk: int):
        return Response({"requeued": resume_study(request.user, pk)})
