"""REST API of credential rotation and the credentials overview."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.errors import NotFound
from portal.permissions import teams_visible_to
from portal.serializers import ErrorSerializer
from provisioning import credentials, selectors


class RotationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    resource = serializers.UUIDField(source="resource_id")
    state = serializers.CharField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class RotateRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class CredentialRowSerializer(serializers.Serializer):
    resource = serializers.UUIDField(source="resource.id")
    name = serializers.CharField(source="resource.name")
    team = serializers.CharField(source="resource.team.slug")
    kind = serializers.CharField(source="resource.kind")
    since = serializers.DateTimeField()
    age_days = serializers.IntegerField()
    too_old = serializers.BooleanField()
    rotating = serializers.BooleanField()
    rotatable = serializers.BooleanField()


class CredentialListSerializer(serializers.Serializer):
    max_age_days = serializers.IntegerField()
    credentials = CredentialRowSerializer(many=True)


class ResourceRotate(APIView):
    """Replace the resource's password or keys (databases, buckets); the old ones stop working. Audited."""

    @extend_schema(request=RotateRequestSerializer, responses={202: RotationSerializer, 409: ErrorSerializer})
    def post(self, request, resource_id):
        data = RotateRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        resource = selectors.resource_get(user=request.user, resource_id=resource_id)
        rotation = credentials.credential_rotate(
            resource=resource, user=request.user, request=request, reason=data.validated_data["reason"]
        )
        return Response(RotationSerializer(rotation).data, status=status.HTTP_202_ACCEPTED)


class ResourceRotation(APIView):
    """The latest rotation of the resource's credentials (to wait for it)."""

    @extend_schema(responses={200: RotationSerializer, 404: ErrorSerializer})
    def get(self, request, resource_id):
        resource = selectors.resource_get(user=request.user, resource_id=resource_id)
        rotation = resource.rotations.order_by("-created_at").first()
        if rotation is None:
            raise NotFound("These credentials were never rotated.")
        return Response(RotationSerializer(rotation).data)


class CredentialList(APIView):
    """Every credential you can see, with its age and whether it is older than the Keepers' limit."""

    @extend_schema(responses=CredentialListSerializer)
    def get(self, request):
        rows, policy = credentials.credential_list(user=request.user)
        return Response(CredentialListSerializer({"max_age_days": policy.max_age_days, "credentials": rows}).data)


class TeamRotateResultSerializer(serializers.Serializer):
    team = serializers.CharField()
    rotations = RotationSerializer(many=True)


class TeamRotate(APIView):
    """Keepers: rotate every database password and bucket key of a team at once (someone left)."""

    @extend_schema(request=None, responses={202: TeamRotateResultSerializer, 403: ErrorSerializer})
    def post(self, request, slug):
        team = teams_visible_to(request.user).filter(slug=slug).first()
        if team is None:
            raise NotFound("No such team.")
        rotations = credentials.team_credentials_rotate(team=team, user=request.user, request=request)
        body = {"team": team.slug, "rotations": RotationSerializer(rotations, many=True).data}
        return Response(body, status=status.HTTP_202_ACCEPTED)
