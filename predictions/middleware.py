"""Request guards that run before Django reads a body."""

import io
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from predictions.health import health


class HealthCheckMiddleware:
    """Answer /healthz before host validation and the HTTPS redirect.

    The container's HEALTHCHECK and load balancers call it by IP over plain HTTP; it tells
    only whether the database answers.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return health(request)
        return self.get_response(request)


class ApiBodyLimitMiddleware:
    """Answer 413 JSON to API requests whose body exceeds API_MAX_BODY_BYTES.

    A declared Content-Length is checked before anything is read. A chunked body (no
    Content-Length) is read up to the limit plus one byte: over it, 413; otherwise the body
    is handed on with its length, so Django and DRF see it as if it had been declared.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/admin/"):
            limit = settings.API_MAX_BODY_BYTES
            declared = request.META.get("CONTENT_LENGTH")
            try:
                length = int(declared or 0)
            except ValueError:
                return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
            if not declared and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
                body = request.META["wsgi.input"].read(limit + 1)
                length = len(body)
                if length <= limit:
                    request._stream = io.BytesIO(body)
                    request.META["CONTENT_LENGTH"] = str(length)
            if length > limit:
                return _too_large(length if declared else None, limit)
        return self.get_response(request)


def _too_large(length: int | None, limit: int) -> JsonResponse:
    """The 413 answer."""
    size = f"{length} bytes" if length is not None else "more than the limit"
    return JsonResponse(
        {"detail": f"Request body too large: {size}; the limit is {limit} bytes."}, status=413
    )
