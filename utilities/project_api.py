"""REST API of the project generator."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.errors import NotFound, PortalError
from portal.serializers import ErrorSerializer
from utilities import projects
from utilities.models import ProjectGeneration, ProjectTemplate


class ProjectTemplateSerializer(serializers.ModelSerializer):
    questions_schema = serializers.SerializerMethodField()

    class Meta:
        model = ProjectTemplate
        fields = ["slug", "name", "summary", "source", "ref", "questions_schema"]

    def get_questions_schema(self, template) -> dict:
        return projects.questions_schema(template.questions)


class GenerationSerializer(serializers.ModelSerializer):
    template = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    user = serializers.CharField(source="user.username", read_only=True)
    download = serializers.SerializerMethodField()

    class Meta:
        model = ProjectGeneration
        fields = [
            "id",
            "template",
            "user",
            "answers",
            "version",
            "state",
            "error",
            "created_at",
            "finished_at",
            "download",
        ]

    def get_download(self, generation) -> str | None:
        if generation.state != ProjectGeneration.State.DONE:
            return None
        return f"/api/v1/projects/{generation.id}/download/"


class GenerateRequestSerializer(serializers.Serializer):
    answers = serializers.DictField(required=False, default=dict, help_text="Answers to the template's questions.")


def _template(slug):
    template = ProjectTemplate.objects.filter(slug=slug, enabled=True).first()
    if template is None:
        raise NotFound("No such project template; GET /api/v1/project-templates/ lists them.")
    return template


class ProjectTemplateList(APIView):
    """Project templates (copier) you can generate a project from."""

    @extend_schema(responses=ProjectTemplateSerializer(many=True))
    def get(self, request):
        templates = ProjectTemplate.objects.filter(enabled=True).order_by("name")
        return Response(ProjectTemplateSerializer(templates, many=True).data)


class ProjectGenerate(APIView):
    """Generate a project from the template with these answers; a worker renders it (poll the result)."""

    @extend_schema(request=GenerateRequestSerializer, responses={202: GenerationSerializer, 400: ErrorSerializer})
    def post(self, request, slug):
        data = GenerateRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not isinstance(data.validated_data["answers"], dict):
            raise PortalError("answers is a mapping of question to answer.", code="invalid")
        generation = projects.project_generate(
            template=_template(slug), user=request.user, answers=data.validated_data["answers"], request=request
        )
        return Response(GenerationSerializer(generation).data, status=status.HTTP_202_ACCEPTED)


class ProjectGenerationDetail(APIView):
    """A generated project: its state, answers and template version."""

    @extend_schema(responses={200: GenerationSerializer, 404: ErrorSerializer})
    def get(self, request, generation_id):
        return Response(
            GenerationSerializer(projects.generation_get(user=request.user, generation_id=generation_id)).data
        )


class ProjectDownload(APIView):
    """The generated project as a zip."""

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY, 404: ErrorSerializer})
    def get(self, request, generation_id):
        generation = projects.generation_get(user=request.user, generation_id=generation_id)
        if generation.state != ProjectGeneration.State.DONE:
            raise PortalError(
                f"The project is not ready: {generation.get_state_display().lower()}.",
                code="not_ready",
                status_code=409,
            )
        return zip_response(generation)


def zip_response(generation) -> HttpResponse:
    name = (generation.answers.get("package_name") or generation.template.slug).replace('"', "")
    response = HttpResponse(bytes(generation.archive), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}.zip"'
    return response
