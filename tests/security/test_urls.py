"""Every URL of the URL conf, called without credentials, is refused or explicitly public.

The patterns are enumerated from the URL conf itself, so a new endpoint that forgets its
authentication fails here until it is added to the API (401) or to the public list.
"""

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve

# Public on purpose: what anonymous GET gets.
PUBLIC = {"health": 200, "schema": 200, "swagger-ui": 200}
# Admin pages outside the login redirect: the login form, and logout (POST only since
# Django 5; a GET is sent back to the admin index, which then asks for the login).
ADMIN_OPEN = {"admin:login": (200, None), "admin:logout": (302, "/admin/")}
METHODS = ("get", "post", "put", "patch", "delete")
_SAMPLES = {"uuid": str(uuid.UUID(int=1)), "int": "1", "slug": "x", "str": "1", "path": "1"}


def _walk(patterns: list, prefix: str = "", namespace: str | None = None):
    """Yield (route, full name, pattern) for every leaf pattern, depth first."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace or namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield prefix + str(pattern.pattern), name, pattern


def _sample_path(route: str) -> str:
    """A concrete path that the route matches: converters and regex groups filled in."""

    def group(match: re.Match) -> str:
        body = match.group(1)
        return body.split("|")[0] if re.fullmatch(r"[\w|]+", body) else "zz-no-such-page/"

    path = re.sub(r"\(\?P<\w+>([^)]*)\)", group, route)
    path = re.sub(r"<(?:(\w+):)?\w+>", lambda m: _SAMPLES.get(m.group(1) or "str", "1"), path)
    return "/" + path.replace("^", "").replace("$", "")


ROUTES = list(_walk(get_resolver().url_patterns))


def test_the_url_conf_has_the_api_routes():
    names = {name for _, name, _ in ROUTES}
    assert {"asset-predict", "asset-failure-type-predict", "job-detail"} <= names
    assert len(ROUTES) > 20


@pytest.mark.parametrize(("route", "name", "pattern"), ROUTES, ids=[r for r, _, _ in ROUTES])
def test_every_route_refuses_anonymous_callers_unless_public(client, db, route, name, pattern):
    path = _sample_path(route)
    assert resolve(path).func == pattern.callback, f"sample {path} does not hit {route}"
    if name in PUBLIC:
        assert client.get(path).status_code == PUBLIC[name]
    elif route.startswith("admin/"):
        response = client.get(path)
        if name in ADMIN_OPEN:
            status, location = ADMIN_OPEN[name]
            assert response.status_code == status
            assert response.get("Location") == location
        else:
            assert response.status_code == 302, (route, response.status_code)
            assert response["Location"].startswith("/admin/login/"), response["Location"]
    else:
        for method in METHODS:
            response = getattr(client, method)(path, content_type="application/json")
            assert response.status_code == 401, (route, method, response.status_code)
            assert response["Content-Type"] == "application/json"
            assert response.json()["detail"]
            assert response["WWW-Authenticate"].startswith("Token")


def test_an_unknown_url_gets_a_json_404(client, db):
    response = client.get("/no/such/endpoint")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
