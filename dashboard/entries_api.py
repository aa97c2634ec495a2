"""``/api/bot/entries``: the bot-wide entry switch (what ``/stopentry`` and ``/startentry`` change in chat), a thin
front end over ``trades.entries``: ``GET`` reads it, ``POST {"stopped": true, "reason": "..."}`` changes it."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.security import TRADE_ORDERS, RequiresPermission
from trades import entries
from trades.models import EntrySwitch

TAG = ["dashboard"]


class RequiredBooleanField(serializers.BooleanField):
    # DRF reads a boolean missing from a form body as an unticked checkbox (False): here it must be said.
    default_empty_html = empty


class EntriesChangeSerializer(serializers.Serializer):
    stopped = RequiredBooleanField(help_text="true: no new entries from the next cycle on; false: allow them.")
    reason = serializers.CharField(max_length=entries.REASON_LIMIT, required=False, allow_blank=True, default="",
                                   help_text="Why (shown on the status line and in each skipped decision).")


class EntriesSerializer(serializers.Serializer):
    stopped = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)
    changed_by = serializers.CharField(allow_null=True, source="changed_by.username", default=None)
    changed_at = serializers.DateTimeField(allow_null=True)


class EntriesView(APIView):
    # The permission answers before the body is read (403, not 400), as every write's does; the command checks it
    # again, with the live trading switch for allowing entries.
    permission_classes = [IsAuthenticated, RequiresPermission(TRADE_ORDERS)]

    @extend_schema(tags=TAG, summary="Whether the bot may open new trades (the entry switch)",
                   responses=EntriesSerializer)
    def get(self, request):
        return Response(EntriesSerializer(EntrySwitch.current()).data)

    @extend_schema(tags=TAG, summary="Stop or allow new entries, bot-wide; open trades stay managed either way",
                   request=EntriesChangeSerializer,
                   responses={200: EntriesSerializer, 400: OpenApiResponse(description="A bad field, named."),
                              403: OpenApiResponse(description="The order permission is missing (or, allowing "
                                                               "entries off paper, the live trading switch is off).")})
    def post(self, request):
        change = EntriesChangeSerializer(data=request.data)
        change.is_valid(raise_exception=True)
        if change.validated_data["stopped"]:
            switch = entries.stop_entries(request.user, change.validated_data["reason"])
        else:
            switch = entries.start_entries(request.user)
        return Response(EntriesSerializer(switch).data)
