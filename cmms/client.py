"""The CMMS HTTP client: typed reads and idempotent writes, as the CMMS HTTP contract says.

One `requests.Session` per client with urllib3's `Retry` mounted through `HTTPAdapter`:
connect errors, read timeouts and 429/500/502/503/504 are retried with exponential backoff
and jitter, `Retry-After` is honoured up to `retry_after_max`, POST is retried too (safe:
every POST carries an `Idempotency-Key`). Redirects are never followed. Every request has a
(connect, read) timeout and a total deadline; bodies are streamed under a size cap and
parsed into frozen dataclasses at the boundary. Every failure is a `CmmsError` whose kind is
`not_found`, `transient` or `permanent`. The token never appears in messages, logs or reprs.
"""

from __future__ import annotations

import contextvars
import hashlib
import http
import json
import logging
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    InvalidHeader,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import RequestHistory, Retry

logger = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT = 3.05
DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_TOTAL_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 4
DEFAULT_BACKOFF_FACTOR = 0.25

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_METHODS = frozenset({"GET", "POST"})

_CHUNK_BYTES = 64 * 1024
_ERROR_SNIPPET_BYTES = 1024
_ERROR_SNIPPET_CHARS = 200

# The deadline of the request in flight, read by `_CmmsRetry.sleep` (same thread, same call).
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "cmms_deadline", default=None
)

CmmsErrorKind = Literal["not_found", "transient", "permanent"]


@dataclass(frozen=True, slots=True)
class CmmsAsset:
    """An asset as the CMMS describes it."""

    asset_id: uuid.UUID
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class CmmsFailureType:
    """A failure type as the CMMS describes it."""

    failure_type_id: uuid.UUID
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class CmmsMaintenanceList:
    """A maintenance list as the CMMS describes it."""

    maintenance_list_id: uuid.UUID
    name: str
    description: str


class CmmsError(Exception):
    """The one domain error of the CMMS client."""

    KINDS: frozenset[str] = frozenset({"not_found", "transient", "permanent"})

    def __init__(
        self, message: str, *, kind: CmmsErrorKind, status: int | None = None, url_path: str = ""
    ) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown CmmsError kind {kind!r}")
        super().__init__(message)
        self.kind: CmmsErrorKind = kind
        self.status = status
        self.url_path = url_path

    @property
    def not_found(self) -> bool:
        """The CMMS answered 404 for the object (or the list's parent) asked for."""
        return self.kind == "not_found"

    @property
    def transient(self) -> bool:
        """Retrying later may succeed (network failure, 5xx, 429, deadline)."""
        return self.kind == "transient"

    @property
    def permanent(self) -> bool:
        """Retrying will not help (4xx, redirect, malformed body)."""
        return self.kind == "permanent"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the keyword-only attributes (task queues pickle errors)."""
        return (_restore_cmms_error, (str(self), self.kind, self.status, self.url_path))

    def __repr__(self) -> str:
        """Show kind, status and message."""
        return f"CmmsError(kind={self.kind!r}, status={self.status!r}, message={str(self)!r})"


def _restore_cmms_error(
    message: str, kind: CmmsErrorKind, status: int | None, url_path: str
) -> CmmsError:
    """Rebuild a pickled `CmmsError`."""
    return CmmsError(message, kind=kind, status=status, url_path=url_path)


class _BodyCutShort(CmmsError):
    """The connection broke while the body was read: `_request` sends the request again."""


class _DeadlineExceeded(Exception):
    """Raised inside urllib3 when the next retry's wait would pass the call's deadline."""

    def __init__(self, wait: float, last: RequestHistory | None) -> None:
        super().__init__(f"next retry in {wait:.1f}s would pass the deadline")
        self.wait = wait
        self.last_status = last.status if last else None
        self.last_error = last.error if last else None


class _CmmsRetry(Retry):
    """urllib3's `Retry`, whose waits never run past the current call's total deadline.

    Retry-After choice: urllib3 itself caps a `Retry-After` at `retry_after_max` (the worker
    never sleeps longer than that per retry). If that (capped) wait, or the backoff, would
    still end after the call's `total_timeout` deadline, we do not sleep at all and give up at
    once with a transient error. An unparsable `Retry-After` falls back to the backoff.
    """

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        """Sleep for Retry-After or the backoff, unless that would pass the deadline."""
        wait: float | None = None
        if self.respect_retry_after_header and response is not None:
            try:
                wait = self.get_retry_after(response)
            except InvalidHeader:
                wait = None
        if not wait:
            wait = self.get_backoff_time()
        deadline = _DEADLINE.get()
        if deadline is not None and time.monotonic() + wait > deadline:
            raise _DeadlineExceeded(wait, self.history[-1] if self.history else None)
        if wait > 0:
            time.sleep(wait)


class _BearerAuth(AuthBase):
    """Sets `Authorization: Bearer <token>`; its repr hides the token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the bearer header to the outgoing request."""
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        """Never show the token."""
        return "_BearerAuth(token=***)"


def validate_base_url(url: str) -> str:
    """Check a CMMS base URL (http/https, a host, no credentials/query/fragment); strip '/'."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("CMMS base URL is empty")
    if url != url.strip() or any(c.isspace() for c in url):
        raise ValueError("CMMS base URL must not contain whitespace")
    parts = urlsplit(url)
    # Never echo the URL itself: it may carry credentials.
    if "@" in parts.netloc:
        raise ValueError("CMMS base URL must not contain user:password (use CMMS_TOKEN)")
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"CMMS base URL scheme must be http or https, not {parts.scheme!r}")
    if not parts.hostname:
        raise ValueError("CMMS base URL needs a host")
    try:
        parts.port  # noqa: B018 - parsing the port validates it
    except ValueError:
        raise ValueError("CMMS base URL has an invalid port") from None
    if "?" in url or "#" in url:
        raise ValueError("CMMS base URL must not contain a query or a fragment")
    return url.rstrip("/")


def _origin(url: str) -> tuple[str, str, int]:
    """Return (scheme, host, effective port) of an absolute URL; ValueError if it has none."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an absolute http(s) URL")
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, parts.hostname.lower(), port


def _as_uuid(value: uuid.UUID | str, name: str) -> uuid.UUID:
    """Return `value` as a UUID; ValueError (a caller's bug) if it is not one."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValueError(f"{name} is not a UUID: {value!r}") from None


def _json_type(value: Any) -> str:
    """Name the JSON type of a decoded value, for error messages."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else type(value).__name__


def _json_default(value: Any) -> Any:
    """Serialise UUIDs in outgoing documents; anything else unknown is a caller's bug."""
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _network_reason(exc: BaseException) -> str:
    """Describe a requests/urllib3 network failure in a few words (no URL, no headers)."""
    reason: BaseException = exc
    if exc.args and isinstance(exc.args[0], BaseException):
        reason = exc.args[0]
    if isinstance(reason, MaxRetryError) and reason.reason is not None:
        reason = reason.reason
    if isinstance(reason, NameResolutionError):
        return "host name not resolved"
    if isinstance(reason, NewConnectionError):
        if isinstance(reason.__cause__, ConnectionRefusedError):
            return "connection refused"
        return "connection failed"
    if isinstance(reason, ConnectTimeoutError):
        return "connect timed out"
    if isinstance(reason, ReadTimeoutError):
        return "read timed out"
    if isinstance(reason, requests.exceptions.ConnectTimeout):
        return "connect timed out"
    if isinstance(reason, requests.exceptions.ReadTimeout):
        return "read timed out"
    if isinstance(reason, ProtocolError):
        return "connection reset or closed by the CMMS"
    return type(reason).__name__


def _status_text(status: int) -> str:
    """`503 (Service Unavailable)`: the status with its standard phrase."""
    try:
        return f"{status} ({http.HTTPStatus(status).phrase})"
    except ValueError:
        return str(status)


class CmmsClient:
    """Typed calls to the CMMS over one pooled session, with bounded retries and deadlines.

    Each HTTP request (one page of a list counts as one) ends within about
    `total_timeout + connect_timeout + read_timeout`: every retry wait is checked against
    the deadline, and the body is read one socket read at a time. Backoff jitter is drawn
    from [0, backoff_factor). Use one client per process (see `get_client`).
    """

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_factor: float = DEFAULT_BACKOFF_FACTOR,
        backoff_max: float = 8.0,
        retry_after_max: float = 30.0,
        max_response_bytes: int = 5_000_000,
        max_pages: int = 1000,
    ) -> None:
        self.base_url = validate_base_url(base_url)
        if not isinstance(token, str) or not token or any(c.isspace() for c in token):
            raise ValueError("CMMS token must be a non-empty string without whitespace")
        for name, value in (
            ("connect_timeout", connect_timeout),
            ("read_timeout", read_timeout),
            ("total_timeout", total_timeout),
            ("max_response_bytes", max_response_bytes),
            ("max_pages", max_pages),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}")
        for name, value in (
            ("max_retries", max_retries),
            ("backoff_factor", backoff_factor),
            ("backoff_max", backoff_max),
            ("retry_after_max", retry_after_max),
        ):
            if not value >= 0:
                raise ValueError(f"{name} must not be negative, got {value!r}")
        self._token = token
        self.timeout = (float(connect_timeout), float(read_timeout))
        self.total_timeout = float(total_timeout)
        self.max_retries = int(max_retries)
        self.max_response_bytes = int(max_response_bytes)
        self.max_pages = int(max_pages)
        self.backoff_factor = float(backoff_factor)
        self.backoff_max = float(backoff_max)
        self._origin = _origin(self.base_url)
        self._base_path = urlsplit(self.base_url).path

        retry = _CmmsRetry(
            total=self.max_retries,
            other=0,  # unexpected errors (TLS, …) are not retried
            redirect=0,
            raise_on_redirect=False,
            raise_on_status=False,  # hand back the last 5xx/429 so its status is reported
            status_forcelist=RETRY_STATUSES,
            allowed_methods=RETRY_METHODS,  # POST is safe to retry: Idempotency-Key
            backoff_factor=backoff_factor,
            backoff_jitter=backoff_factor,
            backoff_max=backoff_max,
            respect_retry_after_header=True,
            retry_after_max=retry_after_max,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self._session = requests.Session()
        # An auth object (rather than a header) also stops requests from using ~/.netrc.
        self._session.auth = _BearerAuth(token)
        self._session.headers.update(
            {"Accept": "application/json", "User-Agent": "dtwin-cmms-client"}
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def __repr__(self) -> str:
        """Show the base URL only, never the token."""
        return f"CmmsClient(base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    # --- reads ---------------------------------------------------------------------------

    def get_asset(self, asset_id: uuid.UUID | str) -> CmmsAsset:
        """GET /assets/{asset_id}."""
        wanted = _as_uuid(asset_id, "asset_id")
        fields = self._get_object(
            f"/assets/{wanted}", id_key="asset_id", wanted=wanted, what=f"asset {wanted}"
        )
        return CmmsAsset(*fields)

    def get_failure_type(self, failure_type_id: uuid.UUID | str) -> CmmsFailureType:
        """GET /failure_types/{failure_type_id}."""
        wanted = _as_uuid(failure_type_id, "failure_type_id")
        fields = self._get_object(
            f"/failure_types/{wanted}",
            id_key="failure_type_id",
            wanted=wanted,
            what=f"failure type {wanted}",
        )
        return CmmsFailureType(*fields)

    def get_maintenance_list(self, maintenance_list_id: uuid.UUID | str) -> CmmsMaintenanceList:
        """GET /maintenance_lists/{maintenance_list_id}."""
        wanted = _as_uuid(maintenance_list_id, "maintenance_list_id")
        fields = self._get_object(
            f"/maintenance_lists/{wanted}",
            id_key="maintenance_list_id",
            wanted=wanted,
            what=f"maintenance list {wanted}",
        )
        return CmmsMaintenanceList(*fields)

    def get_operation_maintenance_lists(
        self,
        operation_id: uuid.UUID | str,
        maintenance_list_id: uuid.UUID | str | None = None,
    ) -> list[CmmsMaintenanceList]:
        """GET /operations/{operation_id}/maintenance_lists, all pages, optionally filtered."""
        operation = _as_uuid(operation_id, "operation_id")
        params: dict[str, str] | None = None
        only: uuid.UUID | None = None
        if maintenance_list_id is not None:
            only = _as_uuid(maintenance_list_id, "maintenance_list_id")
            params = {"maintenance_list_id": str(only)}
        path = f"/operations/{operation}/maintenance_lists"
        lists = self._get_maintenance_lists(path, what=f"operation {operation}", params=params)
        if only is not None and any(m.maintenance_list_id != only for m in lists):
            raise CmmsError(
                f"CMMS GET {path}: the answer ignores the maintenance_list_id filter",
                kind="permanent",
                status=200,
                url_path=path,
            )
        return lists

    def get_asset_maintenance_lists(self, asset_id: uuid.UUID | str) -> list[CmmsMaintenanceList]:
        """GET /assets/{asset_id}/maintenance_lists, all pages."""
        asset = _as_uuid(asset_id, "asset_id")
        path = f"/assets/{asset}/maintenance_lists"
        return self._get_maintenance_lists(path, what=f"asset {asset}")

    # --- writes --------------------------------------------------------------------------

    def post_asset_prediction(self, document: dict, *, idempotency_key: str) -> dict:
        """POST /asset_prediction; return the CMMS's JSON answer."""
        return self._post("/asset_prediction", document, idempotency_key=idempotency_key)

    def post_asset_failure_type_prediction(self, document: dict, *, idempotency_key: str) -> dict:
        """POST /asset_failure_type_prediction; return the CMMS's JSON answer."""
        return self._post(
            "/asset_failure_type_prediction", document, idempotency_key=idempotency_key
        )

    def post_work_request(self, body: dict, *, idempotency_key: str) -> str:
        """POST /work_requests; return the new `work_request_id`."""
        path = "/work_requests"
        answer = self._post(path, body, idempotency_key=idempotency_key)
        work_request_id = answer.get("work_request_id")
        if isinstance(work_request_id, bool) or not isinstance(work_request_id, str | int):
            problem = "missing key 'work_request_id'" if work_request_id is None else None
            problem = problem or f"'work_request_id' is {_json_type(work_request_id)}"
            raise self._malformed(f"CMMS POST {path}: {problem}", path)
        if not str(work_request_id).strip():
            raise self._malformed(f"CMMS POST {path}: 'work_request_id' is empty", path)
        return str(work_request_id)

    # --- internals -----------------------------------------------------------------------

    def _get_object(
        self, path: str, *, id_key: str, wanted: uuid.UUID, what: str
    ) -> tuple[uuid.UUID, str, str]:
        """GET one object and return its (id, name, description), checking the id."""
        data = self._get_json(self.base_url + path, what=what)
        return self._parse_record(
            data, id_key=id_key, label=f"CMMS GET {path}", path=path, wanted=wanted
        )

    def _get_maintenance_lists(
        self, path: str, *, what: str, params: dict[str, str] | None = None
    ) -> list[CmmsMaintenanceList]:
        """GET a paginated list of maintenance lists, following `next` on the same origin."""
        url = self.base_url + path
        seen: set[str] = set()
        found: list[CmmsMaintenanceList] = []
        count = 0
        for page in range(1, self.max_pages + 1):
            data = self._get_json(url, what=what, params=params if page == 1 else None, page=page)
            label = f"CMMS GET {path} (page {page})"
            if not isinstance(data, dict):
                raise self._malformed(f"{label}: expected an object, got {_json_type(data)}", path)
            for key in ("count", "next", "results"):
                if key not in data:
                    raise self._malformed(f"{label}: missing key {key!r}", path)
            count, results, next_url = data["count"], data["results"], data["next"]
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise self._malformed(f"{label}: 'count' is not a non-negative integer", path)
            if not isinstance(results, list):
                raise self._malformed(f"{label}: 'results' is {_json_type(results)}", path)
            if next_url is not None and not isinstance(next_url, str):
                raise self._malformed(f"{label}: 'next' is {_json_type(next_url)}", path)
            for index, item in enumerate(results):
                fields = self._parse_record(
                    item, id_key="maintenance_list_id", label=f"{label} results[{index}]", path=path
                )
                found.append(CmmsMaintenanceList(*fields))
            if not next_url:
                break
            url = self._next_page_url(url, next_url, label=label, path=path)
            if url in seen:
                raise self._malformed(f"{label}: 'next' loops back to a page already read", path)
            seen.add(url)
        else:
            raise self._malformed(
                f"CMMS GET {path}: more than {self.max_pages} pages; stopped following 'next'",
                path,
            )
        if len(found) < count:
            raise self._malformed(
                f"CMMS GET {path}: pagination ended early: got {len(found)} of {count} results",
                path,
            )
        if len(found) > count:
            raise self._malformed(
                f"CMMS GET {path}: pagination inconsistent: got {len(found)} results "
                f"but 'count' says {count}",
                path,
            )
        return found

    def _next_page_url(self, current: str, next_url: str, *, label: str, path: str) -> str:
        """Resolve `next` and refuse any other origin: the token must never leave the CMMS."""
        absolute = urljoin(current, next_url)
        try:
            same_origin = _origin(absolute) == self._origin
        except ValueError:
            same_origin = False
        if not same_origin or "@" in urlsplit(absolute).netloc:
            raise self._malformed(
                f"{label}: 'next' leaves the CMMS ({urlsplit(absolute).netloc or 'no host'}); "
                "not followed",
                path,
            )
        return absolute

    def _parse_record(
        self, data: Any, *, id_key: str, label: str, path: str, wanted: uuid.UUID | None = None
    ) -> tuple[uuid.UUID, str, str]:
        """Check an `{<id_key>, name, description}` object and return its three fields."""
        if not isinstance(data, dict):
            raise self._malformed(f"{label}: expected an object, got {_json_type(data)}", path)
        for key in (id_key, "name", "description"):
            if key not in data:
                raise self._malformed(f"{label}: missing key {key!r}", path)
        raw_id, name, description = data[id_key], data["name"], data["description"]
        try:
            if not isinstance(raw_id, str):
                raise ValueError
            object_id = uuid.UUID(raw_id)
        except ValueError:
            shown = repr(raw_id)[:60]
            raise self._malformed(f"{label}: {id_key!r} is not a UUID: {shown}", path) from None
        if wanted is not None and object_id != wanted:
            raise self._malformed(
                f"{label}: answered {id_key} {object_id}, expected {wanted}", path
            )
        if not isinstance(name, str):
            raise self._malformed(f"{label}: 'name' is {_json_type(name)}", path)
        if description is None:
            description = ""
        if not isinstance(description, str):
            raise self._malformed(f"{label}: 'description' is {_json_type(description)}", path)
        return object_id, name, description

    def _post(self, path: str, document: dict, *, idempotency_key: str) -> dict:
        """POST a JSON document with an Idempotency-Key; return the JSON object answered."""
        if not isinstance(idempotency_key, str) or not idempotency_key.strip():
            raise ValueError("idempotency_key must be a non-empty string")
        if not isinstance(document, dict):
            raise TypeError("the document to POST must be a dict")
        data = json.dumps(document, allow_nan=False, default=_json_default).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
        url = self.base_url + path
        body, content_type = self._request(
            "POST", url, what=path, data=data, headers=headers, ok=(200, 201)
        )
        answer = self._decode_json(
            body, label=f"CMMS POST {path}", path=path, content_type=content_type
        )
        if not isinstance(answer, dict):
            raise self._malformed(
                f"CMMS POST {path}: expected an object, got {_json_type(answer)}", path
            )
        return answer

    def _get_json(
        self, url: str, *, what: str, params: dict[str, str] | None = None, page: int = 1
    ) -> Any:
        """GET a URL and decode its JSON body."""
        body, content_type = self._request("GET", url, what=what, params=params, page=page)
        path = self._path_of(url)
        return self._decode_json(
            body, label=f"CMMS GET {path}", path=path, content_type=content_type
        )

    def _decode_json(self, body: bytes, *, label: str, path: str, content_type: str) -> Any:
        """Decode a JSON body or raise a permanent error saying why it is not JSON."""
        try:
            return json.loads(body)
        except json.JSONDecodeError as exc:
            detail = "empty body" if not body.strip() else f"{exc.msg} at char {exc.pos}"
        except (ValueError, RecursionError) as exc:  # bad encoding, absurd nesting
            detail = type(exc).__name__
        raise self._malformed(
            f"{label}: body is not JSON ({detail}; content-type {content_type or 'missing'})",
            path,
        )

    def _request(self, method: str, url: str, **kwargs: Any) -> tuple[bytes, str]:
        """`_request_once`, again when the connection broke while the body was read.

        urllib3's Retry covers the request up to the headers; a body cut short is retried
        here, as many times and with the same backoff (safe: POSTs carry Idempotency-Key).
        """
        for attempt in range(self.max_retries + 1):
            try:
                return self._request_once(method, url, **kwargs)
            except _BodyCutShort as exc:
                if attempt >= self.max_retries:
                    raise CmmsError(
                        f"{exc} (after {self.max_retries} retries)",
                        kind="transient",
                        status=exc.status,
                        url_path=exc.url_path,
                    ) from None
                pause = self.backoff_factor * (2**attempt)
                time.sleep(min(self.backoff_max, pause + random.uniform(0, self.backoff_factor)))
        raise AssertionError("unreachable")

    def _request_once(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: dict[str, str] | None = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
        page: int = 1,
    ) -> tuple[bytes, str]:
        """Send one request (urllib3 retries inside); return (body, content type) or raise."""
        path = self._path_of(url)
        label = f"CMMS {method} {path}"
        started = time.monotonic()
        deadline = started + self.total_timeout
        failure: CmmsError | None = None
        response: requests.Response | None = None
        deadline_token = _DEADLINE.set(deadline)
        try:
            response = self._session.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                timeout=self.timeout,
                stream=True,
                allow_redirects=False,
            )
        except _DeadlineExceeded as exc:
            last = (
                f"last answer {_status_text(exc.last_status)}"
                if exc.last_status
                else f"last error: {_network_reason(exc.last_error)}"
                if exc.last_error
                else "no answer"
            )
            failure = CmmsError(
                f"{label}: gave up, waiting {exc.wait:.1f}s more would pass the "
                f"{self.total_timeout:g}s total deadline ({last})",
                kind="transient",
                status=exc.last_status,
                url_path=path,
            )
        except requests.exceptions.SSLError:
            failure = CmmsError(f"{label}: TLS error", kind="permanent", url_path=path)
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            failure = CmmsError(
                f"CMMS unreachable after {self.max_retries} retries: {_network_reason(exc)} "
                f"({method} {path})",
                kind="transient",
                url_path=path,
            )
        except requests.exceptions.RequestException as exc:
            failure = CmmsError(
                f"{label}: request failed ({type(exc).__name__})", kind="permanent", url_path=path
            )
        finally:
            _DEADLINE.reset(deadline_token)
        if failure is not None:
            # Raised outside the `except`, so no requests exception (which holds the
            # prepared request and its Authorization header) is chained to it.
            raise failure
        assert response is not None
        try:
            self._check_status(response, method=method, path=path, what=what, ok=ok, page=page)
            body = self._read_body(response, label=label, path=path, deadline=deadline)
        finally:
            response.close()
        elapsed_ms = (time.monotonic() - started) * 1000
        logger.debug("%s answered %s in %.0f ms", label, response.status_code, elapsed_ms)
        return body, response.headers.get("Content-Type", "")

    def _check_status(
        self,
        response: requests.Response,
        *,
        method: str,
        path: str,
        what: str,
        ok: tuple[int, ...],
        page: int,
    ) -> None:
        """Accept a status in `ok`; otherwise raise the classified `CmmsError`."""
        status = response.status_code
        label = f"CMMS {method} {path}"
        if status in ok:
            return
        if 300 <= status < 400:
            location = urlsplit(response.headers.get("Location", ""))
            target = location.netloc.rpartition("@")[2] + location.path or "nowhere"
            raise CmmsError(
                f"CMMS redirected {method} {path} ({status} to {target}); "
                "redirects are not followed",
                kind="permanent",
                status=status,
                url_path=path,
            )
        if status == 401:
            raise CmmsError(
                f"{label} answered 401 (Unauthorized): the CMMS rejected the token "
                "(check CMMS_TOKEN)",
                kind="permanent",
                status=status,
                url_path=path,
            )
        if status == 404 and method == "GET":
            if page == 1:
                raise CmmsError(
                    f"{label} answered 404 (not found): {what} not found in the CMMS",
                    kind="not_found",
                    status=status,
                    url_path=path,
                )
            raise CmmsError(
                f"{label} answered 404 for page {page}: the list changed while being read",
                kind="transient",
                status=status,
                url_path=path,
            )
        if status in RETRY_STATUSES:
            raise CmmsError(
                f"{label} answered {_status_text(status)} after {self.max_retries} retries",
                kind="transient",
                status=status,
                url_path=path,
            )
        if status >= 500:
            raise CmmsError(
                f"{label} answered {_status_text(status)}",
                kind="transient",
                status=status,
                url_path=path,
            )
        if 400 <= status < 500:
            snippet = self._error_snippet(response)
            raise CmmsError(
                f"{label} answered {_status_text(status)}" + (f": {snippet}" if snippet else ""),
                kind="permanent",
                status=status,
                url_path=path,
            )
        raise CmmsError(
            f"{label} answered unexpected status {_status_text(status)}",
            kind="permanent",
            status=status,
            url_path=path,
        )

    def _read_body(
        self, response: requests.Response, *, label: str, path: str, deadline: float
    ) -> bytes:
        """Stream the body in chunks, enforcing the size cap and the total deadline."""
        limit = self.max_response_bytes
        chunks: list[bytes] = []
        size = 0
        while True:
            if time.monotonic() > deadline:
                raise CmmsError(
                    f"{label}: no complete answer within the {self.total_timeout:g}s "
                    "total deadline",
                    kind="transient",
                    status=response.status_code,
                    url_path=path,
                )
            try:
                # read1: at most one socket read, so a slow drip cannot outlast the deadline.
                chunk = response.raw.read1(_CHUNK_BYTES, decode_content=True)
            except DecodeError:
                raise CmmsError(
                    f"{label}: body could not be decoded "
                    f"(Content-Encoding {response.headers.get('Content-Encoding')!r})",
                    kind="permanent",
                    status=response.status_code,
                    url_path=path,
                ) from None
            except (HTTPError, OSError) as exc:
                raise _BodyCutShort(
                    f"{label}: connection broken while reading the body ({_network_reason(exc)})",
                    kind="transient",
                    status=response.status_code,
                    url_path=path,
                ) from None
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise CmmsError(
                    f"{label}: response larger than {limit} bytes",
                    kind="permanent",
                    status=response.status_code,
                    url_path=path,
                )
            chunks.append(chunk)

    def _error_snippet(self, response: requests.Response) -> str:
        """Best effort: the start of an error body, one line, with the token redacted."""
        try:
            raw = response.raw.read1(_ERROR_SNIPPET_BYTES, decode_content=True)
        except (HTTPError, OSError):
            return ""
        text = " ".join(raw.decode("utf-8", errors="replace").split())
        text = text.replace(self._token, "***")
        if len(text) > _ERROR_SNIPPET_CHARS:
            text = text[:_ERROR_SNIPPET_CHARS] + "…"
        return text

    def _path_of(self, url: str) -> str:
        """The path of a URL relative to the base URL (never its query)."""
        path = urlsplit(url).path
        if self._base_path and path.startswith(self._base_path + "/"):
            path = path[len(self._base_path) :]
        return path or "/"

    @staticmethod
    def _malformed(message: str, path: str) -> CmmsError:
        """A permanent error for an answer that is not what the contract says."""
        return CmmsError(message, kind="permanent", status=200, url_path=path)


_client_lock = threading.Lock()
_client_cache: tuple[tuple[Any, ...], CmmsClient] | None = None


def get_client() -> CmmsClient:
    """This process's client, rebuilt when the CMMS settings change (or after a fork)."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    global _client_cache
    base_url = getattr(settings, "CMMS_BASE_URL", "")
    token = getattr(settings, "CMMS_TOKEN", "")
    options = {
        "connect_timeout": getattr(settings, "CMMS_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT),
        "read_timeout": getattr(settings, "CMMS_READ_TIMEOUT", DEFAULT_READ_TIMEOUT),
        "total_timeout": getattr(settings, "CMMS_TOTAL_TIMEOUT", DEFAULT_TOTAL_TIMEOUT),
        "max_retries": getattr(settings, "CMMS_MAX_RETRIES", DEFAULT_MAX_RETRIES),
        "backoff_factor": getattr(settings, "CMMS_BACKOFF_FACTOR", DEFAULT_BACKOFF_FACTOR),
    }
    # A forked worker must not share the parent's pooled sockets; the token is keyed by hash.
    token_hash = hashlib.sha256(str(token).encode()).hexdigest()
    key = (os.getpid(), base_url, token_hash, tuple(sorted(options.items())))
    with _client_lock:
        if _client_cache is None or _client_cache[0] != key:
            try:
                client = CmmsClient(base_url=base_url, token=token, **options)
            except ValueError as exc:
                raise ImproperlyConfigured(f"CMMS settings: {exc}") from None
            _client_cache = (key, client)
        return _client_cache[1]
