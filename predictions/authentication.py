"""API authentication: `Authorization: Token <key>` (or `Bearer <key>`), tokens stored hashed."""

import time

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from predictions.models import ApiClient, ApiToken, hash_token

# key_hash → (valid until, monotonic seconds; the token with its client). Per process: a
# revoked token or deactivated client is refused by every process within
# API_TOKEN_CACHE_SECONDS (at once by the process that saved the change); expiry is exact.
_TOKENS: dict[str, tuple[float, ApiToken]] = {}
_TOKENS_MAX = 10_000


def token_lookup(*, key_hash: str) -> ApiToken | None:
    """The token (with its client) by hash: from the per-process cache, else one query."""
    now = time.monotonic()
    hit = _TOKENS.get(key_hash)
    if hit is not None and hit[0] > now:
        return hit[1]
    token = ApiToken.objects.select_related("client").filter(key_hash=key_hash).first()
    ttl = settings.API_TOKEN_CACHE_SECONDS
    if token is not None and ttl > 0:
        if len(_TOKENS) >= _TOKENS_MAX:
            _TOKENS.clear()
        _TOKENS[key_hash] = (now + ttl, token)
    return token


@receiver([post_save, post_delete], sender=ApiToken)
@receiver([post_save, post_delete], sender=ApiClient)
def token_cache_clear(**kwargs: object) -> None:
    """Forget cached tokens when a token or client changes (in this process)."""
    _TOKENS.clear()


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Authenticate an API client by a token whose SHA-256 is stored."""

    keywords = ("token", "bearer")

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() not in self.keywords:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header; send 'Authorization: Token <key>'."
            )
        token = token_lookup(key_hash=hash_token(parts[1]))
        if token is None or not token.is_usable(timezone.now()) or not token.client.is_active:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return token.client, token

    def authenticate_header(self, request: Request) -> str:
        return 'Token realm="dtwin"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describe the token scheme in the OpenAPI schema."""

    target_class = "predictions.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` or `Bearer <key>`; create one with "
            "`manage.py create_api_client NAME`.",
        }


class ApiClientRateThrottle(SimpleRateThrottle):
    """API_RATE_LIMIT requests per API client, counted in the cache (never the database)."""

    scope = "api_client"

    def get_rate(self) -> str | None:
        return settings.API_RATE_LIMIT or None

    def get_cache_key(self, request: Request, view: object) -> str | None:
        client = request.user
        if not isinstance(client, ApiClient):
            return None  # anonymous: refused with 401 before any throttle runs
        return self.cache_format % {"scope": self.scope, "ident": client.pk}
