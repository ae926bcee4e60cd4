"""Tests of the CMMS client, without a database or Django settings.

`responses` mocks the CMMS for answers and their classification. It replays urllib3's
status retries through the adapter's `Retry` (is_retry/increment) but never sleeps and
never retries raised exceptions, so the retry *timing* tests (backoff, Retry-After, refused
or dropped connections, read timeouts, slow drips) run against a real loopback HTTP server,
where urllib3's own retry loop runs unchanged.
"""

from __future__ import annotations

import json
import logging
import pickle
import random
import re
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import responses
from urllib3.exceptions import NewConnectionError

from cmms import client as client_module
from cmms.client import (
    CmmsAsset,
    CmmsClient,
    CmmsError,
    CmmsFailureType,
    CmmsMaintenanceList,
    validate_base_url,
)

BASE = "http://cmms.test/api"
TOKEN = "s3cret-cmms-token-0123456789"


def make_client(**overrides: Any) -> CmmsClient:
    """A client on BASE with no backoff, unless overridden."""
    options: dict[str, Any] = {"base_url": BASE, "token": TOKEN, "backoff_factor": 0}
    options.update(overrides)
    return CmmsClient(**options)


def record(id_key: str, object_id: uuid.UUID, name: str = "Pump 7") -> dict[str, str]:
    """A CMMS object as the contract describes it."""
    return {id_key: str(object_id), "name": name, "description": f"{name}, north hall"}


def page(results: list[dict], *, count: int, next_url: str | None) -> dict[str, Any]:
    """One page of a paginated CMMS list."""
    return {"count": count, "next": next_url, "previous": None, "results": results}


def assert_token_absent(error: BaseException) -> None:
    """The token is in no message, repr or printed traceback of the error."""
    printed = "".join(traceback.format_exception(error))
    for text in (str(error), repr(error), printed):
        assert TOKEN not in text


@pytest.fixture
def cmms() -> Iterator[responses.RequestsMock]:
    """The mocked CMMS; unmatched URLs raise ConnectionError (nothing leaves the test)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every time.sleep (urllib3's retry waits) instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(time, "sleep", recorded.append)
    return recorded


# --- a real loopback server, for urllib3's own retry loop ---------------------------------


@dataclass
class Step:
    """One scripted answer of the loopback server."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    drip: float = 0.0  # seconds between body bytes
    chunked: bool = False
    hang_up: bool = False  # close the connection without answering
    cut_after: int | None = None  # close the connection after this many body bytes


@dataclass
class Seen:
    """One request the loopback server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int


class ScriptedServer:
    """An HTTP/1.1 keep-alive server answering request n with step n (the last one repeats)."""

    def __init__(self) -> None:
        self.steps: list[Step] = [Step()]
        self.seen: list[Seen] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedHandler)
        self.httpd.scripted = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def base_url(self) -> str:
        """The server's base URL, with the contract's /api prefix."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/api"

    def next_step(self, seen: Seen) -> Step:
        """Record a request and pick its scripted answer."""
        with self.lock:
            self.seen.append(seen)
            return self.steps[min(len(self.seen), len(self.steps)) - 1]

    def close(self) -> None:
        """Release waiting handlers and stop serving."""
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class _ScriptedHandler(BaseHTTPRequestHandler):
    """Plays the server's script."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""

    def do_GET(self) -> None:
        """Answer from the script."""
        self._answer()

    def do_POST(self) -> None:
        """Answer from the script."""
        self._answer()

    def _answer(self) -> None:
        """Send the scripted step, slowly or not at all if it says so."""
        server: ScriptedServer = self.server.scripted  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        step = server.next_step(
            Seen(self.command, self.path, dict(self.headers), body, self.client_address[1])
        )
        if step.delay and server.stop.wait(step.delay):
            return
        if step.hang_up:
            self.close_connection = True
            return
        try:
            self.send_response(step.status)
            for name, value in step.headers.items():
                self.send_header(name, value)
            if step.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(step.body)))
            self.end_headers()
            if step.chunked:
                for start in range(0, len(step.body), 1000):
                    piece = step.body[start : start + 1000]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            elif step.cut_after is not None:
                self.wfile.write(step.body[: step.cut_after])
                self.close_connection = True
            elif step.drip:
                for index in range(len(step.body)):
                    self.wfile.write(step.body[index : index + 1])
                    if server.stop.wait(step.drip):
                        return
            else:
                self.wfile.write(step.body)
        except OSError:
            self.close_connection = True


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A loopback CMMS answering from `server.steps`."""
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


def json_step(data: Any, status: int = 200, **kwargs: Any) -> Step:
    """A step answering JSON."""
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
    return Step(status=status, body=json.dumps(data).encode(), headers=headers, **kwargs)


def closed_port() -> int:
    """A loopback port nobody listens on (connecting is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- reads ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "id_key", "kind"),
    [
        ("get_asset", "assets", "asset_id", CmmsAsset),
        ("get_failure_type", "failure_types", "failure_type_id", CmmsFailureType),
        ("get_maintenance_list", "maintenance_lists", "maintenance_list_id", CmmsMaintenanceList),
    ],
)
def test_it_parses_each_get_into_its_dataclass(
    cmms: responses.RequestsMock, method: str, path: str, id_key: str, kind: type
) -> None:
    object_id = uuid.uuid4()
    cmms.get(f"{BASE}/{path}/{object_id}", json=record(id_key, object_id))

    got = getattr(make_client(), method)(str(object_id))

    assert got == kind(object_id, "Pump 7", "Pump 7, north hall")


def test_it_sends_the_bearer_token_and_accepts_json(cmms: responses.RequestsMock) -> None:
    asset_id = uuid.uuid4()
    cmms.get(f"{BASE}/assets/{asset_id}", json=record("asset_id", asset_id))

    make_client().get_asset(asset_id)

    headers = cmms.calls[0].request.headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Accept"] == "application/json"


def test_it_passes_connect_and_read_timeouts_on_every_request(
    cmms: responses.RequestsMock,
) -> None:
    asset_id = uuid.uuid4()
    cmms.get(f"{BASE}/assets/{asset_id}", json=record("asset_id", asset_id))
    cmms.get(
        f"{BASE}/assets/{asset_id}/maintenance_lists",
        json=page([], count=0, next_url=f"{BASE}/assets/{asset_id}/maintenance_lists?page=2"),
    )
    cmms.get(
        f"{BASE}/assets/{asset_id}/maintenance_lists?page=2",
        json=page([], count=0, next_url=None),
    )
    cmms.post(f"{BASE}/asset_prediction", json={"ok": True}, status=201)
    client = make_client(connect_timeout=1.5, read_timeout=7.0)

    client.get_asset(asset_id)
    client.get_asset_maintenance_lists(asset_id)
    client.post_asset_prediction({"prediction_id": "p"}, idempotency_key="p")

    assert len(cmms.calls) == 4
    assert [call.request.req_kwargs["timeout"] for call in cmms.calls] == [(1.5, 7.0)] * 4


def test_it_reports_a_404_as_not_found_naming_what_is_missing(
    cmms: responses.RequestsMock,
) -> None:
    asset_id = uuid.uuid4()
    cmms.get(f"{BASE}/assets/{asset_id}", status=404, json={"detail": "Not found."})

    with pytest.raises(CmmsError) as caught:
        make_client().get_asset(asset_id)

    error = caught.value
    assert error.not_found and not error.permanent and not error.transient
    assert error.status == 404
    assert error.url_path == f"/assets/{asset_id}"
    assert str(error) == (
        f"CMMS GET /assets/{asset_id} answered 404 (not found): "
        f"asset {asset_id} not found in the CMMS"
    )
    assert len(cmms.calls) == 1


def test_it_reports_an_unknown_list_parent_as_not_found(cmms: responses.RequestsMock) -> None:
    operation_id = uuid.uuid4()
    cmms.get(f"{BASE}/operations/{operation_id}/maintenance_lists", status=404)

    with pytest.raises(CmmsError) as caught:
        make_client().get_operation_maintenance_lists(operation_id)

    assert caught.value.not_found
    assert f"operation {operation_id} not found" in str(caught.value)


def test_it_reports_a_rejected_token_without_showing_it(cmms: responses.RequestsMock) -> None:
    asset_id = uuid.uuid4()
    # A careless server echoing the header back must not leak it into our message either.
    cmms.get(f"{BASE}/assets/{asset_id}", status=401, body=f"bad token Bearer {TOKEN}")

    with pytest.raises(CmmsError) as caught:
        make_client().get_asset(asset_id)

    error = caught.value
    assert error.permanent and error.status == 401
    assert "rejected the token" in str(error)
    assert_token_absent(error)
    assert len(cmms.calls) == 1


@pytest.mark.parametrize("status", [400, 403, 409, 422])
def test_it_fails_other_4xx_permanently_without_retrying(
    cmms: responses.RequestsMock, status: int
) -> None:
    cmms.post(f"{BASE}/asset_prediction", status=status, json={"detail": "prediction_id: bad"})

    with pytest.raises(CmmsError) as caught:
        make_client().post_asset_prediction({"prediction_id": "x"}, idempotency_key="x")

    error = caught.value
    assert error.permanent and error.status == status
    assert f"CMMS POST /asset_prediction answered {status}" in str(error)
    assert "prediction_id: bad" in str(error)  # the CMMS's own words help the planner
    assert len(cmms.calls) == 1


def test_it_redacts_the_token_from_a_quoted_error_body(cmms: responses.RequestsMock) -> None:
    cmms.post(f"{BASE}/work_requests", status=400, body=f"header was Bearer {TOKEN}")

    with pytest.raises(CmmsError) as caught:
        make_client().post_work_request({"asset_id": "a"}, idempotency_key="k")

    assert "header was Bearer ***" in str(caught.value)
    assert_token_absent(caught.value)


def test_it_succeeds_after_two_server_errors(cmms: responses.RequestsMock) -> None:
    asset_id = uuid.uuid4()
    url = f"{BASE}/assets/{asset_id}"
    cmms.get(url, status=500)
    cmms.get(url, status=500)
    cmms.get(url, json=record("asset_id", asset_id))

    asset = make_client().get_asset(asset_id)

    assert asset.asset_id == asset_id
    assert [call.response.status_code for call in cmms.calls] == [500, 500, 200]


def test_it_gives_up_as_transient_after_max_retries(cmms: responses.RequestsMock) -> None:
    asset_id = uuid.uuid4()
    cmms.get(f"{BASE}/assets/{asset_id}", status=503)

    with pytest.raises(CmmsError) as caught:
        make_client(max_retries=3).get_asset(asset_id)

    error = caught.value
    assert error.transient and error.status == 503
    assert str(error) == (
        f"CMMS GET /assets/{asset_id} answered 503 (Service Unavailable) after 3 retries"
    )
    assert len(cmms.calls) == 3 + 1


def test_it_retries_429_too(cmms: responses.RequestsMock) -> None:
    asset_id = uuid.uuid4()
    url = f"{BASE}/assets/{asset_id}"
    cmms.get(url, status=429, headers={"Retry-After": "1"})
    cmms.get(url, json=record("asset_id", asset_id))

    assert make_client().get_asset(asset_id).asset_id == asset_id
    assert len(cmms.calls) == 2


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (requests.exceptions.ConnectionError("refused"), "ConnectionError"),
        (requests.exceptions.ReadTimeout(), "read timed out"),
        (requests.exceptions.ConnectTimeout(), "connect timed out"),
    ],
)
def test_it_reports_network_failures_as_transient(
    cmms: responses.RequestsMock, failure: Exception, reason: str
) -> None:
    asset_id = uuid.uuid4()
    cmms.get(f"{BASE}/assets/{asset_id}", body=failure)

    with pytest.raises(CmmsError) as caught:
        make_client().get_asset(asset_id)

    assert caught.value.transient and caught.value.status is None
    assert str(caught.value) == (
        f"CMMS unreachable after 4 retries: {reason} (GET /assets/{asset_id})"
    )
    assert caught.value.__context__ is None  # nothing chained that could carry headers


def test_it_rejects_an_html_body(cmms: responses.RequestsMock) -> None:
    asset_id = uuid.uuid4()
    cmms.get(
        f"{BASE}/assets/{asset_id}",
        body="<html><body>Gateway login</body></html>",
        content_type="text/html",
    )

    with pytest.raises(CmmsError) as caught:
        make_client().get_asset(asset_id)

    assert caught.value.permanent
    assert str(caught.value).startswith(f"CMMS GET /assets/{asset_id}: body is not JSON (")
    assert "content-type text/html" in str(caught.value)


def test_it_rejects_truncated_json(cmms: responses.RequestsMock) -> None:
    asset_id = uuid.uuid4()
    whole = json.dumps(record("asset_id", asset_id))
    cmms.get(f"{BASE}/assets/{asset_id}", body=whole[:25], content_type="application/json")

    with pytest.raises(CmmsError) as caught:
        make_client().get_asset(asset_id)

    assert caught.value.permanent
    assert "body is not JSON (Unterminated string" in str(caught.value)


def test_it_rejects_an_empty_body(cmms: responses.RequestsMock) -> None:
    asset_id = uuid.uuid4()
    cmms.get(f"{BASE}/assets/{asset_id}", body="")

    with pytest.raises(CmmsError, match=r"body is not JSON \(empty body"):
        make_client().get_asset(asset_id)


@pytest.mark.parametrize("missing", ["asset_id", "name", "description"])
def test_it_rejects_a_body_missing_a_key(cmms: responses.RequestsMock, missing: str) -> None:
    asset_id = uuid.uuid4()
    body = record("asset_id", asset_id)
    del body[missing]
    cmms.get(f"{BASE}/assets/{asset_id}", json=body)

    with pytest.raises(CmmsError) as caught:
        make_client().get_asset(asset_id)

    assert caught.value.permanent
    assert str(caught.value) == f"CMMS GET /assets/{asset_id}: missing key '{missing}'"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "expected an object, got an array"),
        ({"asset_id": "pump-7", "name": "P", "description": ""}, "'asset_id' is not a UUID"),
        ({"asset_id": 7, "name": "P", "description": ""}, "'asset_id' is not a UUID"),
        ({"asset_id": "<id>", "name": 7, "description": ""}, "'name' is a number"),
        ({"asset_id": "<id>", "name": "P", "description": ["x"]}, "'description' is an array"),
    ],
)
def test_it_rejects_a_body_of_the_wrong_shape(
    cmms: responses.RequestsMock, body: Any, message: str
) -> None:
    asset_id = uuid.uuid4()
    if isinstance(body, dict) and body["asset_id"] == "<id>":
        body["asset_id"] = str(asset_id)
    cmms.get(f"{BASE}/assets/{asset_id}", json=body)

    with pytest.raises(CmmsError) as caught:
        make_client().get_asset(asset_id)

    assert caught.value.permanent
    assert message in str(caught.value)


def test_it_accepts_a_null_description_as_empty(cmms: responses.RequestsMock) -> None:
    asset_id = uuid.uuid4()
    cmms.get(
        f"{BASE}/assets/{asset_id}",
        json={"asset_id": str(asset_id), "name": "P", "description": None},
    )

    assert make_client().get_asset(asset_id).description == ""


def test_it_rejects_an_answer_about_another_object(cmms: responses.RequestsMock) -> None:
    asked, answered = uuid.uuid4(), uuid.uuid4()
    cmms.get(f"{BASE}/assets/{asked}", json=record("asset_id", answered))

    with pytest.raises(CmmsError) as caught:
        make_client().get_asset(asked)

    assert caught.value.permanent
    assert f"answered asset_id {answered}, expected {asked}" in str(caught.value)


def test_it_refuses_a_caller_id_that_is_not_a_uuid(cmms: responses.RequestsMock) -> None:
    with pytest.raises(ValueError, match="asset_id is not a UUID"):
        make_client().get_asset("../users")

    assert len(cmms.calls) == 0


# --- pagination ----------------------------------------------------------------------------


def test_it_follows_next_across_three_pages_in_order(cmms: responses.RequestsMock) -> None:
    asset_id = uuid.uuid4()
    url = f"{BASE}/assets/{asset_id}/maintenance_lists"
    ids = [uuid.uuid4() for _ in range(5)]
    items = [record("maintenance_list_id", i, name=f"ML {n}") for n, i in enumerate(ids)]
    cmms.get(url, json=page(items[:2], count=5, next_url=f"{url}?page=2"))
    cmms.get(f"{url}?page=2", json=page(items[2:4], count=5, next_url=f"{url}?page=3"))
    cmms.get(f"{url}?page=3", json=page(items[4:], count=5, next_url=None))

    lists = make_client().get_asset_maintenance_lists(asset_id)

    assert [m.maintenance_list_id for m in lists] == ids
    assert [m.name for m in lists] == [f"ML {n}" for n in range(5)]
    assert [call.request.url for call in cmms.calls] == [url, f"{url}?page=2", f"{url}?page=3"]
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in cmms.calls)


def test_it_returns_no_lists_for_empty_results(cmms: responses.RequestsMock) -> None:
    operation_id = uuid.uuid4()
    cmms.get(
        f"{BASE}/operations/{operation_id}/maintenance_lists",
        json=page([], count=0, next_url=None),
    )

    assert make_client().get_operation_maintenance_lists(operation_id) == []


def test_it_sends_the_maintenance_list_filter(cmms: responses.RequestsMock) -> None:
    operation_id, list_id = uuid.uuid4(), uuid.uuid4()
    cmms.get(
        f"{BASE}/operations/{operation_id}/maintenance_lists",
        match=[responses.matchers.query_param_matcher({"maintenance_list_id": str(list_id)})],
        json=page([record("maintenance_list_id", list_id)], count=1, next_url=None),
    )

    lists = make_client().get_operation_maintenance_lists(operation_id, list_id)

    assert [m.maintenance_list_id for m in lists] == [list_id]


def test_it_rejects_an_answer_that_ignores_the_filter(cmms: responses.RequestsMock) -> None:
    operation_id, wanted, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cmms.get(
        f"{BASE}/operations/{operation_id}/maintenance_lists",
        json=page([record("maintenance_list_id", other)], count=1, next_url=None),
    )

    with pytest.raises(CmmsError, match="ignores the maintenance_list_id filter") as caught:
        make_client().get_operation_maintenance_lists(operation_id, wanted)

    assert caught.value.permanent


@pytest.mark.parametrize(
    "foreign",
    [
        "http://evil.test/api/assets/x/maintenance_lists?page=2",
        "https://cmms.test/api/assets/x/maintenance_lists?page=2",
        "http://cmms.test:8080/api/assets/x/maintenance_lists?page=2",
        "//evil.test/steal",
        "http://someone@cmms.test/api/assets/x/maintenance_lists?page=2",
    ],
)
def test_it_never_follows_next_to_another_origin(
    cmms: responses.RequestsMock, foreign: str
) -> None:
    asset_id = uuid.uuid4()
    item = record("maintenance_list_id", uuid.uuid4())
    cmms.get(
        f"{BASE}/assets/{asset_id}/maintenance_lists",
        json=page([item], count=2, next_url=foreign),
    )
    trap = cmms.get(re.compile(r".*"), json=page([item], count=2, next_url=None))

    with pytest.raises(CmmsError) as caught:
        make_client().get_asset_maintenance_lists(asset_id)

    assert caught.value.permanent
    assert "'next' leaves the CMMS" in str(caught.value)
    assert "not followed" in str(caught.value)
    assert len(cmms.calls) == 1
    assert trap.call_count == 0


def test_it_rejects_pages_that_end_early(cmms: responses.RequestsMock) -> None:
    asset_id = uuid.uuid4()
    url = f"{BASE}/assets/{asset_id}/maintenance_lists"
    items = [record("maintenance_list_id", uuid.uuid4()) for _ in range(3)]
    cmms.get(url, json=page(items[:2], count=5, next_url=f"{url}?page=2"))
    cmms.get(f"{url}?page=2", json=page(items[2:], count=5, next_url=None))

    with pytest.raises(CmmsError) as caught:
        make_client().get_asset_maintenance_lists(asset_id)

    assert caught.value.permanent
    assert str(caught.value) == (
        f"CMMS GET /assets/{asset_id}/maintenance_lists: pagination ended early: got 3 of 5 results"
    )


def test_it_accepts_a_short_last_page_when_the_count_adds_up(
    cmms: responses.RequestsMock,
) -> None:
    asset_id = uuid.uuid4()
    url = f"{BASE}/assets/{asset_id}/maintenance_lists"
    items = [record("maintenance_list_id", uuid.uuid4()) for _ in range(3)]
    cmms.get(url, json=page(items[:2], count=3, next_url=f"{url}?page=2"))
    cmms.get(f"{url}?page=2", json=page(items[2:], count=3, next_url=None))

    assert len(make_client().get_asset_maintenance_lists(asset_id)) == 3


def test_it_stops_after_max_pages(cmms: responses.RequestsMock) -> None:
    asset_id = uuid.uuid4()
    url = f"{BASE}/assets/{asset_id}/maintenance_lists"
    for n in range(1, 6):
        item = record("maintenance_list_id", uuid.uuid4())
        query = "" if n == 1 else f"?page={n}"
        cmms.get(f"{url}{query}", json=page([item], count=5, next_url=f"{url}?page={n + 1}"))

    with pytest.raises(CmmsError) as caught:
        make_client(max_pages=3).get_asset_maintenance_lists(asset_id)

    assert caught.value.permanent
    assert "more than 3 pages" in str(caught.value)
    assert len(cmms.calls) == 3


def test_it_stops_when_next_loops_back(cmms: responses.RequestsMock) -> None:
    asset_id = uuid.uuid4()
    url = f"{BASE}/assets/{asset_id}/maintenance_lists"
    item = record("maintenance_list_id", uuid.uuid4())
    cmms.get(url, json=page([item], count=9, next_url=f"{url}?page=2"))
    cmms.get(f"{url}?page=2", json=page([item], count=9, next_url=f"{url}?page=2"))

    with pytest.raises(CmmsError, match="loops back"):
        make_client().get_asset_maintenance_lists(asset_id)

    assert len(cmms.calls) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"count": 1, "next": None}, "missing key 'results'"),
        ({"count": "1", "next": None, "results": []}, "'count' is not a non-negative integer"),
        ({"count": 1, "next": None, "results": {}}, "'results' is an object"),
        ({"count": 1, "next": 2, "results": []}, "'next' is a number"),
        ({"count": 1, "next": None, "results": [{"name": "x"}]}, "missing key"),
    ],
)
def test_it_rejects_a_malformed_page(
    cmms: responses.RequestsMock, body: dict, message: str
) -> None:
    asset_id = uuid.uuid4()
    cmms.get(f"{BASE}/assets/{asset_id}/maintenance_lists", json=body)

    with pytest.raises(CmmsError) as caught:
        make_client().get_asset_maintenance_lists(asset_id)

    assert caught.value.permanent
    assert message in str(caught.value)


# --- bodies, redirects ---------------------------------------------------------------------


@pytest.mark.parametrize("declared", [True, False])
def test_it_refuses_an_oversized_body(cmms: responses.RequestsMock, declared: bool) -> None:
    asset_id = uuid.uuid4()
    body = json.dumps({**record("asset_id", asset_id), "description": "x" * 5000})
    cmms.get(
        f"{BASE}/assets/{asset_id}",
        body=body,
        auto_calculate_content_length=declared,
    )

    with pytest.raises(CmmsError) as caught:
        make_client(max_response_bytes=1000).get_asset(asset_id)

    assert caught.value.permanent
    assert str(caught.value) == f"CMMS GET /assets/{asset_id}: response larger than 1000 bytes"


def test_it_does_not_follow_a_redirect(cmms: responses.RequestsMock) -> None:
    asset_id = uuid.uuid4()
    cmms.get(
        f"{BASE}/assets/{asset_id}",
        status=302,
        headers={"Location": f"http://elsewhere.test/api/assets/{asset_id}"},
    )
    target = cmms.get(
        f"http://elsewhere.test/api/assets/{asset_id}", json=record("asset_id", asset_id)
    )

    with pytest.raises(CmmsError) as caught:
        make_client().get_asset(asset_id)

    assert caught.value.permanent and caught.value.status == 302
    assert str(caught.value) == (
        f"CMMS redirected GET /assets/{asset_id} (302 to elsewhere.test/api/assets/{asset_id}); "
        "redirects are not followed"
    )
    assert target.call_count == 0
    assert len(cmms.calls) == 1


# --- writes --------------------------------------------------------------------------------


def test_post_sends_json_and_the_idempotency_key(cmms: responses.RequestsMock) -> None:
    prediction_id = str(uuid.uuid4())
    document = {"prediction_id": prediction_id, "predicted_reliability": 0.9}
    cmms.post(f"{BASE}/asset_failure_type_prediction", status=201, json={"id": 12})

    answer = make_client().post_asset_failure_type_prediction(
        document, idempotency_key=prediction_id
    )

    assert answer == {"id": 12}
    request = cmms.calls[0].request
    assert request.headers["Idempotency-Key"] == prediction_id
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.body) == document


def test_post_is_retried_on_503_with_the_same_key(cmms: responses.RequestsMock) -> None:
    url = f"{BASE}/asset_prediction"
    cmms.post(url, status=503)
    cmms.post(url, status=200, json={"status": "recorded"})

    answer = make_client().post_asset_prediction({"prediction_id": "p1"}, idempotency_key="p1")

    assert answer == {"status": "recorded"}
    assert [c.request.headers["Idempotency-Key"] for c in cmms.calls] == ["p1", "p1"]
    assert [json.loads(c.request.body) for c in cmms.calls] == [{"prediction_id": "p1"}] * 2


def test_post_work_request_returns_its_id(cmms: responses.RequestsMock) -> None:
    work_request_id = str(uuid.uuid4())
    cmms.post(f"{BASE}/work_requests", status=201, json={"work_request_id": work_request_id})

    got = make_client().post_work_request({"asset_id": "a"}, idempotency_key="k")

    assert got == work_request_id


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (201, {"id": "x"}, "missing key 'work_request_id'"),
        (201, {"work_request_id": ["x"]}, "'work_request_id' is an array"),
        (201, ["x"], "expected an object, got an array"),
        (202, {"work_request_id": "x"}, "unexpected status 202"),
    ],
)
def test_post_work_request_rejects_a_bad_answer(
    cmms: responses.RequestsMock, status: int, body: Any, message: str
) -> None:
    cmms.post(f"{BASE}/work_requests", status=status, json=body)

    with pytest.raises(CmmsError) as caught:
        make_client().post_work_request({"asset_id": "a"}, idempotency_key="k")

    assert caught.value.permanent
    assert message in str(caught.value)


def test_post_refuses_nan_and_an_empty_key(cmms: responses.RequestsMock) -> None:
    client = make_client()

    with pytest.raises(ValueError):
        client.post_asset_prediction({"predicted_reliability": float("nan")}, idempotency_key="k")
    with pytest.raises(ValueError, match="idempotency_key"):
        client.post_asset_prediction({"prediction_id": "p"}, idempotency_key="")

    assert len(cmms.calls) == 0


# --- configuration, secrecy ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://cmms.test/api", "scheme must be http or https"),
        ("http://admin:hunter2@cmms.test/api", "must not contain user:password"),
        ("http:///api", "needs a host"),
        ("cmms.test/api", "scheme must be http or https"),
        ("http://cmms.test/api?token=1", "must not contain a query or a fragment"),
        ("http://cmms.test/api#top", "must not contain a query or a fragment"),
        ("http://cmms.test:99999/api", "invalid port"),
        ("", "empty"),
    ],
)
def test_validate_base_url_rejects_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        validate_base_url(url)

    assert "hunter2" not in str(caught.value)


def test_validate_base_url_strips_the_trailing_slash() -> None:
    assert validate_base_url("https://cmms.test:8443/api/") == "https://cmms.test:8443/api"


def test_repr_shows_the_base_url_and_never_the_token() -> None:
    client = make_client()

    assert repr(client) == f"CmmsClient(base_url='{BASE}')"
    assert TOKEN not in repr(client._session.auth)
    assert TOKEN not in repr(client._session.headers)


def test_a_bad_token_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError) as caught:
        make_client(token="abc def")

    assert "abc def" not in str(caught.value)


def test_cmms_error_survives_pickling() -> None:
    error = CmmsError("CMMS GET /x answered 503", kind="transient", status=503, url_path="/x")

    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes

    assert (copy.kind, copy.status, copy.url_path, str(copy)) == (
        "transient",
        503,
        "/x",
        str(error),
    )


def test_cmms_error_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError):
        CmmsError("x", kind="fatal")  # type: ignore[arg-type]


# --- urllib3's real retry loop, against a loopback server ----------------------------------


def test_it_honours_retry_after(server: ScriptedServer, sleeps: list[float]) -> None:
    asset_id = uuid.uuid4()
    server.steps = [
        Step(status=429, headers={"Retry-After": "1"}),
        json_step(record("asset_id", asset_id)),
    ]

    asset = make_client(base_url=server.base_url).get_asset(asset_id)

    assert asset.asset_id == asset_id
    assert sleeps == [1]
    assert len(server.seen) == 2


def test_it_caps_a_huge_retry_after(server: ScriptedServer, sleeps: list[float]) -> None:
    asset_id = uuid.uuid4()
    server.steps = [
        Step(status=503, headers={"Retry-After": "86400"}),
        json_step(record("asset_id", asset_id)),
    ]
    client = make_client(base_url=server.base_url, retry_after_max=2, total_timeout=60)

    assert client.get_asset(asset_id).asset_id == asset_id
    assert sleeps == [2]


def test_it_gives_up_at_once_when_retry_after_passes_the_deadline(
    server: ScriptedServer, sleeps: list[float]
) -> None:
    server.steps = [Step(status=429, headers={"Retry-After": "3600"})]
    client = make_client(base_url=server.base_url, total_timeout=5)

    with pytest.raises(CmmsError) as caught:
        client.get_asset(uuid.uuid4())

    error = caught.value
    assert error.transient and error.status == 429
    assert "waiting 30.0s more would pass the 5s total deadline" in str(error)
    assert "last answer 429 (Too Many Requests)" in str(error)
    assert sleeps == []
    assert len(server.seen) == 1


def test_it_retries_a_refused_connection_with_backoff_then_gives_up(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    attempts: list[BaseException | None] = []
    increment = client_module._CmmsRetry.increment

    def counting_increment(self: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(kwargs.get("error"))
        return increment(self, *args, **kwargs)

    monkeypatch.setattr(client_module._CmmsRetry, "increment", counting_increment)
    monkeypatch.setattr(random, "random", lambda: 0.5)  # urllib3's jitter draw
    client = make_client(
        base_url=f"http://127.0.0.1:{closed_port()}/api",
        max_retries=3,
        backoff_factor=1,
        backoff_max=3,
    )

    with pytest.raises(CmmsError) as caught:
        client.get_asset(uuid.uuid4())

    error = caught.value
    assert error.transient
    assert str(error).startswith("CMMS unreachable after 3 retries: connection refused (GET ")
    assert len(attempts) == 3 + 1
    assert all(isinstance(a, NewConnectionError) for a in attempts)
    # The first retry is immediate, then factor * 2**n plus jitter (0.5 * factor), capped.
    assert sleeps == [2.5, 3]
    assert error.__context__ is None
    assert_token_absent(error)


def test_it_retries_a_read_timeout_then_gives_up(server: ScriptedServer) -> None:
    server.steps = [Step(delay=5)]
    client = make_client(base_url=server.base_url, read_timeout=0.2, max_retries=2)

    started = time.monotonic()
    with pytest.raises(CmmsError) as caught:
        client.get_asset(uuid.uuid4())

    assert caught.value.transient
    assert "unreachable after 2 retries: read timed out" in str(caught.value)
    assert len(server.seen) == 2 + 1
    assert time.monotonic() - started < 3


def test_it_retries_a_connection_dropped_without_an_answer(server: ScriptedServer) -> None:
    asset_id = uuid.uuid4()
    server.steps = [Step(hang_up=True), Step(hang_up=True), json_step(record("asset_id", asset_id))]

    asset = make_client(base_url=server.base_url).get_asset(asset_id)

    assert asset.asset_id == asset_id
    assert len(server.seen) == 3


def test_a_post_retry_reaches_the_cmms_with_the_same_key_and_body(
    server: ScriptedServer,
) -> None:
    server.steps = [Step(status=502), Step(hang_up=True), json_step({"work_request_id": "wr-1"})]
    body = {"asset_id": str(uuid.uuid4()), "predicted_reliability": 0.42}

    got = make_client(base_url=server.base_url).post_work_request(body, idempotency_key="p-1")

    assert got == "wr-1"
    assert [seen.headers["Idempotency-Key"] for seen in server.seen] == ["p-1"] * 3
    assert [json.loads(seen.body) for seen in server.seen] == [body] * 3


def test_it_enforces_the_total_deadline_on_a_slow_drip(server: ScriptedServer) -> None:
    asset_id = uuid.uuid4()
    slow = json_step(record("asset_id", asset_id), drip=0.05)  # ~4 s for the whole body
    server.steps = [slow]
    client = make_client(base_url=server.base_url, read_timeout=2, total_timeout=0.5)

    started = time.monotonic()
    with pytest.raises(CmmsError) as caught:
        client.get_asset(asset_id)

    assert caught.value.transient
    assert "no complete answer within the 0.5s total deadline" in str(caught.value)
    assert time.monotonic() - started < 1.5


def test_it_reports_a_body_cut_short_as_transient(server: ScriptedServer) -> None:
    asset_id = uuid.uuid4()
    server.steps = [json_step(record("asset_id", asset_id), cut_after=20)]

    with pytest.raises(CmmsError) as caught:
        make_client(base_url=server.base_url).get_asset(asset_id)

    assert caught.value.transient and caught.value.status == 200
    assert str(caught.value).startswith(
        f"CMMS GET /assets/{asset_id}: connection broken while reading the body "
        "(connection reset or closed by the CMMS) (after "
    )


def test_it_retries_a_body_cut_short_and_then_succeeds(server: ScriptedServer) -> None:
    asset_id = uuid.uuid4()
    server.steps = [
        json_step(record("asset_id", asset_id), cut_after=20),
        json_step(record("asset_id", asset_id)),
    ]
    assert make_client(base_url=server.base_url).get_asset(asset_id).asset_id == asset_id


def test_it_caps_a_chunked_body_while_streaming(server: ScriptedServer) -> None:
    server.steps = [Step(body=b"[" + b"0," * 50_000 + b"0]", chunked=True)]
    client = make_client(base_url=server.base_url, max_response_bytes=10_000)

    with pytest.raises(CmmsError, match="response larger than 10000 bytes") as caught:
        client.get_asset(uuid.uuid4())

    assert caught.value.permanent


def test_it_reuses_one_connection_for_successive_calls(server: ScriptedServer) -> None:
    asset_id = uuid.uuid4()
    server.steps = [json_step(record("asset_id", asset_id))]
    client = make_client(base_url=server.base_url)

    for _ in range(3):
        client.get_asset(asset_id)
    client.close()

    assert len(server.seen) == 3
    assert len({seen.client_port for seen in server.seen}) == 1


def test_the_token_never_reaches_the_logs(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    asset_id = uuid.uuid4()
    server.steps = [
        json_step(record("asset_id", asset_id)),
        Step(status=503),
        Step(status=503),
        Step(status=401, body=f"Bearer {TOKEN}".encode()),
    ]
    client = make_client(base_url=server.base_url, max_retries=1)
    caplog.set_level(logging.DEBUG)

    client.get_asset(asset_id)
    for _ in range(2):
        with pytest.raises(CmmsError):
            client.get_asset(asset_id)

    assert "answered 200" in caplog.text  # the client's own debug line was captured
    assert "Incremented Retry" in caplog.text  # and urllib3's retry lines
    assert TOKEN not in caplog.text
    assert server.seen[0].headers["Authorization"] == f"Bearer {TOKEN}"


# --- get_client (needs Django settings; skipped when they are not configured) ---------------


@pytest.fixture
def django_settings() -> Any:
    """Django's settings, or a skip when this run has none."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 - touching a setting configures them
    except ImproperlyConfigured:
        pytest.skip("Django settings are not configured in this run")
    return settings


def test_get_client_is_cached_and_rebuilt_when_settings_change(
    django_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.test import override_settings

    monkeypatch.setattr(client_module, "_client_cache", None)
    with override_settings(CMMS_BASE_URL="http://cmms.test/api/", CMMS_TOKEN="one"):
        first = client_module.get_client()
        assert client_module.get_client() is first
        assert first.base_url == "http://cmms.test/api"
    with override_settings(CMMS_BASE_URL="http://cmms.test/api/", CMMS_TOKEN="two"):
        assert client_module.get_client() is not first
    with override_settings(
        CMMS_BASE_URL="http://cmms.test/api", CMMS_TOKEN="two", CMMS_READ_TIMEOUT=2.5
    ):
        assert client_module.get_client().timeout[1] == 2.5


def test_get_client_rejects_bad_settings(
    django_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.exceptions import ImproperlyConfigured
    from django.test import override_settings

    monkeypatch.setattr(client_module, "_client_cache", None)
    with (
        override_settings(CMMS_BASE_URL="http://u:hunter2@cmms.test/api", CMMS_TOKEN="t"),
        pytest.raises(ImproperlyConfigured) as caught,
    ):
        client_module.get_client()

    assert "user:password" in str(caught.value)
    assert "hunter2" not in str(caught.value)
