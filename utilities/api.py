"""REST API of the utility services."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.errors import PortalError
from portal.input_guard import single_param
from portal.serializers import ErrorSerializer
from utilities.ids import KINDS, MAX_COUNT, ids_generate


class IdsSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=KINDS)
    ids = serializers.ListField(child=serializers.CharField())


def parse_count(raw: str | None) -> int:
    if raw in (None, ""):
        return 1
    try:
        return int(raw)
    except ValueError:
        raise PortalError(f"count must be a whole number between 1 and {MAX_COUNT}.", code="invalid") from None


class IdsView(APIView):
    """New identifiers: UUID v4, UUID v7 or 64-bit snowflake ids (time-ordered, unique across the platform)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=list(KINDS), description="Default uuid4."),
            OpenApiParameter(
                "count",
                {"type": "integer", "minimum": 1, "maximum": MAX_COUNT},
                description=f"1 to {MAX_COUNT}; default 1.",
            ),
        ],
        responses={200: IdsSerializer, 400: ErrorSerializer},
    )
    def get(self, request):
        kind = single_param(request, "kind", "uuid4")  # given empty: not one of the kinds, a 400
        ids = ids_generate(kind=kind, count=parse_count(single_param(request, "count")))
        return Response({"kind": kind, "ids": ids})
