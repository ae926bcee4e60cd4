"""CMMS simulator: a real HTTP server following the CMMS contract, standard library only.

Used by the demo (`make run`), the end-to-end tests and the benchmarks. State lives in
memory behind one lock; tests drive it either directly (`posts()`, `add_fault()` …) or
over HTTP through the control endpoints under `{base_path}/_sim/`.
"""

from __future__ import annotations

import contextlib
import copy
import hmac
import json
import math
import re
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

DEFAULT_DATA_PATH = Path(__file__).with_name("demo_data.json")
MAX_BODY_BYTES = 1_000_000
STREAM_CHUNK_BYTES = 64 * 1024
# stop() waits up to one poll interval; tests start and stop a simulator each, so keep it short
POLL_INTERVAL_S = 0.02

PREDICTION_PATHS = ("/asset_prediction", "/asset_failure_type_prediction")
WORK_REQUEST_PATH = "/work_requests"
POST_PATHS = (*PREDICTION_PATHS, WORK_REQUEST_PATH)

PREDICTION_FIELDS = frozenset(
    {
        "prediction_id",
        "predicted_reliability",
        "asset_id",
        "failure_type_id",
        "prediction_future_time",
        "source_sys_time",
    }
)
WORK_REQUEST_FIELDS = frozenset(
    {"asset_id", "failure_type_id", "prediction_id", "predicted_reliability", "description"}
)
FAULT_FIELDS = frozenset(
    {
        "method",
        "path",
        "times",
        "status",
        "body",
        "content_type",
        "headers",
        "delay_ms",
        "drop",
        "reset",
        "truncate",
        "huge_bytes",
    }
)


def load_data(path: str | Path = DEFAULT_DATA_PATH) -> dict[str, Any]:
    """Read a simulator data file (see `demo_data.json` for its shape)."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object at the top level")
    return data


def canonical_uuid(value: Any) -> str | None:
    """Return the lowercase canonical form of a UUID string, or None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _utc_now() -> str:
    """Now as an ISO-8601 UTC string with milliseconds and a `Z`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_bytes(obj: Any) -> bytes:
    """Encode a JSON response body."""
    return json.dumps(obj).encode("utf-8")


# --------------------------------------------------------------------------- master data


@dataclass(frozen=True)
class Catalog:
    """The CMMS master data, keyed by canonical id; read-only once built."""

    assets: dict[str, dict[str, Any]]
    failure_types: dict[str, dict[str, Any]]
    maintenance_lists: dict[str, dict[str, Any]]
    operations: dict[str, list[str]]
    asset_maintenance_lists: dict[str, list[str]]

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Catalog:
        """Build and check a catalog from the data-file shape; ValueError on bad data."""
        assets = _index(data.get("assets", []), "asset_id")
        failure_types = _index(data.get("failure_types", []), "failure_type_id")
        lists = _index(data.get("maintenance_lists", []), "maintenance_list_id")
        operations = _links(data.get("operations", {}), "operations", lists)
        asset_lists = _links(
            data.get("asset_maintenance_lists", {}), "asset_maintenance_lists", lists
        )
        unknown = sorted(set(asset_lists) - set(assets))
        if unknown:
            raise ValueError(f"asset_maintenance_lists names unknown assets: {unknown}")
        asset_lists = {asset_id: asset_lists.get(asset_id, []) for asset_id in assets}
        return cls(assets, failure_types, lists, operations, asset_lists)


def _index(items: Any, id_key: str) -> dict[str, dict[str, Any]]:
    """Index a list of objects by their canonical `id_key`."""
    if not isinstance(items, list):
        raise ValueError(f"expected a list of objects with {id_key!r}")
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        ident = canonical_uuid(item.get(id_key)) if isinstance(item, dict) else None
        if ident is None:
            raise ValueError(f"object without a valid UUID {id_key!r}: {item!r}")
        out[ident] = {**item, id_key: ident}
    return out


def _links(mapping: Any, name: str, lists: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Canonicalise an `{id: [maintenance_list_id, ...]}` mapping and check its references."""
    if not isinstance(mapping, dict):
        raise ValueError(f"{name}: expected an object of id -> list of maintenance list ids")
    out: dict[str, list[str]] = {}
    for key, ml_ids in mapping.items():
        ident = canonical_uuid(key)
        if ident is None or not isinstance(ml_ids, list):
            raise ValueError(f"{name}: bad entry {key!r}")
        canon = [canonical_uuid(ml) for ml in ml_ids]
        missing = [ml for ml, c in zip(ml_ids, canon, strict=True) if c not in lists]
        if missing:
            raise ValueError(f"{name}[{key}] names unknown maintenance lists: {missing}")
        out[ident] = [c for c in canon if c is not None]
    return out


# --------------------------------------------------------------------------- faults


@dataclass
class FaultRule:
    """One injected fault: which requests it hits, how often, and what goes wrong."""

    method: str = "*"
    path: str = ".*"
    times: int | None = None
    status: int | None = None
    body: str | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay_ms: float = 0
    drop: bool = False
    reset: bool = False
    truncate: bool = False
    huge_bytes: int = 0
    hits: int = 0

    def __post_init__(self) -> None:
        """Validate the rule and compile its path pattern."""
        self.method = str(self.method).upper()
        if self.method not in {"*", "GET", "POST", "PUT", "PATCH", "DELETE"}:
            raise ValueError(f"method must be GET, POST or *, not {self.method!r}")
        try:
            self._pattern = re.compile(self.path)
        except (re.error, TypeError) as exc:
            raise ValueError(f"path is not a valid regex: {exc}") from exc
        if self.times is not None and (not _is_int(self.times) or self.times < 0):
            raise ValueError("times must be a non-negative integer or null")
        if self.status is not None and (not _is_int(self.status) or not 100 <= self.status <= 599):
            raise ValueError("status must be an integer HTTP status")
        if isinstance(self.body, (dict, list)):
            self.body = json.dumps(self.body)
        if self.body is not None and not isinstance(self.body, str):
            raise ValueError("body must be a string (or JSON)")
        if not isinstance(self.headers, dict) or not all(
            isinstance(k, str) and isinstance(v, (str, int, float)) for k, v in self.headers.items()
        ):
            raise ValueError("headers must be an object of header name -> value")
        self.headers = {k: str(v) for k, v in self.headers.items()}
        if not _is_number(self.delay_ms) or self.delay_ms < 0:
            raise ValueError("delay_ms must be a non-negative number")
        if not _is_int(self.huge_bytes) or self.huge_bytes < 0:
            raise ValueError("huge_bytes must be a non-negative integer")
        if not (self.answers or self.delay_ms or self.headers):
            raise ValueError(
                "a fault rule needs one of status, body, drop, reset, truncate, huge_bytes, "
                "delay_ms or headers"
            )

    @classmethod
    def from_dict(cls, data: Any) -> FaultRule:
        """Build a rule from its JSON form; ValueError on unknown keys or bad values."""
        if not isinstance(data, dict):
            raise ValueError("a fault rule is a JSON object")
        unknown = sorted(set(data) - FAULT_FIELDS)
        if unknown:
            raise ValueError(f"unknown fault rule fields: {unknown}")
        clean = {k: v for k, v in data.items() if v is not None or k in {"times", "status"}}
        return cls(**clean)

    @property
    def answers(self) -> bool:
        """True if the rule replaces the response; False if it only delays or adds headers."""
        return bool(
            self.status is not None
            or self.body is not None
            or self.drop
            or self.reset
            or self.truncate
            or self.huge_bytes
        )

    def matches(self, method: str, path: str) -> bool:
        """True if the rule still has uses left and targets this request."""
        if self.times is not None and self.times <= 0:
            return False
        if self.method != "*" and self.method != method:
            return False
        return self._pattern.search(path) is not None

    def to_dict(self) -> dict[str, Any]:
        """The rule's JSON form, with its remaining `times` and its `hits` so far."""
        return {
            "method": self.method,
            "path": self.path,
            "times": self.times,
            "status": self.status,
            "body": self.body,
            "content_type": self.content_type,
            "headers": dict(self.headers),
            "delay_ms": self.delay_ms,
            "drop": self.drop,
            "reset": self.reset,
            "truncate": self.truncate,
            "huge_bytes": self.huge_bytes,
            "hits": self.hits,
        }


def _is_int(value: Any) -> bool:
    """True for an int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """True for a finite int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --------------------------------------------------------------------------- responses


@dataclass
class Response:
    """What the handler writes back; the flags describe broken responses."""

    status: int
    payload: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False
    drop: bool = False
    reset: bool = False
    truncate: bool = False
    huge_bytes: int = 0


def _json_response(status: int, obj: Any, **headers: str) -> Response:
    """A JSON response."""
    return Response(status, _json_bytes(obj), headers=dict(headers))


def _detail(status: int, message: str, **extra: Any) -> Response:
    """A `{"detail": ...}` error response."""
    return _json_response(status, {"detail": message, **extra})


def _fault_response(rule: FaultRule) -> Response:
    """The broken response a fault rule asks for."""
    status = rule.status if rule.status is not None else 200
    if rule.body is not None:
        payload = rule.body.encode("utf-8")
    else:
        payload = _json_bytes({"detail": f"Simulated fault ({status})."})
    return Response(
        status=status,
        payload=payload,
        content_type=rule.content_type,
        headers=dict(rule.headers),
        close=rule.truncate,
        drop=rule.drop,
        reset=rule.reset,
        truncate=rule.truncate,
        huge_bytes=rule.huge_bytes,
    )


# --------------------------------------------------------------------------- validation


def _validate_prediction(body: Any, *, needs_failure_type: bool) -> dict[str, str]:
    """Field errors of a prediction document (empty when valid)."""
    if not isinstance(body, dict):
        return {"non_field_errors": "Expected a JSON object."}
    errors = {key: "Unknown field." for key in sorted(set(body) - PREDICTION_FIELDS)}
    _check_uuid(body, "prediction_id", errors)
    _check_reliability(body, errors)
    _check_uuid(body, "asset_id", errors)
    _check_uuid(body, "failure_type_id", errors, nullable=not needs_failure_type)
    _check_datetime(body, "prediction_future_time", errors)
    _check_datetime(body, "source_sys_time", errors)
    return errors


def _validate_work_request(body: Any) -> dict[str, str]:
    """Field errors of a work request (empty when valid)."""
    if not isinstance(body, dict):
        return {"non_field_errors": "Expected a JSON object."}
    errors = {key: "Unknown field." for key in sorted(set(body) - WORK_REQUEST_FIELDS)}
    _check_uuid(body, "asset_id", errors)
    _check_uuid(body, "failure_type_id", errors, nullable=True)
    _check_uuid(body, "prediction_id", errors)
    _check_reliability(body, errors)
    if "description" not in body:
        errors["description"] = "This field is required."
    elif not isinstance(body["description"], str):
        errors["description"] = "Must be a string."
    return errors


def _check_uuid(body: dict, key: str, errors: dict[str, str], *, nullable: bool = False) -> None:
    """Record an error unless `body[key]` is a UUID string (or null when allowed)."""
    if key not in body:
        errors[key] = "This field is required."
    elif body[key] is None:
        if not nullable:
            errors[key] = "This field may not be null."
    elif canonical_uuid(body[key]) is None:
        errors[key] = "Must be a UUID string."


def _check_reliability(body: dict, errors: dict[str, str]) -> None:
    """Record an error unless `predicted_reliability` is a number in [0, 1]."""
    value = body.get("predicted_reliability")
    if "predicted_reliability" not in body:
        errors["predicted_reliability"] = "This field is required."
    elif not _is_number(value) or not 0 <= value <= 1:
        errors["predicted_reliability"] = "Must be a number between 0 and 1."


def _check_datetime(body: dict, key: str, errors: dict[str, str]) -> None:
    """Record an error unless `body[key]` is an ISO-8601 datetime string."""
    value = body.get(key)
    if key not in body:
        errors[key] = "This field is required."
        return
    try:
        if not isinstance(value, str):
            raise ValueError
        datetime.fromisoformat(value)
    except ValueError:
        errors[key] = "Must be an ISO-8601 datetime string."


# --------------------------------------------------------------------------- the simulator


class CmmsSimulator:
    """An in-memory CMMS behind a threaded HTTP/1.1 server, with fault injection."""

    def __init__(
        self,
        *,
        data: dict[str, Any],
        token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        page_size: int = 50,
        latency_ms: float = 0,
        base_path: str = "/api",
        record_path: str | Path | None = None,
        verbose: bool = False,
    ) -> None:
        """Configure the simulator; nothing listens until `start()` or `serve_forever()`."""
        if not token:
            raise ValueError("the simulator needs a non-empty bearer token")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if not _is_number(latency_ms) or latency_ms < 0:
            raise ValueError("latency_ms must be a non-negative number")
        self.host = host
        self.requested_port = port
        self.page_size = page_size
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.record_path = Path(record_path) if record_path else None
        if self.record_path is not None:
            self.record_path.parent.mkdir(parents=True, exist_ok=True)
        self.verbose = verbose
        self._token = token
        self._catalog = Catalog.from_data(data)
        self._initial_latency_ms = float(latency_ms)
        self._lock = threading.Lock()
        self._latency_ms = float(latency_ms)
        self._posts: list[dict[str, Any]] = []
        self._replies: dict[tuple[str, str], Response] = {}
        self._faults: list[FaultRule] = []
        self._counts: Counter[tuple[str, str]] = Counter()
        self._server: _SimHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> CmmsSimulator:
        """Listen and serve in a background daemon thread; returns self."""
        server = self._bind()
        if self._thread is None:
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": POLL_INTERVAL_S},
                name=f"cmms-simulator-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Listen and serve in the calling thread until KeyboardInterrupt or `stop()`."""
        server = self._bind()
        try:
            server.serve_forever(poll_interval=POLL_INTERVAL_S)
        finally:
            server.server_close()
            server.close_connections()

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open connection."""
        server, thread = self._server, self._thread
        if server is None:
            return
        if thread is not None:
            server.shutdown()
            thread.join(timeout=5)
        server.server_close()
        server.close_connections()
        self._server = None
        self._thread = None

    def __enter__(self) -> CmmsSimulator:
        """Start on entering a `with` block."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop on leaving a `with` block."""
        self.stop()

    def _bind(self) -> _SimHTTPServer:
        """Create and bind the HTTP server once."""
        if self._server is None:
            self._server = _SimHTTPServer((self.host, self.requested_port), self)
        return self._server

    @property
    def port(self) -> int:
        """The port actually listened on (useful with port=0)."""
        if self._server is None:
            raise RuntimeError("the simulator is not listening; call start() first")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """The contract base URL, e.g. `http://127.0.0.1:8081/api`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.base_path}"

    # -- state, for tests and the control endpoints

    def posts(self, path: str | None = None) -> list[dict[str, Any]]:
        """Effective POSTs in arrival order, optionally only those on `path`."""
        wanted = _norm_path(path) if path else None
        with self._lock:
            return [copy.deepcopy(p) for p in self._posts if wanted in (None, p["path"])]

    def request_counts(self) -> dict[str, Any]:
        """Contract requests received (replays and faulted ones included), by path and method."""
        with self._lock:
            counts = dict(self._counts)
        by_path: Counter[str] = Counter()
        for (_, path), n in counts.items():
            by_path[path] += n
        return {
            "total": sum(counts.values()),
            "by_path": dict(sorted(by_path.items())),
            "by_method_path": {f"{m} {p}": n for (m, p), n in sorted(counts.items())},
        }

    def request_count(self, path: str, method: str | None = None) -> int:
        """How many contract requests reached `path` (with `method`, if given)."""
        wanted = _norm_path(path)
        with self._lock:
            return sum(
                n
                for (m, p), n in self._counts.items()
                if p == wanted and (method is None or m == method.upper())
            )

    def add_fault(self, rule: FaultRule | dict[str, Any] | None = None, **fields: Any) -> FaultRule:
        """Append a fault rule (a FaultRule, its JSON form, or keyword fields)."""
        if rule is None:
            rule = FaultRule.from_dict(fields)
        elif isinstance(rule, dict):
            rule = FaultRule.from_dict({**rule, **fields})
        with self._lock:
            self._faults.append(rule)
        return rule

    def faults(self) -> list[dict[str, Any]]:
        """The fault rules in order, with remaining `times` and `hits`."""
        with self._lock:
            return [rule.to_dict() for rule in self._faults]

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Forget posts, idempotency keys, faults and counters; restore the initial latency."""
        with self._lock:
            self._posts.clear()
            self._replies.clear()
            self._faults.clear()
            self._counts.clear()
            self._latency_ms = self._initial_latency_ms

    def set_latency(self, ms: float) -> None:
        """Add `ms` milliseconds to every contract call from now on."""
        if not _is_number(ms) or ms < 0:
            raise ValueError("latency must be a non-negative number of milliseconds")
        with self._lock:
            self._latency_ms = float(ms)

    @property
    def latency_ms(self) -> float:
        """The current added latency in milliseconds."""
        with self._lock:
            return self._latency_ms

    def set_data(self, data: dict[str, Any]) -> None:
        """Replace the master data (assets, failure types, maintenance lists, links)."""
        catalog = Catalog.from_data(data)
        with self._lock:
            self._catalog = catalog

    # -- request handling (called from handler threads)

    def handle(self, method: str, target: str, headers: Message, body: bytes) -> Response:
        """Answer one request; `target` is the raw request target (path and query)."""
        url = urlsplit(target)
        rel = self._relative_path(url.path)
        if rel is None:
            return _detail(404, "Not found.")
        query = parse_qsl(url.query, keep_blank_values=True)
        if rel == "/_sim" or rel.startswith("/_sim/"):
            if not self._authorized(headers):
                return self._unauthorized()
            return self._control(method, rel, query, body)
        extra_headers: dict[str, str] = {}
        with self._lock:
            self._counts[(method, rel)] += 1
            latency_ms = self._latency_ms
            rule = next((r for r in self._faults if r.matches(method, rel)), None)
            if rule is not None:
                rule.hits += 1
                if rule.times is not None:
                    rule.times -= 1
        if latency_ms:
            time.sleep(latency_ms / 1000)
        if rule is not None:
            if rule.delay_ms:
                time.sleep(rule.delay_ms / 1000)
            if rule.answers:
                return _fault_response(rule)
            extra_headers = dict(rule.headers)
        if not self._authorized(headers):
            response = self._unauthorized()
        elif method == "GET":
            response = self._contract_get(rel, query, headers)
        elif method == "POST":
            response = self._contract_post(rel, headers, body)
        else:
            response = _detail(405, f"Method {method} not allowed.")
        response.headers.update(extra_headers)
        return response

    def _relative_path(self, path: str) -> str | None:
        """The path after base_path, with a leading slash and no trailing one."""
        path = unquote(path)
        if self.base_path:
            if path != self.base_path and not path.startswith(self.base_path + "/"):
                return None
            path = path[len(self.base_path) :]
        return _norm_path(path)

    def _authorized(self, headers: Message) -> bool:
        """True if the request carries `Authorization: Bearer <token>`."""
        scheme, _, credentials = (headers.get("Authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), self._token.encode()
        )

    @staticmethod
    def _unauthorized() -> Response:
        """A 401 asking for a bearer token."""
        response = _detail(401, "Authentication credentials were not provided or are invalid.")
        response.headers["WWW-Authenticate"] = 'Bearer realm="cmms"'
        return response

    # -- contract reads

    def _contract_get(self, rel: str, query: list[tuple[str, str]], headers: Message) -> Response:
        """Route a contract GET."""
        parts = rel.strip("/").split("/")
        catalog = self._catalog
        if len(parts) == 2:
            table = {
                "assets": (catalog.assets, "Asset"),
                "failure_types": (catalog.failure_types, "Failure type"),
                "maintenance_lists": (catalog.maintenance_lists, "Maintenance list"),
            }.get(parts[0])
            if table is not None:
                return self._get_one(table[0], parts[1], table[1])
        if len(parts) == 3 and parts[2] == "maintenance_lists":
            if parts[0] == "operations":
                return self._get_links(
                    catalog.operations, parts[1], "Operation", rel, query, headers
                )
            if parts[0] == "assets":
                return self._get_links(
                    catalog.asset_maintenance_lists, parts[1], "Asset", rel, query, headers
                )
        if rel in POST_PATHS:
            return _detail(405, "Method GET not allowed.")
        return _detail(404, "Not found.")

    @staticmethod
    def _get_one(table: dict[str, dict[str, Any]], raw_id: str, label: str) -> Response:
        """One object by id, or 404."""
        ident = canonical_uuid(raw_id)
        if ident is None:
            return _detail(404, f"{label} not found: {raw_id!r} is not a UUID.")
        obj = table.get(ident)
        if obj is None:
            return _detail(404, f"{label} {ident} not found.")
        return _json_response(200, obj)

    def _get_links(
        self,
        links: dict[str, list[str]],
        raw_id: str,
        label: str,
        rel: str,
        query: list[tuple[str, str]],
        headers: Message,
    ) -> Response:
        """The maintenance lists linked to an operation or asset, paginated; 404 if unknown."""
        ident = canonical_uuid(raw_id)
        if ident is None:
            return _detail(404, f"{label} not found: {raw_id!r} is not a UUID.")
        if ident not in links:
            return _detail(404, f"{label} {ident} not found.")
        ml_ids = links[ident]
        params = dict(query)
        if label == "Operation" and params.get("maintenance_list_id"):
            wanted = canonical_uuid(params["maintenance_list_id"])
            if wanted is None:
                return _detail(400, "maintenance_list_id must be a UUID.")
            ml_ids = [ml for ml in ml_ids if ml == wanted]
        items = [self._catalog.maintenance_lists[ml] for ml in ml_ids]
        return self._paginate(items, rel, query, headers)

    def _paginate(
        self, items: list[dict[str, Any]], rel: str, query: list[tuple[str, str]], headers: Message
    ) -> Response:
        """A `{count, next, previous, results}` page selected by `?page=N`."""
        params = [(k, v) for k, v in query if k != "page"]
        raw_page = dict(query).get("page", "1")
        pages = max(1, math.ceil(len(items) / self.page_size))
        try:
            page = int(raw_page)
        except ValueError:
            page = 0
        if not 1 <= page <= pages:
            return _detail(404, "Invalid page.")
        host = headers.get("Host") or f"{self.host}:{self.port}"
        base = f"http://{host}{self.base_path}{rel}"

        def link(number: int) -> str:
            """The absolute URL of page `number`, other query parameters kept."""
            return f"{base}?{urlencode([*params, ('page', str(number))])}"

        start = (page - 1) * self.page_size
        return _json_response(
            200,
            {
                "count": len(items),
                "next": link(page + 1) if page < pages else None,
                "previous": link(page - 1) if page > 1 else None,
                "results": items[start : start + self.page_size],
            },
        )

    # -- contract writes

    def _contract_post(self, rel: str, headers: Message, body: bytes) -> Response:
        """Validate, record and answer a contract POST, honouring Idempotency-Key."""
        if rel not in POST_PATHS:
            if self._is_read_path(rel):
                return _detail(405, "Method POST not allowed.")
            return _detail(404, "Not found.")
        key = (headers.get("Idempotency-Key") or "").strip()
        if not key:
            return _detail(400, "The Idempotency-Key header is required.")
        with self._lock:
            first = self._replies.get((rel, key))
            if first is not None:
                replay = copy.deepcopy(first)
                replay.headers["Idempotent-Replayed"] = "true"
                return replay
            try:
                document = json.loads(body.decode("utf-8")) if body else None
            except (UnicodeDecodeError, ValueError):
                return _detail(400, "The body is not valid JSON.")
            if rel == WORK_REQUEST_PATH:
                errors = _validate_work_request(document)
            else:
                errors = _validate_prediction(
                    document, needs_failure_type=rel == "/asset_failure_type_prediction"
                )
            if errors:
                return _detail(400, "Invalid body.", errors=errors)
            if rel == WORK_REQUEST_PATH:
                answer = {"work_request_id": str(uuid.uuid4())}
            else:
                answer = {"status": "recorded", "prediction_id": document["prediction_id"]}
            response = _json_response(201, answer)
            self._replies[(rel, key)] = copy.deepcopy(response)
            record = {
                "path": rel,
                "idempotency_key": key,
                "body": document,
                "received_at": _utc_now(),
                "response": answer,
            }
            self._posts.append(record)
            if self.record_path is not None:
                with open(self.record_path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")
                    fh.flush()
        return response

    @staticmethod
    def _is_read_path(rel: str) -> bool:
        """True if `rel` looks like one of the contract's GET paths."""
        parts = rel.strip("/").split("/")
        if len(parts) == 2:
            return parts[0] in {"assets", "failure_types", "maintenance_lists"}
        return len(parts) == 3 and parts[0] in {"assets", "operations"}

    # -- control endpoints

    def _control(
        self, method: str, rel: str, query: list[tuple[str, str]], body: bytes
    ) -> Response:
        """Serve `_sim/...`: posts, requests, faults, reset, latency."""
        name = rel[len("/_sim") :].strip("/")
        params = dict(query)
        if (method, name) == ("GET", "posts"):
            return _json_response(200, self.posts(params.get("path") or None))
        if (method, name) == ("GET", "requests"):
            return _json_response(200, self.request_counts())
        if (method, name) == ("GET", "faults"):
            return _json_response(200, self.faults())
        if (method, name) == ("DELETE", "faults"):
            self.clear_faults()
            return _json_response(200, {"status": "cleared"})
        if (method, name) == ("POST", "reset"):
            self.reset()
            return _json_response(200, {"status": "reset"})
        if (method, name) == ("GET", "latency"):
            return _json_response(200, {"ms": self.latency_ms})
        if (method, name) in {("POST", "faults"), ("POST", "latency")}:
            try:
                document = json.loads(body.decode("utf-8")) if body else {}
            except (UnicodeDecodeError, ValueError):
                return _detail(400, "The body is not valid JSON.")
            try:
                if name == "faults":
                    rule = self.add_fault(document)
                    return _json_response(201, rule.to_dict())
                if not isinstance(document, dict):
                    raise ValueError('expected {"ms": <number>}')
                self.set_latency(document.get("ms"))
                return _json_response(200, {"ms": self.latency_ms})
            except (TypeError, ValueError) as exc:
                return _detail(400, str(exc))
        known = {"posts", "requests", "faults", "reset", "latency"}
        if name in known:
            return _detail(405, f"Method {method} not allowed.")
        return _detail(404, "Not found.")


def _norm_path(path: str) -> str:
    """`asset_prediction/` → `/asset_prediction`."""
    return "/" + path.strip("/")


# --------------------------------------------------------------------------- HTTP plumbing


class _SimHTTPServer(ThreadingHTTPServer):
    """Threaded HTTP server that knows its simulator and its open connections."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # the default backlog of 5 drops bursts of new connections

    def __init__(self, address: tuple[str, int], simulator: CmmsSimulator) -> None:
        """Bind to `address` and serve `simulator`."""
        self.simulator = simulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup (`getfqdn` can stall for seconds)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that went away; report anything else."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Shut down every open client connection (frees their handler threads)."""
        with self.connections_lock:
            sockets = list(self.connections)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler that delegates to the simulator."""

    protocol_version = "HTTP/1.1"
    server_version = "dtwin-cmms-simulator/1.0"
    sys_version = ""
    timeout = 600  # idle keep-alive connections are closed after this many seconds
    server: _SimHTTPServer

    def setup(self) -> None:
        """Disable Nagle: headers and body are written separately, and a delayed ACK would
        otherwise hold every response ~40 ms."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        """Forget the connection once it is done."""
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def do_GET(self) -> None:
        """Handle GET."""
        self._dispatch()

    def do_POST(self) -> None:
        """Handle POST."""
        self._dispatch()

    def do_DELETE(self) -> None:
        """Handle DELETE."""
        self._dispatch()

    def do_PUT(self) -> None:
        """Handle PUT."""
        self._dispatch()

    def do_PATCH(self) -> None:
        """Handle PATCH."""
        self._dispatch()

    def _dispatch(self) -> None:
        """Read the body, let the simulator answer, write the response."""
        body = self._read_body()
        if body is None:
            return
        try:
            response = self.server.simulator.handle(self.command, self.path, self.headers, body)
        except Exception as exc:  # a simulator bug must not kill the connection silently
            traceback.print_exc(file=sys.stderr)
            response = _detail(500, f"Simulator error: {exc!r}")
        self._write(response)

    def _read_body(self) -> bytes | None:
        """The request body by Content-Length; answers and returns None if unreadable."""
        if self.headers.get("Transfer-Encoding"):
            response = _detail(411, "Send a Content-Length, not chunked encoding.")
            response.close = True
            self._write(response)
            return None
        raw = self.headers.get("Content-Length") or "0"
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            response = _detail(413 if length > 0 else 400, "Bad or too large Content-Length.")
            response.close = True
            self._write(response)
            return None
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def _write(self, response: Response) -> None:
        """Write a response, or break the connection the way the response asks."""
        if response.drop or response.reset:
            self.close_connection = True
            if response.reset:
                # SO_LINGER 0 makes close() send RST instead of FIN: "connection reset by peer"
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.rfile.close()
                self.connection.close()
            return
        if response.huge_bytes:
            length = response.huge_bytes
        elif response.truncate:
            length = len(response.payload) + 1024
        else:
            length = len(response.payload)
        self.send_response(response.status, _reason(response.status))
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(length))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        try:
            if response.huge_bytes:
                self._stream_filler(response.huge_bytes)
            else:
                self.wfile.write(response.payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _stream_filler(self, size: int) -> None:
        """Write `size` bytes of valid JSON (`{"padding": "xxx…"}`) in chunks."""
        head, tail = b'{"padding": "', b'"}'
        if size < len(head) + len(tail):
            self.wfile.write(b" " * size)
            return
        self.wfile.write(head)
        remaining = size - len(head) - len(tail)
        chunk = b"x" * STREAM_CHUNK_BYTES
        while remaining > 0:
            n = min(remaining, STREAM_CHUNK_BYTES)
            self.wfile.write(chunk[:n])
            remaining -= n
        self.wfile.write(tail)

    def log_message(self, format: str, *args: Any) -> None:
        """Log to stderr only in verbose mode."""
        if self.server.simulator.verbose:
            sys.stderr.write(f"cmms-simulator {self.address_string()} {format % args}\n")


def _reason(status: int) -> str:
    """The standard reason phrase, or a generic one for unusual codes."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Simulated"
