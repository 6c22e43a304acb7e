"""REST API of the radar: the Backstage tech-radar JSON, proposals, scores, votes, comments."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import radar_services as services
from catalog.radar_models import CRITERIA, Proposal, ProposalComment, Quadrant, Ring, RingMove, Score, Technology, Vote
from catalog.radar_svg import backstage_radar
from catalog.serializers import LINK_URL_RE
from portal.errors import NotFound
from portal.models import Team
from portal.serializers import RequiredText


class BackstageQuadrant(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class BackstageRing(BackstageQuadrant):
    color = serializers.CharField()


class BackstageTimeline(serializers.Serializer):
    moved = serializers.IntegerField()
    ringId = serializers.CharField()  # noqa: N815 (Backstage's name)
    date = serializers.DateField()
    description = serializers.CharField()


class BackstageLink(serializers.Serializer):
    title = serializers.CharField()
    url = serializers.CharField()


class LinkIn(serializers.Serializer):
    """A link a proposal is sent with: an http(s) address, as the schema states it (the service checks it too)."""

    title = serializers.CharField()
    url = serializers.RegexField(LINK_URL_RE, error_messages={"invalid": "Enter an http(s) address."})


class BackstageEntry(serializers.Serializer):
    id = serializers.CharField()
    key = serializers.CharField()
    title = serializers.CharField()
    quadrant = serializers.CharField()
    description = serializers.CharField()
    url = serializers.CharField()
    links = BackstageLink(many=True)
    timeline = BackstageTimeline(many=True)


class BackstageRadar(serializers.Serializer):
    quadrants = BackstageQuadrant(many=True)
    rings = BackstageRing(many=True)
    entries = BackstageEntry(many=True)


def _technologies():
    return (
        Technology.objects.exclude(ring="")
        .order_by("quadrant", "name")
        .prefetch_related(Prefetch("moves", queryset=RingMove.objects.order_by("-date", "-id")))
    )


class RadarView(APIView):
    """The radar in the format of Backstage's tech-radar plugin (point its `TechRadarApi` loader here)."""

    @extend_schema(responses=BackstageRadar)
    def get(self, request):
        return Response(
            backstage_radar(_technologies(), url_for=lambda t: request.build_absolute_uri(f"/radar/{t.slug}/"))
        )


class ScoreSerializer(serializers.ModelSerializer):
    keeper = serializers.CharField(source="keeper.username")

    class Meta:
        model = Score
        fields = ["criterion", "value", "justification", "keeper"]


class VoteSerializer(serializers.ModelSerializer):
    keeper = serializers.CharField(source="keeper.username", read_only=True)

    class Meta:
        model = Vote
        fields = ["ring", "reason", "keeper", "at"]


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)

    class Meta:
        model = ProposalComment
        fields = ["id", "author", "body", "created_at"]


class ProposalSerializer(serializers.ModelSerializer):
    technology = serializers.CharField(source="technology.slug", read_only=True)
    name = serializers.CharField(source="technology.name", read_only=True)
    quadrant = serializers.CharField(source="technology.quadrant", read_only=True)
    ring = serializers.CharField(source="technology.ring", read_only=True)
    tried_by = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Proposal
        fields = [
            "id",
            "technology",
            "name",
            "quadrant",
            "ring",
            "tried_by",
            "findings",
            "status",
            "decided_ring",
            "created_at",
            "decided_at",
        ]


class ProposalDetailSerializer(ProposalSerializer):
    scores = ScoreSerializer(many=True, read_only=True)
    votes = VoteSerializer(many=True, read_only=True)
    comments = CommentSerializer(many=True, read_only=True)

    class Meta(ProposalSerializer.Meta):
        fields = [*ProposalSerializer.Meta.fields, "scores", "votes", "comments"]


class ProposalCreateSerializer(serializers.Serializer):
    name = RequiredText()
    description = RequiredText()
    quadrant = serializers.ChoiceField(choices=Quadrant.choices)
    links = LinkIn(many=True, required=False)
    tried_by = serializers.CharField(required=False, allow_blank=True, help_text="Slug of your team that tried it.")
    findings = serializers.CharField(required=False, allow_blank=True, default="")


class ScoreItem(serializers.Serializer):
    value = serializers.IntegerField(min_value=0, max_value=5)
    justification = serializers.CharField()


class ScoresByCriterion(serializers.Serializer):
    """{criterion: {value, justification}} for one or more of the criteria (the schema says minProperties 1)."""

    def get_fields(self):
        return {criterion: ScoreItem(required=False) for criterion in CRITERIA}


class ScoresInSerializer(serializers.Serializer):
    scores = ScoresByCriterion(help_text=f"Criteria: {', '.join(CRITERIA)} (one or more).")

    def validate_scores(self, value):
        return dict(value)


class VoteInSerializer(serializers.Serializer):
    ring = serializers.ChoiceField(choices=Ring.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class CommentInSerializer(serializers.Serializer):
    body = RequiredText()


def _proposal(pk) -> Proposal:
    found = Proposal.objects.select_related("technology", "tried_by").filter(pk=pk).first()
    if found is None:
        raise NotFound("There is no such proposal.")
    return found


class ProposalList(APIView):
    """Every proposal (anyone reads the procedure's record); POST proposes a technology."""

    @extend_schema(responses=ProposalSerializer(many=True))
    def get(self, request):
        return Response(
            ProposalSerializer(Proposal.objects.select_related("technology", "tried_by")[:200], many=True).data
        )

    @extend_schema(request=ProposalCreateSerializer, responses={201: ProposalDetailSerializer})
    def post(self, request):
        data = ProposalCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        slug = values.pop("tried_by", "")
        tried_by = Team.objects.filter(slug=slug).first() if slug else None
        if slug and tried_by is None:
            raise NotFound("There is no such team.")
        proposal = services.proposal_create(user=request.user, tried_by=tried_by, **values)
        return Response(ProposalDetailSerializer(proposal).data, status=status.HTTP_201_CREATED)


class ProposalDetail(APIView):
    @extend_schema(responses=ProposalDetailSerializer)
    def get(self, request, pk):
        return Response(ProposalDetailSerializer(_proposal(pk)).data)


class ProposalScores(APIView):
    """A Keeper scores criteria 0 to 5 with a justification each."""

    @extend_schema(request=ScoresInSerializer, responses=ProposalDetailSerializer)
    def post(self, request, pk):
        proposal = _proposal(pk)
        data = ScoresInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.proposal_score(proposal=proposal, keeper=request.user, scores=data.validated_data["scores"])
        return Response(ProposalDetailSerializer(_proposal(pk)).data)


class ProposalVotes(APIView):
    """A Keeper votes for a ring; with enough votes and complete scores the technology moves."""

    @extend_schema(request=VoteInSerializer, responses=ProposalDetailSerializer)
    def post(self, request, pk):
        proposal = _proposal(pk)
        data = VoteInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.proposal_vote(proposal=proposal, keeper=request.user, **data.validated_data)
        return Response(ProposalDetailSerializer(_proposal(pk)).data)


class ProposalComments(APIView):
    @extend_schema(request=CommentInSerializer, responses={201: CommentSerializer})
    def post(self, request, pk):
        data = CommentInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = services.comment_add(proposal=_proposal(pk), user=request.user, body=data.validated_data["body"])
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)
