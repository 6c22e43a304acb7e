"""REST API of resources as code: apply (or dry-run) a declaration, export a team's resources."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.input_guard import single_param
from portal.serializers import ErrorSerializer
from provisioning import declarative


class DeclaredResourceSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    template = serializers.SlugField()
    parameters = serializers.DictField(required=False, default=dict)


class DeclarationSerializer(serializers.Serializer):
    team = serializers.SlugField()
    resources = DeclaredResourceSerializer(many=True)


class ApplyRequestSerializer(DeclarationSerializer):
    prune = serializers.BooleanField(default=False, help_text="Delete the team's resources that are not declared.")
    dry_run = serializers.BooleanField(default=False, help_text="Only say what would change.")


class StepSerializer(serializers.Serializer):
    name = serializers.CharField()
    template = serializers.CharField()
    action = serializers.ChoiceField(choices=["create", "update", "delete", "unchanged", "kept", "refused"])
    changes = serializers.DictField(help_text='{"parameter": {"from": old, "to": new}}')
    message = serializers.CharField()
    id = serializers.UUIDField(required=False)


class ApplyResultSerializer(serializers.Serializer):
    team = serializers.CharField()
    dry_run = serializers.BooleanField()
    ok = serializers.BooleanField(help_text="False when a step was refused.")
    steps = StepSerializer(many=True)


class Apply(APIView):
    """Make a team's resources match a declaration: create what is missing, change what the template allows,
    delete undeclared ones only with prune. With dry_run, only say what would change."""

    @extend_schema(request=ApplyRequestSerializer, responses={200: ApplyResultSerializer, 400: ErrorSerializer})
    def post(self, request):
        data = ApplyRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        steps = declarative.declaration_apply(
            user=request.user,
            team_slug=values["team"],
            resources=[dict(r) for r in values["resources"]],
            prune=values["prune"],
            dry_run=values["dry_run"],
            request=request,
        )
        for step in steps:
            step.pop("parameters", None)
        body = {
            "team": values["team"],
            "dry_run": values["dry_run"],
            "ok": all(s["action"] != "refused" for s in steps),
            "steps": steps,
        }
        return Response(body)


class Export(APIView):
    """A team's resources as a declaration that apply accepts (?team=)."""

    @extend_schema(
        parameters=[OpenApiParameter("team", str, required=True)],
        responses={200: DeclarationSerializer, 400: ErrorSerializer},
    )
    def get(self, request):
        return Response(declarative.declaration_export(user=request.user, team_slug=single_param(request, "team")))
