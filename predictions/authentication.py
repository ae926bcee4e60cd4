"""API authentication: `Authorization: Token <key>` (or `Bearer <key>`), tokens stored hashed."""

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from predictions.models import ApiClient, ApiToken, hash_token


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
        token = (
            ApiToken.objects.select_related("client").filter(key_hash=hash_token(parts[1])).first()
        )
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
