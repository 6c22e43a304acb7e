"""REST API of requests to the Keepers: list, open, read the thread, reply, status, assign; feedback."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.errors import NotAllowed, PortalError
from portal.input_guard import single_param
from portal.keeper_requests import services
from portal.keeper_requests.models import AboutType, KeeperReply, KeeperRequest, RequestKind, RequestStatus
from portal.permissions import is_keeper, teams_visible_to
from portal.selectors import current_team
from portal.serializers import RequiredText


class ReplySerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)

    class Meta:
        model = KeeperReply
        fields = ["id", "author", "body", "from_keeper", "created_at"]


class RequestSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    author = serializers.CharField(source="author.username", read_only=True)
    assignee = serializers.CharField(source="assignee.username", read_only=True, default=None, allow_null=True)

    class Meta:
        model = KeeperRequest
        fields = [
            "id", "kind", "status", "title", "body", "team", "author", "assignee", "about_type", "about_key",
            "about_step", "about_label", "resolution", "created_at", "updated_at", "closed_at",
        ]  # fmt: skip


class RequestDetailSerializer(RequestSerializer):
    replies = ReplySerializer(many=True, read_only=True)

    class Meta(RequestSerializer.Meta):
        fields = [*RequestSerializer.Meta.fields, "replies"]


class RequestCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=RequestKind.choices, default=RequestKind.QUESTION)
    title = RequiredText()
    body = RequiredText()
    team = serializers.CharField(required=False, help_text="Slug; your current team when left out.")
    about_type = serializers.ChoiceField(choices=AboutType.choices, required=False, default="")
    about_key = serializers.CharField(required=False, allow_blank=True, default="", max_length=80)  # the columns'
    about_step = serializers.CharField(required=False, allow_blank=True, default="", max_length=80)


class ReplyCreateSerializer(serializers.Serializer):
    body = RequiredText()
    status = serializers.ChoiceField(choices=RequestStatus.choices, required=False, help_text="Keepers: new status.")


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=RequestStatus.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class FeedbackSerializer(serializers.Serializer):
    target_type = serializers.ChoiceField(choices=[("entry", "entry"), ("guide", "guide")])
    target_key = serializers.CharField()
    helpful = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class RequestList(APIView):
    """Requests of your teams (all of them for Keepers, oldest open first with ?inbox=1). POST opens one."""

    @extend_schema(responses=RequestSerializer(many=True))
    def get(self, request):
        if single_param(request, "inbox") and is_keeper(request.user):
            rows = services.keeper_inbox()
        else:
            rows = services.request_list(user=request.user, status=single_param(request, "status", ""))
        return Response(RequestSerializer(rows[:200], many=True).data)

    @extend_schema(request=RequestCreateSerializer, responses={201: RequestDetailSerializer})
    def post(self, request):
        data = RequestCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        slug = values.pop("team", "")
        team = teams_visible_to(request.user).filter(slug=slug).first() if slug else current_team(request)
        if slug and team is None:
            raise NotAllowed("You can open requests only for your own teams.")
        created = services.request_open(user=request.user, team=team, **values)
        return Response(RequestDetailSerializer(created).data, status=status.HTTP_201_CREATED)


class RequestDetail(APIView):
    @extend_schema(responses=RequestDetailSerializer)
    def get(self, request, pk):
        found = services.request_get(user=request.user, request_id=pk)
        return Response(RequestDetailSerializer(found).data)


class RequestReplies(APIView):
    @extend_schema(request=ReplyCreateSerializer, responses={201: ReplySerializer})
    def post(self, request, pk):
        found = services.request_get(user=request.user, request_id=pk)
        data = ReplyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reply = services.reply_add(request=found, user=request.user, **data.validated_data)
        return Response(ReplySerializer(reply).data, status=status.HTTP_201_CREATED)


class RequestStatusView(APIView):
    @extend_schema(request=StatusSerializer, responses=RequestSerializer)
    def post(self, request, pk):
        found = services.request_get(user=request.user, request_id=pk)
        data = StatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            RequestSerializer(services.request_set_status(request=found, user=request.user, **data.validated_data)).data
        )


class RequestAssign(APIView):
    @extend_schema(request=None, responses=RequestSerializer)
    def post(self, request, pk):
        found = services.request_get(user=request.user, request_id=pk)
        return Response(RequestSerializer(services.request_assign(request=found, user=request.user)).data)


class FeedbackReasonSerializer(serializers.Serializer):
    helpful = serializers.BooleanField()
    reason = serializers.CharField()


class FeedbackTallySerializer(serializers.Serializer):
    target_type = serializers.ChoiceField(choices=[("entry", "entry"), ("guide", "guide")])
    target_key = serializers.CharField()
    helpful = serializers.IntegerField(min_value=0)
    not_helpful = serializers.IntegerField(min_value=0)
    reasons = FeedbackReasonSerializer(many=True)


class FeedbackView(APIView):
    """POST marks a guide or catalog entry helpful or not; GET (Keepers) gives the tallies with reasons."""

    @extend_schema(responses={200: FeedbackTallySerializer(many=True)})
    def get(self, request):
        if not is_keeper(request.user):
            raise PortalError("Only the Keepers see the feedback tallies.", code="forbidden", status_code=403)
        return Response(services.feedback_tallies())

    @extend_schema(request=FeedbackSerializer, responses={201: FeedbackSerializer})
    def post(self, request):
        data = FeedbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        feedback = services.feedback_set(user=request.user, **data.validated_data)
        return Response(
            {
                "target_type": feedback.target_type,
                "target_key": feedback.target_key,
                "helpful": feedback.helpful,
                "reason": feedback.reason,
            },
            status=status.HTTP_201_CREATED,
        )
