"""Fault injection end to end: real PostgreSQL, real qcluster processes, the CMMS simulator.

- the worker SIGKILLed at each step boundary of the pipeline → the job completes once;
- the CMMS slow, throttling, answering HTML, truncated JSON, 50 MB, redirects → the job
  ends as the spec says and the worker keeps working;
- PostgreSQL (a throwaway instance of its own) restarted while jobs flow and requests
  arrive → 503 JSON while it is down, recovery by itself, no accepted job lost.
"""

import contextlib
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from rest_framework.test import APIClient

from predictions.models import ApiClient, ApiToken, JobStatus, Prediction, PredictionJob
from tests.conftest import CMMS_TEST_TOKEN
from tests.e2e.conftest import ROOT, QCluster, database_url, wait_for
from tests.security.servers import Gunicorn, free_port

pytestmark = [pytest.mark.e2e]

SEED = {
    "operation_id": ["06fad7d5-1fc6-4bd6-b00d-da274663d88a"],
    "asset_id": "06fcd7d5-1fc6-4bc6-b00d-da274663d98d",
    "failure_start_time": "2025-10-02T10:00:00",
    "maintenance_end_time": "2025-08-16T11:00:00",
    "source_sys_time": "2025-10-16T09:00:00",
    "default_reliability": [0.90],
}
ASSET_PATH = f"/assets/{SEED['asset_id']}"
FINAL = {JobStatus.DONE, JobStatus.NOT_FOUND, JobStatus.ERROR}
# Short lease and redelivery so a killed job is taken over in seconds.
FAST_RECOVERY = {"Q_TIMEOUT": "5", "Q_RETRY": "8", "JOB_LEASE_SECONDS": "6"}


@pytest.fixture
def http(transactional_db) -> APIClient:
    """An authenticated API client (the DB is the transactional test DB)."""
    client = ApiClient.objects.create(name="plant-faults")
    _, raw = ApiToken.issue(client=client)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return api


def submit(http: APIClient, **changes: object) -> str:
    """POST a variant of the seed request to /asset_predict; returns the job id."""
    response = http.post("/asset_predict", data={**SEED, **changes}, format="json")
    assert response.status_code == 202, response.content
    return response.json()["prediction_id"]


def status_of(job_id: str) -> str:
    """The job's current status."""
    return PredictionJob.objects.values_list("status", flat=True).get(pk=job_id)


def final_status(job_id: str) -> str | None:
    """The job's status once final, else None."""
    status = status_of(job_id)
    return status if status in FINAL else None


def assert_completed_once(job_id: str, cmms_sim, data_dir: Path) -> Prediction:
    """Done, one prediction row, one valid JSON file, one effective CMMS POST."""
    job = PredictionJob.objects.get(pk=job_id)
    assert job.status == JobStatus.DONE, job.error_message
    prediction = Prediction.objects.get(job_id=job_id)  # exactly one, or this raises
    files = sorted(p.name for p in data_dir.iterdir() if p.suffix == ".json")
    assert files == [f"{prediction.prediction_id}.json"]
    document = json.loads((data_dir / files[0]).read_text())
    assert document["prediction_id"] == str(prediction.prediction_id)
    assert document["predicted_reliability"] == prediction.predicted_reliability == 0.9
    posts = cmms_sim.posts("/asset_prediction")
    assert [p["idempotency_key"] for p in posts] == [str(prediction.prediction_id)]
    assert str(job.prediction_id) == str(prediction.prediction_id)
    return prediction


def restart_and_finish(qcluster_factory, job_id: str) -> float:
    """Start a fresh cluster; return the seconds until the job is final."""
    started = time.monotonic()
    cluster = qcluster_factory(**FAST_RECOVERY)
    wait_for(lambda: final_status(job_id), timeout=60, what="job after restart", log=cluster.log)
    return time.monotonic() - started


def test_killed_before_the_cmms_reads_the_job_completes_once(
    http, qcluster_factory, cmms_sim, data_dir
):
    cmms_sim.add_fault(method="GET", path=ASSET_PATH, delay_ms=3000, times=1)
    cluster = qcluster_factory(**FAST_RECOVERY)
    job_id = submit(http)
    wait_for(
        lambda: cmms_sim.request_count(ASSET_PATH, "GET"),
        timeout=30,
        what="first CMMS read",
        log=cluster.log,
    )
    cluster.kill()
    assert status_of(job_id) == JobStatus.PROCESSING
    assert not Prediction.objects.filter(job_id=job_id).exists()

    recovery = restart_and_finish(qcluster_factory, job_id)
    assert_completed_once(job_id, cmms_sim, data_dir)
    assert PredictionJob.objects.get(pk=job_id).attempts == 2
    print(f"\nFIGURE kill-before-reads recovery_s={recovery:.1f}")


def test_killed_after_the_prediction_row_the_same_prediction_is_completed(
    http, qcluster_factory, cmms_sim, data_dir
):
    # No CMMS call lies between the row and the file; the kill lands during the held POST,
    # and deleting the file gives the state a kill between row and file would leave.
    cmms_sim.add_fault(method="POST", path="/asset_prediction", delay_ms=3000, times=1)
    cluster = qcluster_factory(**FAST_RECOVERY)
    job_id = submit(http)
    wait_for(
        lambda: Prediction.objects.filter(job_id=job_id).exists(),
        timeout=30,
        what="prediction row",
        log=cluster.log,
    )
    cluster.kill()
    stored = Prediction.objects.get(job_id=job_id)
    (data_dir / f"{stored.prediction_id}.json").unlink(missing_ok=True)
    assert status_of(job_id) == JobStatus.PROCESSING

    recovery = restart_and_finish(qcluster_factory, job_id)
    prediction = assert_completed_once(job_id, cmms_sim, data_dir)
    assert prediction.prediction_id == stored.prediction_id  # not recomputed
    print(f"\nFIGURE kill-after-row recovery_s={recovery:.1f}")


def test_killed_after_the_file_before_the_post_it_posts_once(
    http, qcluster_factory, cmms_sim, data_dir
):
    cmms_sim.add_fault(method="POST", path="/asset_prediction", delay_ms=3000, times=1)
    cluster = qcluster_factory(**FAST_RECOVERY)
    job_id = submit(http)
    wait_for(
        lambda: any(p.suffix == ".json" for p in data_dir.iterdir()) if data_dir.exists() else 0,
        timeout=30,
        what="prediction file",
        log=cluster.log,
    )
    wait_for(
        lambda: cmms_sim.request_count("/asset_prediction", "POST"),
        timeout=10,
        what="the held POST",
        log=cluster.log,
    )
    assert cmms_sim.posts("/asset_prediction") == []  # held: not recorded yet
    cluster.kill()
    stored = Prediction.objects.get(job_id=job_id)

    recovery = restart_and_finish(qcluster_factory, job_id)
    prediction = assert_completed_once(job_id, cmms_sim, data_dir)
    assert prediction.prediction_id == stored.prediction_id
    print(f"\nFIGURE kill-after-file recovery_s={recovery:.1f}")


def test_killed_after_the_cmms_post_before_done_the_post_is_not_repeated(
    http, qcluster_factory, cmms_sim, data_dir
):
    """The CMMS recorded the POST, the worker died before writing that down: the retry
    re-sends the same Idempotency-Key and the CMMS answers with its first response."""
    cmms_sim.add_fault(method="POST", path="/asset_prediction", delay_ms=2000, times=1)
    cluster = qcluster_factory(**FAST_RECOVERY)
    job_id = submit(http)
    wait_for(
        lambda: Prediction.objects.filter(job_id=job_id).exists(),
        timeout=30,
        what="prediction row",
        log=cluster.log,
    )
    prediction = Prediction.objects.get(job_id=job_id)
    # Hold the prediction row: the worker's "posted" UPDATE waits behind this lock.
    with psycopg.connect(database_url()) as lock:
        lock.execute(
            f"SELECT 1 FROM {Prediction._meta.db_table} "  # noqa: S608 - model metadata
            f"WHERE {Prediction._meta.pk.column} = %s FOR UPDATE",
            [prediction.pk],
        )
        wait_for(lambda: cmms_sim.posts("/asset_prediction"), timeout=15, what="recorded POST")
        wait_for(
            lambda: lock.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            ).fetchone()[0],
            timeout=10,
            what="the worker blocked after the POST",
        )
        assert status_of(job_id) == JobStatus.PROCESSING
        cluster.kill()
        # The killed worker's backend still waits on the lock: end it, as a crash would.
        lock.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        lock.rollback()
    assert Prediction.objects.get(pk=prediction.pk).cmms_posted_at is None

    recovery = restart_and_finish(qcluster_factory, job_id)
    assert_completed_once(job_id, cmms_sim, data_dir)
    # Two deliveries, one effective POST: the second was answered as a replay.
    assert cmms_sim.request_count("/asset_prediction", "POST") == 2
    print(f"\nFIGURE kill-after-post recovery_s={recovery:.1f}")


# --- The CMMS misbehaving --------------------------------------------------------------

HUGE = 50 * 1024 * 1024
CMMS_FAULTS = {
    "slow-beyond-read-timeout": (
        {"method": "GET", "path": ASSET_PATH, "delay_ms": 2500},
        JobStatus.ERROR,
        "timed out",
    ),
    "slow-once": (
        {"method": "GET", "path": ASSET_PATH, "delay_ms": 2500, "times": 1},
        JobStatus.DONE,
        "",
    ),
    "429-retry-after-once": (
        {
            "method": "GET",
            "path": ASSET_PATH,
            "status": 429,
            "times": 1,
            "headers": {"Retry-After": "1"},
        },
        JobStatus.DONE,
        "",
    ),
    "429-always": (
        {"method": "GET", "path": ASSET_PATH, "status": 429, "headers": {"Retry-After": "1"}},
        JobStatus.ERROR,
        "429",
    ),
    "html-instead-of-json": (
        {
            "method": "GET",
            "path": ASSET_PATH,
            "status": 200,
            "content_type": "text/html",
            "body": "<html><body>Maintenance window</body></html>",
        },
        JobStatus.ERROR,
        "not JSON",
    ),
    "truncated-json": (
        {
            "method": "GET",
            "path": ASSET_PATH,
            "status": 200,
            "body": '{"asset_id": "06fcd7d5-1fc6-4bc6-b00d-da2',
        },
        JobStatus.ERROR,
        "not JSON",
    ),
    "connection-cut-mid-body": (
        {"method": "GET", "path": ASSET_PATH, "status": 200, "truncate": True},
        JobStatus.ERROR,
        "connection broken",
    ),
    "50-mb-body": (
        {"method": "GET", "path": ASSET_PATH, "status": 200, "huge_bytes": HUGE},
        JobStatus.ERROR,
        "larger than",
    ),
    "redirect": (
        {
            "method": "GET",
            "path": ASSET_PATH,
            "status": 302,
            "headers": {"Location": "http://evil.example.com/api/assets/x"},
        },
        JobStatus.ERROR,
        "redirects are not followed",
    ),
    "post-redirect": (
        {
            "method": "POST",
            "path": "/asset_prediction",
            "status": 307,
            "headers": {"Location": "http://evil.example.com/api/asset_prediction"},
        },
        JobStatus.ERROR,
        "redirects are not followed",
    ),
}


@pytest.mark.parametrize(("rule", "expected", "message"), CMMS_FAULTS.values(), ids=CMMS_FAULTS)
def test_a_misbehaving_cmms_ends_the_job_as_specified_and_the_worker_goes_on(
    http, qcluster_factory, cmms_sim, data_dir, rule, expected, message
):
    cmms_sim.add_fault(**rule)
    cluster = qcluster_factory(CMMS_READ_TIMEOUT="1", CMMS_TOTAL_TIMEOUT="15")
    started = time.monotonic()
    job_id = submit(http)
    wait_for(lambda: final_status(job_id), timeout=60, what="faulted job", log=cluster.log)
    elapsed = time.monotonic() - started
    job = PredictionJob.objects.get(pk=job_id)
    assert job.status == expected, job.error_message
    assert message in job.error_message
    if expected == JobStatus.ERROR:
        assert job.error_message.startswith("CMMS")
    assert elapsed < 20  # bounded: timeouts, capped retries, a capped body (not 50 MB read)
    # The worker is alive and well: the next job completes.
    cmms_sim.clear_faults()
    following = submit(http, source_sys_time="2025-10-17T09:00:00")
    wait_for(lambda: final_status(following), timeout=60, what="next job", log=cluster.log)
    assert status_of(following) == JobStatus.DONE, PredictionJob.objects.get(pk=following)
    assert cluster.proc.poll() is None
    print(f"\nFIGURE cmms-fault {expected} in {elapsed:.1f}s: {job.error_message[:160]}")


# --- PostgreSQL restarted -------------------------------------------------------------


class ThrowawayPostgres:
    """A PostgreSQL cluster of its own in a temporary folder, on a free port."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[4]))
        if not bins:
            pytest.skip("PostgreSQL server binaries not found")
        self.bin = Path(bins[-1])
        self.port = free_port()
        # Not under pytest's tmp_path: the postgres user cannot enter root's 0700 folders.
        self.dir = Path(tempfile.mkdtemp(prefix="dtwin-faultpg-"))
        self.data = self.dir / "data"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/dtwin_faults"

    def _run(self, *args: str) -> None:
        """Run a server binary, as the postgres user when we are root."""
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, cwd="/", timeout=120)

    def init(self) -> "ThrowawayPostgres":
        """initdb, configure, start, create the database."""
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n")
            conf.write("fsync = off\nmax_connections = 100\n")
        self.start()
        with psycopg.connect(
            f"postgres://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE dtwin_faults")
        return self

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"),
            "-o", f"-p {self.port}", "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Fast shutdown: active connections are cut, as in a crash or a failover."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        """Stop (if running) and delete everything."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def throwaway_pg() -> Iterator[ThrowawayPostgres]:
    """A fresh PostgreSQL, migrated, that the test may stop and start at will."""
    pg = ThrowawayPostgres().init()
    try:
        env = {**os.environ, "DATABASE_URL": pg.url}
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT, env=env, check=True, capture_output=True, timeout=180,
        )  # fmt: skip
        yield pg
    finally:
        pg.destroy()


class Load(threading.Thread):
    """Posts distinct prediction requests in a loop and records every answer."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url, self.token = url, token
        self.answers: list[tuple[float, int, dict, dict]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        import requests

        session = requests.Session()
        n = 0
        while not self.halt.is_set():
            n += 1
            body = {
                **SEED,
                "source_sys_time": f"2025-10-16T09:{n // 60 % 60:02d}:{n % 60:02d}Z",
                "failure_start_time": f"2025-10-{1 + n // 3600:02d}T10:00:00Z",
            }
            try:
                r = session.post(
                    f"{self.url}/asset_predict", json=body, timeout=15,
                    headers={"Authorization": f"Token {self.token}"},
                )  # fmt: skip
                data = r.json()
                self.answers.append((time.monotonic(), r.status_code, data, dict(r.headers)))
            except requests.RequestException as exc:
                self.answers.append((time.monotonic(), 0, {"error": str(exc)}, {}))
            time.sleep(0.05)


def test_postgres_restarted_while_jobs_flow_loses_nothing_and_answers_503_meanwhile(
    throwaway_pg, cmms_sim, data_dir, tmp_path, settings
):
    pg = throwaway_pg
    env = {
        "DATABASE_URL": pg.url,
        "SECRET_KEY": settings.SECRET_KEY,
        "CMMS_BASE_URL": cmms_sim.base_url,
        "CMMS_TOKEN": CMMS_TEST_TOKEN,
        "DATA_DIR": str(data_dir),
        "CMMS_MAX_RETRIES": "2",
        "CMMS_BACKOFF_FACTOR": "0.05",
        "Q_WORKERS": "2",
        "Q_POLL": "0.05",
        **FAST_RECOVERY,
    }
    created = subprocess.run(
        [sys.executable, "manage.py", "create_api_client", "pg-restart"],
        cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True, text=True,
    )  # fmt: skip
    token = created.stdout.strip().splitlines()[-1]
    web = Gunicorn(env, tmp_path / "gunicorn.log", workers=2).start()
    worker = QCluster({**os.environ, **env}, tmp_path / "qcluster.log").start()
    load = Load(web.url, token)
    try:
        load.start()
        time.sleep(4)
        down_at = time.monotonic()
        pg.stop()
        time.sleep(5)
        pg.start()
        up_at = time.monotonic()
        wait_for(
            lambda: any(t > up_at and status == 202 for t, status, _, _ in load.answers),
            timeout=60,
            what="the API accepting requests again",
            log=web.log,
        )
        recovered_at = next(t for t, s, _, _ in load.answers if t > up_at and s == 202)
        time.sleep(3)
    finally:
        load.halt.set()
        load.join(timeout=20)

    try:
        statuses = [status for _, status, _, _ in load.answers]
        assert 500 not in statuses and 0 not in statuses, sorted(set(statuses))
        refused = [(d, h) for _, s, d, h in load.answers if s != 202]
        assert refused, "no request arrived while PostgreSQL was down"
        for data, headers in refused:
            assert data == {"detail": "The database is unavailable; retry shortly."}
            assert headers["Content-Type"] == "application/json"
            assert int(headers["Retry-After"]) > 0
        accepted = {d["prediction_id"] for _, s, d, _ in load.answers if s == 202}

        def unfinished() -> set[str]:
            with psycopg.connect(pg.url) as conn:
                rows = conn.execute(
                    "SELECT job_id::text, status FROM predictions_predictionjob"
                ).fetchall()
            known = {job_id: status for job_id, status in rows}
            assert accepted <= set(known), "an accepted job is missing"
            return {j for j in accepted if known[j] not in FINAL}

        wait_for(lambda: not unfinished(), timeout=150, what="every job final", log=worker.log)
        finished_at = time.monotonic()
        with psycopg.connect(pg.url) as conn:
            done = conn.execute(
                "SELECT count(*) FROM predictions_predictionjob WHERE status = 'done'"
            ).fetchone()[0]
            doubles = conn.execute(
                "SELECT count(*) FROM (SELECT job_id FROM predictions_prediction "
                "GROUP BY job_id HAVING count(*) > 1) d"
            ).fetchone()[0]
        assert doubles == 0
        keys = [p["idempotency_key"] for p in cmms_sim.posts("/asset_prediction")]
        assert len(keys) == len(set(keys))
        assert worker.proc.poll() is None, "the qcluster died"
    finally:
        worker.stop()
        web.stop()
    print(
        f"\nFIGURE pg-restart requests={len(statuses)} accepted={len(accepted)} "
        f"refused_503={len(refused)} done={done} api_recovery_s={recovered_at - up_at:.1f} "
        f"down_s={up_at - down_at:.1f} all_final_after_s={finished_at - up_at:.1f}"
    )
