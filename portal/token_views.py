"""'Your tokens': personal API tokens on a page and in the API (list, make, revoke)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.errors import PortalError
from portal.tokens import DEFAULT_DAYS, EXPIRY_CHOICES, token_get, token_issue, token_list, token_revoke


def _page(request, *, new_key="", new_token=None, error=None, status_code=200):
    response = render(
        request,
        "portal/tokens.html",
        {
            "tokens": token_list(user=request.user),
            "choices": EXPIRY_CHOICES,
            "default_days": DEFAULT_DAYS,
            "new_key": new_key,
            "new_token": new_token,
            "error": error,
            "post": request.POST if error else {},
        },
        status=status_code,
    )
    response["Cache-Control"] = "no-store"  # the page may hold a new key
    return response


def tokens_page(request):
    """GET lists the person's tokens; POST makes one and shows its key once."""
    if request.method == "POST":
        try:
            token, key = token_issue(
                user=request.user,
                name=request.POST.get("name", ""),
                expires_in_days=request.POST.get("expires_in_days", DEFAULT_DAYS),
                request=request,
            )
        except PortalError as exc:
            return _page(request, error=exc, status_code=400)
        return _page(request, new_key=key, new_token=token)
    return _page(request)


@require_POST
def token_revoke_view(request, token_id):
    try:
        token = token_revoke(user=request.user, token=token_get(user=request.user, token_id=token_id), request=request)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Revoked '{token.name}': it no longer works.")
    return redirect("tokens")


class ApiTokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The first characters of the key, to tell tokens apart.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    is_active = serializers.BooleanField()


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_in_days = serializers.IntegerField(min_value=1, max_value=365, default=DEFAULT_DAYS)


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(help_text="The key, shown this once; the portal keeps only its hash.")


class TokenListCreate(APIView):
    """Your personal API tokens (never their keys); POST makes a new one and returns its key once."""

    @extend_schema(responses=ApiTokenSerializer(many=True))
    def get(self, request):
        tokens = token_list(user=request.user).filter(revoked_at__isnull=True)  # revoked: deleted, for the API
        return Response(ApiTokenSerializer(tokens, many=True).data)

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer})
    def post(self, request):
        data = ApiTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, key = token_issue(user=request.user, request=request, via="api", **data.validated_data)
        body = {**ApiTokenSerializer(token).data, "token": key}
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class TokenDetail(APIView):
    """One of your tokens; DELETE revokes it (it stops working at once). A revoked token is gone from the API (404):
    the Tokens page and the audit log keep its history."""

    @extend_schema(responses=ApiTokenSerializer)
    def get(self, request, token_id):
        return Response(ApiTokenSerializer(token_get(user=request.user, token_id=token_id, revoked=False)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, token_id):
        token = token_get(user=request.user, token_id=token_id, revoked=False)
        if getattr(request.auth, "pk", None) == token.pk and isinstance(request.auth, type(token)):
            raise PortalError(
                "This is the token this request signed in with: revoking it would lock this program out. "
                "Revoke it on the Tokens page, or with another token.",
                code="token_in_use",
                status_code=409,
            )
        token_revoke(user=request.user, token=token, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)
