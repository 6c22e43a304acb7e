"""Sign-in: allauth adapters (sign-up switch) and API token authentication."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header

from portal.clientip import client_ip
from portal.redirects import is_own_path


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        return settings.SIGNUP_ENABLED

    def is_safe_url(self, url):
        # allauth allows any host in ALLOWED_HOSTS; `next` after sign-in goes only to the portal's own paths.
        return is_own_path(url)

    def get_client_ip(self, request):
        # Login rate limits count by the same address as the API throttle (X-Forwarded-For from TRUSTED_PROXIES).
        return client_ip(request) or super().get_client_ip(request)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin):
        # People coming from the organisation's identity provider may always get an account.
        return True


class BearerOrTokenAuthentication(TokenAuthentication):
    """Personal API tokens (portal.tokens): `Authorization: Token <key>` or `Authorization: Bearer <key>`."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in (b"token", b"bearer"):
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Token <token>'.")
        try:
            key = parts[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("The token has characters a token never has.") from exc
        return self.authenticate_credentials(key)

    def authenticate_credentials(self, key):
        from portal.tokens import token_authenticate

        token = token_authenticate(key)
        if token is None:
            raise exceptions.AuthenticationFailed(
                "This token is not valid: it is unknown, expired or revoked. Make a new one on 'Your tokens'."
            )
        return (token.user, token)
