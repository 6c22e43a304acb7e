"""REST API of the floor: tokens, the current user, teams."""

from django.contrib.auth import authenticate, get_user_model
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, serializers, throttling
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.clientip import client_ip
from portal.errors import PortalError
from portal.input_guard import query_params
from portal.permissions import is_keeper
from portal.selectors import membership_list, team_list
from portal.serializers import (
    ErrorSerializer,
    MeSerializer,
    TeamSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
)
from portal.tokens import token_issue


class TokenThrottle(throttling.AnonRateThrottle):
    """Counts by the client's address; X-Forwarded-For counts only from TRUSTED_PROXIES (DRF would believe it)."""

    scope = "token"

    def get_ident(self, request):
        return client_ip(request) or "unknown"


class TokenView(APIView):
    """Exchange a username (or email) and password for an API token."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [TokenThrottle]

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenResponseSerializer, 401: ErrorSerializer})
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        login = data.validated_data["username"]
        password = data.validated_data["password"]
        user = authenticate(request, username=login, password=password)
        if user is None and "@" in login:
            match = get_user_model().objects.filter(email__iexact=login).first()
            if match:
                user = authenticate(request, username=match.get_username(), password=password)
        if user is None:
            raise PortalError(
                "Wrong username or password. Check both and try again, or reset your password on the sign-in page.",
                code="invalid_credentials",
                status_code=401,
            )
        name = data.validated_data.get("name") or f"API sign-in {timezone.now():%Y-%m-%d %H:%M}"
        token, key = token_issue(
            user=user, name=name, expires_in_days=data.validated_data["expires_in_days"], request=request, via="api"
        )
        return Response({"token": key, "name": token.name, "expires_at": token.expires_at})


class MeView(APIView):
    """The signed-in user, their teams and whether they are a Keeper."""

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        context = {"memberships": membership_list(user=request.user), "is_keeper": is_keeper(request.user)}
        return Response(MeSerializer(request.user, context=context).data)


class TeamListView(generics.ListAPIView):
    """Teams the user belongs to (every team for Keepers)."""

    serializer_class = TeamSerializer

    def get_queryset(self):
        return team_list(user=self.request.user)


class SearchHitSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    title = serializers.CharField()
    url = serializers.CharField()
    snippet = serializers.CharField(help_text="HTML: matches are wrapped in <mark>, everything else is escaped.")


class SearchResultsSerializer(serializers.Serializer):
    query = serializers.CharField()
    results = SearchHitSerializer(many=True)


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.RegexField(
        r"^[^\x00]*[^\s\x00][^\x00]*$",
        max_length=200,
        help_text="Words to look for (at least one character that is not a space).",
        error_messages={
            "required": "Say what to search for: ?q=words",
            "blank": "Say what to search for: ?q=words",
            "invalid": "Say what to search for: ?q=words",
        },
    )


class SearchView(APIView):
    """Search guides, articles, catalog entries, templates and your resources (?q=)."""

    @extend_schema(parameters=[SearchQuerySerializer], responses=SearchResultsSerializer)
    def get(self, request):
        from portal.search import search

        q = query_params(SearchQuerySerializer, request)["q"]
        hits = search(user=request.user, text=q)
        return Response({"query": q, "results": SearchHitSerializer(hits, many=True).data})
