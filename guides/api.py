from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from guides import selectors, services
from guides.serializers import GuideFilterSerializer, GuideListSerializer, GuideSerializer, StepSerializer
from portal.input_guard import query_params


class GuideList(generics.ListAPIView):
    """Guides and best-practice articles (?kind=guide|article, ?tag=)."""

    serializer_class = GuideListSerializer

    def get_queryset(self):
        return selectors.guide_list(**query_params(GuideFilterSerializer, self.request))

    @extend_schema(parameters=[GuideFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class GuideDetail(APIView):
    """One guide with its markdown body, its steps, and the steps you have done."""

    @extend_schema(responses=GuideSerializer)
    def get(self, request, slug):
        guide = selectors.guide_get(slug=slug)
        done = selectors.progress_map(user=request.user, guide_ids=[guide.id]).get(guide.id, [])
        return Response(GuideSerializer(guide, context={"steps_done": done}).data)


class GuideProgress(APIView):
    """Tick (done: true) or untick (done: false) one step of a guide for yourself."""

    @extend_schema(request=StepSerializer, responses=GuideSerializer)
    def post(self, request, slug):
        guide = selectors.guide_get(slug=slug)
        data = StepSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        progress = services.progress_set(
            user=request.user, guide=guide, step_id=data.validated_data["step"], done=data.validated_data["done"]
        )
        return Response(GuideSerializer(guide, context={"steps_done": progress.steps_done}).data)
