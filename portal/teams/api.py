"""REST API of teams: directory, a team, members, invitations, join requests, quota requests."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.errors import NotFound, PortalError
from portal.models import Membership, Team
from portal.permissions import can_admin_team
from portal.teams import selectors, services
from portal.teams.models import Invitation, JoinRequest, QuotaRequest


class DirectoryTeamSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Team
        fields = ["slug", "name", "description", "member_count"]


class QuotaLineSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    used = serializers.IntegerField()
    limit = serializers.IntegerField()
    percent = serializers.IntegerField()


class TeamDetailSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["slug", "name", "description", "max_notebooks", "max_gpus", "max_storage_gb", "max_databases"]


class TeamUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    max_notebooks = serializers.IntegerField(required=False, min_value=0, max_value=100000)
    max_gpus = serializers.IntegerField(required=False, min_value=0, max_value=100000)
    max_storage_gb = serializers.IntegerField(required=False, min_value=0, max_value=100000)
    max_databases = serializers.IntegerField(required=False, min_value=0, max_value=100000)


class MemberSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField(source="user.id")
    username = serializers.CharField(source="user.username")

    class Meta:
        model = Membership
        fields = ["user_id", "username", "role"]


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class InvitationSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    recipient = serializers.CharField(read_only=True)

    class Meta:
        model = Invitation
        fields = ["id", "team", "recipient", "role", "expires_at", "accepted_at", "revoked_at", "created_at"]


class InvitationCreateSerializer(serializers.Serializer):
    recipient = serializers.CharField(help_text="A user name or an e-mail address.")
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.MEMBER)


class InvitationCreatedSerializer(InvitationSerializer):
    link = serializers.CharField(read_only=True, help_text="Shown once: the one-time link for the invitee.")

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "link"]


class JoinRequestSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = JoinRequest
        fields = ["id", "username", "team", "new_team_name", "message", "status", "reason", "created_at", "decided_at"]


class JoinRequestCreateSerializer(serializers.Serializer):
    team = serializers.CharField(required=False, allow_blank=True, help_text="Slug of the team to join.")
    new_team_name = serializers.CharField(required=False, allow_blank=True, help_text="Or: the new team you need.")
    message = serializers.CharField(required=False, allow_blank=True)


class JoinDecisionSerializer(serializers.Serializer):
    accept = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class QuotaRequestSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = QuotaRequest
        fields = ["id", "team", "field", "current", "requested", "reason", "status", "decision_reason", "created_at"]


class QuotaRequestCreateSerializer(serializers.Serializer):
    team = serializers.CharField()
    field = serializers.ChoiceField(choices=list(QuotaRequest.FIELDS))
    requested = serializers.IntegerField(min_value=0, max_value=100000, help_text="The new limit (at most 100000).")
    reason = serializers.CharField()


def _team(request, slug) -> Team:
    return selectors.team_for(user=request.user, slug=slug)


class TeamDirectory(APIView):
    """Every team, to ask to join one."""

    @extend_schema(responses=DirectoryTeamSerializer(many=True))
    def get(self, request):
        return Response(DirectoryTeamSerializer(selectors.team_directory(), many=True).data)


class TeamDetail(APIView):
    """A team of yours with its quotas and use; Keepers change name, description and quotas with PATCH."""

    @extend_schema(responses=TeamDetailSerializer)
    def get(self, request, slug):
        from provisioning.quotas import quota_summary

        team = _team(request, slug)
        data = TeamDetailSerializer(team).data
        data["usage"] = QuotaLineSerializer(quota_summary(team), many=True).data
        return Response(data)

    @extend_schema(request=TeamUpdateSerializer, responses=TeamDetailSerializer)
    def patch(self, request, slug):
        team = _team(request, slug)
        if not isinstance(request.data, dict):
            raise PortalError("Send a JSON object.", code="invalid")
        TeamUpdateSerializer(data=request.data).is_valid(raise_exception=True)  # what the schema states (types too)
        team = services.team_update(team=team, by=request.user, data=dict(request.data))
        return Response(TeamDetailSerializer(team).data)


class MemberList(APIView):
    @extend_schema(responses=MemberSerializer(many=True))
    def get(self, request, slug):
        team = _team(request, slug)
        return Response(MemberSerializer(Membership.objects.filter(team=team).select_related("user"), many=True).data)


class MemberDetail(APIView):
    """Change a member's role (PATCH) or remove them (DELETE): team admins and Keepers; anyone may leave."""

    @extend_schema(request=RoleSerializer, responses=MemberSerializer)
    def patch(self, request, slug, user_id):
        team = _team(request, slug)
        data = RoleSerializer(data=request.data, partial=True)  # PATCH: {} changes nothing (as the schema says)
        data.is_valid(raise_exception=True)
        if "role" not in data.validated_data:
            membership = Membership.objects.select_related("user").filter(team=team, user_id=user_id).first()
            if membership is None:
                raise NotFound("No such member in this team.")
            return Response(MemberSerializer(membership).data)
        membership = services.membership_set_role(
            team=team, by=request.user, user_id=user_id, role=data.validated_data["role"]
        )
        return Response(MemberSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request, slug, user_id):
        services.membership_remove(team=_team(request, slug), by=request.user, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationList(APIView):
    @extend_schema(responses=InvitationSerializer(many=True))
    def get(self, request, slug):
        team = _team(request, slug)
        if not can_admin_team(request.user, team):
            raise PortalError(
                "Only the team's admins and the Keepers see its invitations.", code="forbidden", status_code=403
            )
        return Response(
            InvitationSerializer(Invitation.objects.filter(team=team).select_related("invitee", "team"), many=True).data
        )

    @extend_schema(request=InvitationCreateSerializer, responses={201: InvitationCreatedSerializer})
    def post(self, request, slug):
        team = _team(request, slug)
        data = InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, token = services.invitation_create(team=team, by=request.user, **data.validated_data)
        body = InvitationSerializer(invitation).data
        body["link"] = request.build_absolute_uri(f"/invitations/{token}/")
        return Response(body, status=status.HTTP_201_CREATED)


class InvitationAccept(APIView):
    """Join a team with an invitation's token (works once, before it expires, for the person it names)."""

    @extend_schema(request=None, responses=MemberSerializer)
    def post(self, request, token):
        membership = services.invitation_accept(token=token, user=request.user)
        return Response(MemberSerializer(membership).data)


class JoinRequestList(APIView):
    """Your requests to join, and the ones you may answer (team admins, Keepers). POST asks."""

    @extend_schema(responses=JoinRequestSerializer(many=True))
    def get(self, request):
        rows = selectors.join_requests_for(user=request.user).order_by("-created_at")[:200]
        return Response(JoinRequestSerializer(rows, many=True).data)

    @extend_schema(request=JoinRequestCreateSerializer, responses={201: JoinRequestSerializer})
    def post(self, request):
        data = JoinRequestCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        slug = data.validated_data.get("team", "").strip()
        team = None
        if slug:
            team = Team.objects.filter(slug=slug).first()
            if team is None:
                raise PortalError(
                    f"There is no team {slug!r}. GET /api/v1/teams/directory/ lists them.",
                    code="invalid",
                    fields={"team": "Unknown."},
                )
        created = services.join_request_create(
            user=request.user,
            team=team,
            new_team_name=data.validated_data.get("new_team_name", ""),
            message=data.validated_data.get("message", ""),
        )
        return Response(JoinRequestSerializer(created).data, status=status.HTTP_201_CREATED)


class JoinRequestDecide(APIView):
    @extend_schema(request=JoinDecisionSerializer, responses=JoinRequestSerializer)
    def post(self, request, pk):
        found = selectors.join_requests_for(user=request.user).filter(pk=pk).first()
        if found is None:
            raise NotFound("There is no such request among those you may answer.")
        data = JoinDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decided = services.join_request_decide(join_request=found, by=request.user, **data.validated_data)
        return Response(JoinRequestSerializer(decided).data)


class QuotaRequestList(APIView):
    @extend_schema(responses=QuotaRequestSerializer(many=True))
    def get(self, request):
        return Response(QuotaRequestSerializer(selectors.quota_requests_for(user=request.user), many=True).data)

    @extend_schema(request=QuotaRequestCreateSerializer, responses={201: QuotaRequestSerializer})
    def post(self, request):
        data = QuotaRequestCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        team = _team(request, values.pop("team"))
        created = services.quota_request_create(team=team, by=request.user, **values)
        return Response(QuotaRequestSerializer(created).data, status=status.HTTP_201_CREATED)


class QuotaRequestDecide(APIView):
    @extend_schema(request=JoinDecisionSerializer, responses=QuotaRequestSerializer)
    def post(self, request, pk):
        found = selectors.quota_requests_for(user=request.user).filter(pk=pk).first()
        if found is None:
            raise NotFound("There is no such quota request in your teams.")
        data = JoinDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decided = services.quota_request_decide(
            quota_request=found,
            by=request.user,
            approve=data.validated_data["accept"],
            reason=data.validated_data["reason"],
        )
        return Response(QuotaRequestSerializer(decided).data)


class WebhookSerializer(serializers.Serializer):
    url = serializers.CharField(allow_blank=True, help_text="A Slack or Mattermost incoming webhook; empty removes it.")
    enabled = serializers.BooleanField(default=True)


_PORT = "(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_IPV4 = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}"
_HOST = "(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.){1,5}[A-Za-z]{2,63}"
# An http(s) address as the schema can state it (within what Django's URLValidator, the service's check, accepts).
WEBHOOK_URL_RE = f"^$|^https?://(?:localhost|{_IPV4}|{_HOST})(?::{_PORT})?(?:[/?#][!-~]*)?$"


class WebhookInSerializer(WebhookSerializer):
    url = serializers.RegexField(
        WEBHOOK_URL_RE,
        allow_blank=True,
        error_messages={"invalid": "The webhook must be an http(s) address, e.g. https://hooks.slack.com/services/..."},
        help_text="A Slack or Mattermost incoming webhook; empty removes it.",
    )


class TeamWebhookView(APIView):
    """The team's chat webhook (team admins and Keepers)."""

    @extend_schema(request=WebhookInSerializer, responses=WebhookSerializer)
    def put(self, request, slug):
        from portal.notifications.services import team_webhook_set

        team = _team(request, slug)
        data = WebhookInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hook = team_webhook_set(team=team, user=request.user, **data.validated_data)
        return Response({"url": hook.url if hook else "", "enabled": hook.enabled if hook else False})
