"""The CMMS simulator over real HTTP: contract, idempotency, faults, latency, control API."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from cmms.simulator.server import DEFAULT_DATA_PATH, CmmsSimulator, FaultRule, load_data

TOKEN = "test-cmms-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[2]

SEED_ASSET = "06fcd7d5-1fc6-4bc6-b00d-da274663d98d"
SEED_FAILURE_TYPE = "702ab05a-7427-4a36-a298-0331bd56510a"
SEED_OPERATION = "06fad7d5-1fc6-4bd6-b00d-da274663d88a"
COMPRESSOR = "41c2b0c1-e26b-4c08-a51c-f8ee87875159"  # four maintenance lists
OVERHAUL_OPERATION = "42dda519-5ee2-4848-b997-c58b2804b61b"  # three maintenance lists
EMPTY_OPERATION = "26480887-53d3-408b-b0db-7a3b792dfe02"  # no maintenance lists
LUBRICATION = "2a01b883-f73d-4848-80d4-61d2b9a22457"
VIBRATION = "28751a8d-910d-4860-80ab-5c6e7d280013"
INSULATION_TEST = "0cbe12c8-328b-40dd-9de9-94ac8062bf13"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def simulator() -> Iterator[CmmsSimulator]:
    """A simulator with the demo data on a free port, page size 2, stopped afterwards."""
    sim = CmmsSimulator(data=load_data(), token=TOKEN, page_size=2).start()
    yield sim
    sim.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A keep-alive session sending the simulator's token, ignoring proxy settings."""
    session = requests.Session()
    session.trust_env = False
    session.headers.update(AUTH)
    yield session
    session.close()


def prediction(**overrides: Any) -> dict[str, Any]:
    """A valid prediction document for the seed asset and failure type."""
    return {
        "prediction_id": str(uuid.uuid4()),
        "predicted_reliability": 0.9,
        "asset_id": SEED_ASSET,
        "failure_type_id": SEED_FAILURE_TYPE,
        "prediction_future_time": "2025-08-23T11:00:00Z",
        "source_sys_time": "2025-10-16T09:00:00Z",
        **overrides,
    }


def post(
    http: requests.Session, sim: CmmsSimulator, path: str, body: Any, key: str | None = None
) -> requests.Response:
    """POST `body` to a contract path with an Idempotency-Key (the prediction id by default)."""
    if key is None and isinstance(body, dict):
        key = body.get("prediction_id")
    headers = {"Idempotency-Key": key} if key else {}
    return http.post(f"{sim.base_url}{path}", json=body, headers=headers, timeout=5)


# --------------------------------------------------------------------------- reads


def test_it_serves_the_seed_asset(simulator, http):
    response = http.get(f"{simulator.base_url}/assets/{SEED_ASSET}", timeout=5)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "asset_id": SEED_ASSET,
        "name": "Feed pump P-101",
        "description": "Centrifugal boiler feed pump, 75 kW, line 1 feedwater",
    }


def test_it_serves_a_failure_type_and_a_maintenance_list(simulator, http):
    failure_type = http.get(f"{simulator.base_url}/failure_types/{SEED_FAILURE_TYPE}", timeout=5)
    listing = http.get(f"{simulator.base_url}/maintenance_lists/{LUBRICATION}", timeout=5)

    assert failure_type.status_code == 200
    assert failure_type.json()["failure_type_id"] == SEED_FAILURE_TYPE
    assert failure_type.json()["name"] == "Bearing wear"
    assert listing.status_code == 200
    assert listing.json() == {
        "maintenance_list_id": LUBRICATION,
        "name": "Quarterly lubrication",
        "description": "Grease bearings and couplings, check oil level and condition",
    }


def test_it_compares_ids_in_lowercase_canonical_form(simulator, http):
    response = http.get(f"{simulator.base_url}/assets/{SEED_ASSET.upper()}", timeout=5)

    assert response.status_code == 200
    assert response.json()["asset_id"] == SEED_ASSET


@pytest.mark.parametrize(
    "path",
    [
        f"/assets/{UNKNOWN}",
        f"/failure_types/{UNKNOWN}",
        f"/maintenance_lists/{UNKNOWN}",
        f"/operations/{UNKNOWN}/maintenance_lists",
        f"/assets/{UNKNOWN}/maintenance_lists",
        "/assets/not-a-uuid",
        "/failure_types/None",
        "/operations/123/maintenance_lists",
        "/nothing/here",
    ],
)
def test_it_answers_404_json_for_unknown_and_malformed_ids(simulator, http, path):
    response = http.get(f"{simulator.base_url}{path}", timeout=5)

    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": "Bearer"}],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", f"/assets/{SEED_ASSET}"), ("POST", "/asset_prediction"), ("GET", "/_sim/posts")],
)
def test_it_answers_401_without_the_right_bearer_token(simulator, headers, method, path):
    response = requests.request(
        method,
        f"{simulator.base_url}{path}",
        headers={**headers, "Idempotency-Key": "k"},
        json=prediction(),
        timeout=5,
    )

    assert response.status_code == 401
    assert "detail" in response.json()
    assert simulator.posts() == []


def test_it_paginates_following_next_until_null(simulator, http):
    url = f"{simulator.base_url}/assets/{COMPRESSOR}/maintenance_lists"
    pages = []
    while url:
        page = http.get(url, timeout=5).json()
        pages.append(page)
        url = page["next"]

    assert [len(p["results"]) for p in pages] == [2, 2]
    assert all(p["count"] == 4 for p in pages)
    assert pages[0]["previous"] is None
    assert pages[1]["previous"].startswith(f"{simulator.base_url}/assets/{COMPRESSOR}/")
    ids = [item["maintenance_list_id"] for p in pages for item in p["results"]]
    assert len(set(ids)) == 4
    assert LUBRICATION in ids


def test_the_seed_asset_has_three_maintenance_lists_over_two_pages(simulator, http):
    first = http.get(f"{simulator.base_url}/assets/{SEED_ASSET}/maintenance_lists", timeout=5)
    second = http.get(first.json()["next"], timeout=5)

    assert first.json()["count"] == 3
    assert first.json()["next"].startswith("http://127.0.0.1:")
    assert second.json()["next"] is None
    assert len(first.json()["results"]) + len(second.json()["results"]) == 3


def test_the_seed_operation_has_maintenance_lists(simulator, http):
    response = http.get(f"{simulator.base_url}/operations/{SEED_OPERATION}/maintenance_lists")

    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 2
    assert {m["maintenance_list_id"] for m in body["results"]} == {LUBRICATION, VIBRATION}


def test_an_operation_without_maintenance_lists_has_empty_results(simulator, http):
    response = http.get(f"{simulator.base_url}/operations/{EMPTY_OPERATION}/maintenance_lists")

    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_it_filters_operation_lists_by_maintenance_list_id(simulator, http):
    url = f"{simulator.base_url}/operations/{OVERHAUL_OPERATION}/maintenance_lists"

    unfiltered = http.get(url, timeout=5).json()
    matching = http.get(url, params={"maintenance_list_id": INSULATION_TEST.upper()}).json()
    other = http.get(url, params={"maintenance_list_id": VIBRATION}, timeout=5).json()
    malformed = http.get(url, params={"maintenance_list_id": "nope"}, timeout=5)

    assert unfiltered["count"] == 3
    assert "maintenance_list_id" not in unfiltered["next"]
    assert matching["count"] == 1
    assert matching["results"][0]["maintenance_list_id"] == INSULATION_TEST
    assert other == {"count": 0, "next": None, "previous": None, "results": []}
    assert malformed.status_code == 400


def test_next_links_keep_the_other_query_parameters(simulator, http):
    simulator.page_size = 1
    url = f"{simulator.base_url}/operations/{OVERHAUL_OPERATION}/maintenance_lists"

    first = http.get(url, params={"maintenance_list_id": "", "x": "1"}, timeout=5).json()
    second = http.get(first["next"], timeout=5).json()

    assert first["count"] == 3
    assert first["next"] == f"{url}?maintenance_list_id=&x=1&page=2"
    assert second["previous"] == f"{url}?maintenance_list_id=&x=1&page=1"
    assert second["results"] != first["results"]


@pytest.mark.parametrize("page", ["0", "3", "x"])
def test_it_answers_404_for_a_page_out_of_range(simulator, http, page):
    url = f"{simulator.base_url}/assets/{SEED_ASSET}/maintenance_lists"

    assert http.get(url, params={"page": page}, timeout=5).status_code == 404


# --------------------------------------------------------------------------- writes


@pytest.mark.parametrize("path", ["/asset_prediction", "/asset_failure_type_prediction"])
def test_a_prediction_is_recorded_once_and_a_replay_returns_the_first_answer(simulator, http, path):
    document = prediction()

    first = post(http, simulator, path, document)
    replay = post(http, simulator, path, {**document, "predicted_reliability": 0.1})

    assert first.status_code == 201
    assert first.json() == {"status": "recorded", "prediction_id": document["prediction_id"]}
    assert (replay.status_code, replay.content) == (first.status_code, first.content)
    assert replay.headers["Idempotent-Replayed"] == "true"
    posts = simulator.posts(path)
    assert len(posts) == 1
    assert posts[0]["path"] == path
    assert posts[0]["idempotency_key"] == document["prediction_id"]
    assert posts[0]["body"] == document
    assert posts[0]["received_at"].endswith("Z")
    assert simulator.request_count(path) == 2
    assert simulator.request_count(path, method="POST") == 2


def test_an_asset_prediction_may_have_no_failure_type(simulator, http):
    response = post(http, simulator, "/asset_prediction", prediction(failure_type_id=None))

    assert response.status_code == 201
    assert simulator.posts("asset_prediction")[0]["body"]["failure_type_id"] is None


def test_the_same_key_on_another_path_is_a_new_post(simulator, http):
    document = prediction()

    post(http, simulator, "/asset_prediction", document)
    post(http, simulator, "/asset_failure_type_prediction", document)

    assert len(simulator.posts()) == 2


def test_a_post_without_idempotency_key_is_refused(simulator, http):
    response = http.post(f"{simulator.base_url}/asset_prediction", json=prediction(), timeout=5)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert simulator.posts() == []


@pytest.mark.parametrize(
    ("path", "body", "bad_field"),
    [
        ("/asset_prediction", prediction(predicted_reliability=1.5), "predicted_reliability"),
        ("/asset_prediction", prediction(predicted_reliability=-0.1), "predicted_reliability"),
        ("/asset_prediction", prediction(predicted_reliability="0.9"), "predicted_reliability"),
        ("/asset_prediction", prediction(predicted_reliability=True), "predicted_reliability"),
        ("/asset_prediction", prediction(asset_id="pump"), "asset_id"),
        ("/asset_prediction", prediction(failure_type_id="None"), "failure_type_id"),
        ("/asset_prediction", prediction(source_sys_time=12), "source_sys_time"),
        ("/asset_prediction", prediction(prediction_future_time="soon"), "prediction_future_time"),
        ("/asset_prediction", prediction(extra=1), "extra"),
        ("/asset_failure_type_prediction", prediction(failure_type_id=None), "failure_type_id"),
        (
            "/asset_failure_type_prediction",
            {k: v for k, v in prediction().items() if k != "asset_id"},
            "asset_id",
        ),
        ("/work_requests", {"asset_id": SEED_ASSET}, "description"),
        ("/asset_prediction", [1, 2], "non_field_errors"),
    ],
)
def test_an_invalid_document_is_refused_and_not_recorded(simulator, http, path, body, bad_field):
    response = post(http, simulator, path, body, key="some-key")

    assert response.status_code == 400
    assert bad_field in response.json()["errors"]
    assert simulator.posts() == []


def test_a_body_that_is_not_json_is_refused(simulator, http):
    response = http.post(
        f"{simulator.base_url}/asset_prediction",
        data=b"{not json",
        headers={"Idempotency-Key": "k", "Content-Type": "application/json"},
        timeout=5,
    )

    assert response.status_code == 400
    assert simulator.posts() == []


def test_a_rejected_body_does_not_use_up_the_key(simulator, http):
    document = prediction()

    post(http, simulator, "/asset_prediction", {**document, "predicted_reliability": 7})
    retry = post(http, simulator, "/asset_prediction", document)

    assert retry.status_code == 201
    assert len(simulator.posts()) == 1


def test_a_work_request_gets_a_new_id_and_its_replay_the_same_one(simulator, http):
    body = {
        "asset_id": SEED_ASSET,
        "failure_type_id": None,
        "prediction_id": str(uuid.uuid4()),
        "predicted_reliability": 0.42,
        "description": "Reliability of Feed pump P-101 below threshold",
    }

    first = post(http, simulator, "/work_requests", body)
    replay = post(http, simulator, "/work_requests", body)
    other = post(http, simulator, "/work_requests", body, key="another-key")

    assert first.status_code == 201
    work_request_id = first.json()["work_request_id"]
    assert str(uuid.UUID(work_request_id)) == work_request_id
    assert replay.json() == {"work_request_id": work_request_id}
    assert other.json()["work_request_id"] != work_request_id
    assert len(simulator.posts("/work_requests")) == 2


def test_concurrent_posts_with_one_key_record_exactly_one(simulator):
    document = prediction()

    def send(_: int) -> tuple[int, bytes]:
        response = requests.post(
            f"{simulator.base_url}/asset_prediction",
            json=document,
            headers={**AUTH, "Idempotency-Key": document["prediction_id"]},
            timeout=10,
        )
        return response.status_code, response.content

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = set(pool.map(send, range(32)))

    assert len(answers) == 1
    assert answers.pop()[0] == 201
    assert len(simulator.posts()) == 1
    assert simulator.request_count("/asset_prediction") == 32


def test_it_serves_many_concurrent_clients(simulator):
    def fetch(_: int) -> int:
        with requests.Session() as session:
            session.headers.update(AUTH)
            url = f"{simulator.base_url}/assets/{SEED_ASSET}"
            return sum(session.get(url, timeout=10).status_code == 200 for _ in range(10))

    with ThreadPoolExecutor(max_workers=32) as pool:
        assert sum(pool.map(fetch, range(64))) == 640


def test_it_appends_effective_posts_to_the_record_file(tmp_path, http):
    record = tmp_path / "sub" / "posts.jsonl"
    document = prediction()
    with CmmsSimulator(data=load_data(), token=TOKEN, record_path=record) as sim:
        post(http, sim, "/asset_prediction", document)
        post(http, sim, "/asset_prediction", document)

    lines = record.read_text().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["body"] == document


# --------------------------------------------------------------------------- faults


def test_a_status_fault_applies_its_times_then_the_call_succeeds(simulator, http):
    simulator.add_fault(method="GET", path=r"^/assets/", status=503, times=2)
    url = f"{simulator.base_url}/assets/{SEED_ASSET}"

    statuses = [http.get(url, timeout=5).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]
    assert simulator.request_count(f"/assets/{SEED_ASSET}") == 3
    assert simulator.faults()[0]["times"] == 0
    assert simulator.faults()[0]["hits"] == 2


def test_a_fault_only_hits_its_method_and_path(simulator, http):
    simulator.add_fault(method="POST", path="asset_prediction", status=500)

    read = http.get(f"{simulator.base_url}/assets/{SEED_ASSET}", timeout=5)
    other_post = post(http, simulator, "/work_requests", prediction_body_for_work_request())
    faulted = post(http, simulator, "/asset_prediction", prediction())

    assert read.status_code == 200
    assert other_post.status_code == 201
    assert faulted.status_code == 500


def prediction_body_for_work_request() -> dict[str, Any]:
    """A valid work-request body."""
    return {
        "asset_id": SEED_ASSET,
        "failure_type_id": SEED_FAILURE_TYPE,
        "prediction_id": str(uuid.uuid4()),
        "predicted_reliability": 0.3,
        "description": "Bearing wear expected",
    }


def test_a_faulted_post_is_not_recorded_and_does_not_store_the_key(simulator, http):
    simulator.add_fault(method="POST", path="^/asset_prediction$", status=500, times=1)
    document = prediction()

    failed = post(http, simulator, "/asset_prediction", document)
    assert simulator.posts() == []
    retried = post(http, simulator, "/asset_prediction", document)

    assert failed.status_code == 500
    assert retried.status_code == 201
    assert len(simulator.posts()) == 1
    assert simulator.request_count("/asset_prediction") == 2


def test_a_429_fault_carries_retry_after(simulator, http):
    simulator.add_fault(status=429, headers={"Retry-After": "1"}, times=1)

    response = http.get(f"{simulator.base_url}/assets/{SEED_ASSET}", timeout=5)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"


def test_an_html_body_fault_answers_200_with_html(simulator, http):
    simulator.add_fault(body="<html><body>Gateway login</body></html>", content_type="text/html")

    response = http.get(f"{simulator.base_url}/assets/{SEED_ASSET}", timeout=5)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html"
    assert response.text.startswith("<html>")
    with pytest.raises(ValueError):
        response.json()


def test_a_truncated_body_breaks_the_read(simulator, http):
    simulator.add_fault(truncate=True, times=1)

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        http.get(f"{simulator.base_url}/assets/{SEED_ASSET}", timeout=5)
    assert http.get(f"{simulator.base_url}/assets/{SEED_ASSET}", timeout=5).status_code == 200


@pytest.mark.parametrize("kind", ["drop", "reset"])
def test_a_dropped_connection_is_a_connection_error(simulator, http, kind):
    simulator.add_fault(method="POST", times=1, **{kind: True})
    document = prediction()

    with pytest.raises(requests.exceptions.ConnectionError):
        post(http, simulator, "/asset_prediction", document)
    assert simulator.posts() == []
    assert post(http, simulator, "/asset_prediction", document).status_code == 201


def test_a_delay_fault_makes_the_client_time_out_but_the_post_still_lands(simulator, http):
    simulator.add_fault(method="POST", delay_ms=400, times=1)
    document = prediction()
    url = f"{simulator.base_url}/asset_prediction"
    headers = {"Idempotency-Key": document["prediction_id"]}

    with pytest.raises(requests.exceptions.ReadTimeout):
        http.post(url, json=document, headers=headers, timeout=(2, 0.1))
    time.sleep(0.5)
    retried = http.post(url, json=document, headers=headers, timeout=5)

    assert retried.status_code == 201
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert len(simulator.posts()) == 1


def test_a_delay_fault_with_a_status_waits_then_answers(simulator, http):
    simulator.add_fault(delay_ms=100, status=502, times=1)

    started = time.perf_counter()
    response = http.get(f"{simulator.base_url}/assets/{SEED_ASSET}", timeout=5)

    assert time.perf_counter() - started >= 0.1
    assert response.status_code == 502


def test_a_huge_body_fault_streams_that_many_bytes(simulator, http):
    size = 5_000_000
    simulator.add_fault(huge_bytes=size, times=1)

    with http.get(f"{simulator.base_url}/assets/{SEED_ASSET}", timeout=5, stream=True) as resp:
        declared = int(resp.headers["Content-Length"])
        received = sum(len(chunk) for chunk in resp.iter_content(64 * 1024))

    assert declared == received == size
    assert http.get(f"{simulator.base_url}/assets/{SEED_ASSET}", timeout=5).status_code == 200


def test_a_client_may_hang_up_on_a_huge_body(simulator, http):
    simulator.add_fault(huge_bytes=50_000_000, times=1)

    with http.get(f"{simulator.base_url}/assets/{SEED_ASSET}", timeout=5, stream=True) as resp:
        next(resp.iter_content(1024))

    assert http.get(f"{simulator.base_url}/assets/{SEED_ASSET}", timeout=5).status_code == 200


@pytest.mark.parametrize(
    "rule",
    [
        {"times": 2},
        {"status": 500, "oops": True},
        {"status": 42},
        {"path": "(", "status": 500},
        {"method": "BREW", "status": 500},
        {"huge_bytes": -1},
    ],
)
def test_a_bad_fault_rule_is_refused(rule):
    with pytest.raises(ValueError):
        FaultRule.from_dict(rule)


# --------------------------------------------------------------------------- reset, latency


def test_reset_forgets_posts_keys_faults_and_counters(simulator, http):
    document = prediction()
    post(http, simulator, "/asset_prediction", document)
    simulator.add_fault(path="^/assets/", status=500)
    simulator.set_latency(5)

    simulator.reset()

    assert simulator.posts() == []
    assert simulator.faults() == []
    assert simulator.request_counts()["total"] == 0
    assert simulator.latency_ms == 0
    assert http.get(f"{simulator.base_url}/assets/{SEED_ASSET}", timeout=5).status_code == 200
    assert (
        post(http, simulator, "/asset_prediction", document).headers.get("Idempotent-Replayed")
        is None
    )
    assert len(simulator.posts()) == 1


def test_latency_is_added_to_contract_calls(simulator, http):
    url = f"{simulator.base_url}/assets/{SEED_ASSET}"
    http.get(url, timeout=5)
    simulator.set_latency(50)

    started = time.perf_counter()
    response = http.get(url, timeout=5)
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert elapsed >= 0.05


def test_a_simulator_can_start_with_latency():
    with CmmsSimulator(data=load_data(), token=TOKEN, latency_ms=50) as sim:
        started = time.perf_counter()
        requests.get(f"{sim.base_url}/assets/{SEED_ASSET}", headers=AUTH, timeout=5)

        assert time.perf_counter() - started >= 0.05


def test_keep_alive_calls_are_fast_without_added_latency(simulator, http):
    """200 sequential calls on one connection: ~40 ms each without TCP_NODELAY, ~1 ms with."""
    url = f"{simulator.base_url}/failure_types/{SEED_FAILURE_TYPE}"
    http.get(url, timeout=5)

    started = time.perf_counter()
    for _ in range(200):
        assert http.get(url, timeout=5).status_code == 200
    elapsed = time.perf_counter() - started

    assert elapsed < 3.0, f"200 keep-alive GETs took {elapsed:.2f} s"


# --------------------------------------------------------------------------- control API


def test_the_control_endpoints_work_over_http(simulator, http):
    sim = f"{simulator.base_url}/_sim"
    asset_url = f"{simulator.base_url}/assets/{SEED_ASSET}"

    added = http.post(f"{sim}/faults", json={"method": "GET", "path": "^/assets/", "status": 500})
    faulted = http.get(asset_url, timeout=5)
    listed = http.get(f"{sim}/faults", timeout=5).json()
    cleared = http.delete(f"{sim}/faults", timeout=5)
    healthy = http.get(asset_url, timeout=5)
    document = prediction()
    post(http, simulator, "/asset_prediction", document)
    post(http, simulator, "/work_requests", prediction_body_for_work_request())
    posts = http.get(f"{sim}/posts", params={"path": "/asset_prediction"}, timeout=5).json()
    counts = http.get(f"{sim}/requests", timeout=5).json()

    assert added.status_code == 201
    assert added.json()["status"] == 500
    assert faulted.status_code == 500
    assert listed[0]["hits"] == 1
    assert cleared.status_code == 200
    assert healthy.status_code == 200
    assert [p["body"] for p in posts] == [document]
    assert len(http.get(f"{sim}/posts", timeout=5).json()) == 2
    assert counts["by_path"][f"/assets/{SEED_ASSET}"] == 2
    assert counts["by_method_path"]["POST /asset_prediction"] == 1
    assert counts["total"] == 4


def test_latency_and_reset_over_http(simulator, http):
    sim = f"{simulator.base_url}/_sim"
    post(http, simulator, "/asset_prediction", prediction())

    latency = http.post(f"{sim}/latency", json={"ms": 60}, timeout=5)
    started = time.perf_counter()
    http.get(f"{simulator.base_url}/assets/{SEED_ASSET}", timeout=5)
    slow = time.perf_counter() - started
    reset = http.post(f"{sim}/reset", timeout=5)

    assert latency.json() == {"ms": 60}
    assert slow >= 0.06
    assert reset.status_code == 200
    assert simulator.posts() == []
    assert http.get(f"{sim}/latency", timeout=5).json() == {"ms": 0}


@pytest.mark.parametrize(
    ("path", "body"),
    [("faults", {"status": "bad"}), ("faults", {"wat": 1}), ("latency", {"ms": -1})],
)
def test_bad_control_requests_get_400(simulator, http, path, body):
    response = http.post(f"{simulator.base_url}/_sim/{path}", json=body, timeout=5)

    assert response.status_code == 400
    assert "detail" in response.json()


def test_control_calls_are_not_counted_delayed_or_faulted(simulator, http):
    simulator.add_fault(status=500)
    simulator.set_latency(200)

    started = time.perf_counter()
    response = http.get(f"{simulator.base_url}/_sim/requests", timeout=5)

    assert time.perf_counter() - started < 0.2
    assert response.status_code == 200
    assert response.json()["total"] == 0


# --------------------------------------------------------------------------- packaging


def test_the_demo_data_holds_the_seed_ids():
    data = load_data(DEFAULT_DATA_PATH)

    assert SEED_ASSET in {a["asset_id"] for a in data["assets"]}
    assert SEED_FAILURE_TYPE in {f["failure_type_id"] for f in data["failure_types"]}
    assert data["operations"][SEED_OPERATION]
    assert 2 <= len(data["asset_maintenance_lists"][SEED_ASSET]) <= 3


def test_bad_data_is_refused():
    data = load_data()
    data["operations"] = {SEED_OPERATION: [UNKNOWN]}

    with pytest.raises(ValueError, match="unknown maintenance lists"):
        CmmsSimulator(data=data, token=TOKEN)


def test_the_server_module_imports_no_django():
    source = (ROOT / "cmms" / "simulator" / "server.py").read_text()
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)

    assert not [m for m in modules if m.split(".")[0] in {"django", "cmms", "predictions"}]


def test_the_management_command_serves_and_stops_cleanly_on_sigterm():
    if not (ROOT / "dtwin_project" / "settings.py").exists():
        pytest.skip("dtwin_project/settings.py does not exist yet")
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        # the command touches neither the database nor secrets, but settings import needs them
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://unused@127.0.0.1:1/unused"),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "test-only-secret-key"),
    }
    command = [sys.executable, "manage.py", "run_cmms_simulator", "--port", "0", "--token", TOKEN]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("CMMS simulator listening on http://127.0.0.1:"), line
        base_url = line.rsplit(" ", 1)[1]
        response = requests.get(f"{base_url}/assets/{SEED_ASSET}", headers=AUTH, timeout=5)
        assert response.json()["name"] == "Feed pump P-101"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)

    assert process.returncode == 0
    assert "Traceback" not in stderr
