"""`make bench`: every benchmark of docs/benchmarks.md, with its reference, in one run.

Sets up and tears down its own database (`dtwin_bench` on DATABASE_URL's server or the local
cluster), gunicorn (as `make run` starts it), qcluster processes and the CMMS simulator;
prints a side-by-side table, writes bench/results/latest.json and docs/benchmarks.md.

    .venv/bin/python bench/run.py [--quick] [--no-growth] [--duration S] [--jobs N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/run.py` from anywhere imports the project
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
DOC = ROOT / "docs" / "benchmarks.md"
VENV_BIN = ROOT / ".venv" / "bin"
DB_NAME = "dtwin_bench"
SECRET_KEY = "bench-secret-key-not-for-production"  # noqa: S105 (a throwaway database)
CMMS_TOKEN = "bench-cmms-token"  # noqa: S105 (the in-process simulator)
WEB_PORT = 18765
FT = "702ab05a-7427-4a36-a298-0331bd56510a"
SEED = {
    "operation_id": ["06fad7d5-1fc6-4bd6-b00d-da274663d88a"],
    "asset_id": "06fcd7d5-1fc6-4bc6-b00d-da274663d98d",
    "failure_type_id": FT,
    "failure_start_time": "2025-10-02T10:00:00",
    "maintenance_end_time": "2025-08-16T11:00:00",
    "source_sys_time": "2025-10-16T09:00:00",
    "default_reliability": [0.9],
}
FINAL = ("done", "not_found", "error")


def log(message: str) -> None:
    """Progress on stderr, so stdout holds the table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- machine and tools ----------------------------------------------------------------------


def wrk_ensure() -> str:
    """The wrk binary; installed from Debian with apt-get when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk is missing: apt-get install -y wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk could not be installed")
    return found


def machine_info(server_url: str) -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, IndexError, ValueError):
        mem_kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
    pg = subprocess.run(
        ["psql", server_url, "-Atc", "SHOW server_version"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "postgresql": pg,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


# --- database -------------------------------------------------------------------------------


def server_url() -> str:
    """A URL of the PostgreSQL server: DATABASE_URL's, else the project's local cluster."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        url = subprocess.run(
            [str(ROOT / "scripts" / "localdb.sh"), "start"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    return url


def with_db(url: str, name: str) -> str:
    """The same server URL with another database name."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def psql(url: str, sql: str) -> str:
    """Run SQL with psql; returns its unaligned output."""
    done = subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql], capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"psql failed: {done.stderr.strip()}\n{sql}")
    return done.stdout.strip()


def database_recreate(admin_url: str) -> None:
    """Drop (if left over) and create the bench database."""
    psql(admin_url, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql(admin_url, f"CREATE DATABASE {DB_NAME}")


def database_drop(admin_url: str) -> None:
    """Drop the bench database (its connections too)."""
    with contextlib.suppress(RuntimeError):
        psql(admin_url, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


# --- processes ------------------------------------------------------------------------------


class Proc:
    """A server subprocess in its own process group, logging to bench/results/logs/."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.log_path = RESULTS / "logs" / f"{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"\n=== {datetime.now(UTC).isoformat()} {' '.join(argv)}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_text(self) -> str:
        """What the process printed."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM the group, then SIGKILL what is left."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._log.close()


_RUNNING: list[Proc] = []


@contextlib.contextmanager
def running(name: str, argv: list[str], env: dict[str, str]) -> Iterator[Proc]:
    """Run a server process for the duration of the block."""
    proc = Proc(name, argv, env)
    _RUNNING.append(proc)
    try:
        yield proc
    finally:
        proc.stop()
        _RUNNING.remove(proc)


def wait_until(predicate: Callable[[], object], *, timeout: float, what: str) -> object:
    """Poll until `predicate()` is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


def web_ready(port: int) -> bool:
    """True when gunicorn answers /healthz 200 ten times in a row (several workers up)."""
    import requests

    try:
        return all(
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
            for _ in range(10)
        )
    except requests.RequestException:
        return False


# --- the benchmark run ----------------------------------------------------------------------


class Bench:
    """One benchmark run: its database, its processes, its figures."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.server = server_url()
        self.admin_url = with_db(self.server, "postgres")
        self.db_url = with_db(self.server, DB_NAME)
        self.results: dict[str, Any] = {}
        self.sim: Any = None
        self.token = ""
        self.client_pk = 0
        self.wrk = ""
        # Set by B5: rows created before it are the generated million and stay.
        self.growth_mark: datetime | None = None

    # -- environment

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of every server process."""
        env = {
            **os.environ,
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
            "DATABASE_URL": self.db_url,
            "SECRET_KEY": SECRET_KEY,
            "DEBUG": "false",
            "CMMS_BASE_URL": self.sim.base_url,
            "CMMS_TOKEN": CMMS_TOKEN,
            "DATA_DIR": str(RESULTS / "prediction_out"),
            "PORT": str(WEB_PORT),
            "BIND_HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            # One client drives all the load: the per-client throttle would answer 429.
            "API_RATE_LIMIT": "off",
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "dtwin_project.settings",
        }
        env.pop("WEB_ACCESS_LOG", None)
        env.update(extra)
        return env

    def django_setup(self) -> None:
        """Configure Django in this process against the bench database."""
        os.environ.update(
            {
                "DATABASE_URL": self.db_url,
                "SECRET_KEY": SECRET_KEY,
                "CMMS_BASE_URL": self.sim.base_url,
                "CMMS_TOKEN": CMMS_TOKEN,
                "DATA_DIR": str(RESULTS / "prediction_out"),
                "DJANGO_SETTINGS_MODULE": "dtwin_project.settings",
                "LOG_LEVEL": "WARNING",
            }
        )
        import django

        django.setup()

    # -- lifecycle

    def run(self) -> dict[str, Any]:
        """Run every benchmark; always tear down."""
        from cmms.simulator.server import CmmsSimulator, load_data

        started = time.monotonic()
        self.wrk = wrk_ensure()
        RESULTS.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(RESULTS / "logs", ignore_errors=True)
        self.sim = CmmsSimulator(data=load_data(), token=CMMS_TOKEN).start()
        log(f"database {DB_NAME} on {urlsplit(self.server).netloc}; simulator {self.sim.base_url}")
        database_recreate(self.admin_url)
        try:
            subprocess.run(
                [str(VENV_BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=ROOT,
                env=self.env(),
                check=True,
            )
            self.django_setup()
            self.fixtures_create()
            self.b0_pgbench()
            self.queries_count()
            self.b1_intake(key="B1")
            self.b1b_replays()
            self.b2_queue()
            self.b3_drain(key="B3", latencies=(0, 50))
            self.b4_end_to_end()
            if not self.args.no_growth:
                self.b5_growth()
        finally:
            for proc in list(_RUNNING):
                proc.stop()
            from django.db import connections

            connections.close_all()
            self.sim.stop()
            database_drop(self.admin_url)
        self.results["elapsed_s"] = round(time.monotonic() - started, 1)
        return self.results

    def fixtures_create(self) -> None:
        """A client with a token, and the seed's master data mirrored from the simulator."""
        from cmms.client import CmmsClient
        from predictions import services
        from predictions.models import ApiClient, ApiToken, EndpointType

        client = ApiClient.objects.create(name="bench")
        _, self.token = ApiToken.issue(client=client)
        self.client_pk = client.pk
        job_id, _ = services.job_create(
            client=client, endpoint_type=EndpointType.ASSET_FAILURE_TYPE, data=self.validated(SEED)
        )
        cmms = CmmsClient(base_url=self.sim.base_url, token=CMMS_TOKEN)
        job = services.job_run(job_id=job_id, client=cmms)
        assert job is not None and job.status == "done", job and job.error_message
        self.jobs_clear()

    def validated(self, body: dict[str, Any]) -> dict[str, Any]:
        """A body through the endpoint's input serializer."""
        from predictions.serializers import AssetFailureTypePredictInputSerializer

        serializer = AssetFailureTypePredictInputSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def jobs_clear(self) -> None:
        """Empty the queue and the job tables (master data and B5's generated rows stay)."""
        from django.db import connection

        from predictions.models import Prediction, PredictionJob

        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE django_q_ormq, django_q_task")
            if self.growth_mark is None:
                cursor.execute("TRUNCATE predictions_prediction, predictions_predictionjob CASCADE")
                return
        # The ORM follows whatever references predictions (other apps' rows).
        Prediction.objects.filter(job__created_at__gte=self.growth_mark).delete()
        PredictionJob.objects.filter(created_at__gte=self.growth_mark).delete()

    def job_count(self) -> int:
        """Rows in the job table."""
        from predictions.models import PredictionJob

        return PredictionJob.objects.count()

    # -- B0

    def b0_pgbench(self) -> None:
        """B0: pgbench single-row inserts into the job table, 4 clients."""
        log("B0 pgbench inserts, 4 clients")
        done = subprocess.run(
            [
                "pgbench",
                "-n",
                "-c",
                "4",
                "-j",
                "2",
                "-T",
                str(self.args.duration),
                "-D",
                f"client_id={self.client_pk}",
                "-f",
                str(BENCH / "pgbench_insert.sql"),
                self.db_url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        tps = float(re.search(r"tps = ([\d.]+)", done.stdout).group(1))
        latency = float(re.search(r"latency average = ([\d.]+) ms", done.stdout).group(1))
        self.results["B0"] = {"tps": round(tps, 1), "latency_avg_ms": latency}
        self.jobs_clear()

    # -- queries per request / job

    def queries_count(self) -> None:
        """Queries per new request, per replay (in process, warm) and per job (pipeline)."""
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from cmms.client import CmmsClient
        from predictions import services

        http = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {self.token}")

        def post(body: dict[str, Any]) -> tuple[int, str]:
            with CaptureQueriesContext(connection) as ctx:
                response = http.post(
                    "/asset_failure_type_predict", data=body, content_type="application/json"
                )
            assert response.status_code == 202, response.content
            return len(ctx.captured_queries), response.json()["prediction_id"]

        post({**SEED, "source_sys_time": "2019-01-01T00:00:00Z"})  # warm: auth, caches
        new, job_id = post({**SEED, "source_sys_time": "2019-01-01T00:00:01Z"})
        replay, _ = post({**SEED, "source_sys_time": "2019-01-01T00:00:01Z"})
        cmms = CmmsClient(base_url=self.sim.base_url, token=CMMS_TOKEN)
        with CaptureQueriesContext(connection) as ctx:
            job = services.job_run(job_id=uuid.UUID(job_id), client=cmms)
        assert job is not None and job.status == "done", job and job.error_message
        per_job = [q["sql"].split()[0].upper() for q in ctx.captured_queries]
        self.results["queries"] = {
            "new_request": new,
            "replay": replay,
            "job_pipeline": len(per_job),
            "job_pipeline_by_kind": {k: per_job.count(k) for k in sorted(set(per_job))},
        }
        self.jobs_clear()

    # -- B1 / B1b

    def web(self) -> contextlib.AbstractContextManager[Proc]:
        """gunicorn exactly as `make run` starts it (the Procfile's web line)."""
        argv = [
            str(VENV_BIN / "gunicorn"),
            "dtwin_project.wsgi:application",
            "--config",
            "dtwin_project/gunicorn.conf.py",
        ]
        return running("gunicorn", argv, self.env())

    def wrk_run(
        self, *, connections: int, duration: int, replay: str = "0", offset: int = 0
    ) -> dict[str, Any]:
        """One wrk run against the intake; returns the Lua `done()` summary."""
        argv = [
            self.wrk,
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(BENCH / "intake.lua"),
            f"http://127.0.0.1:{WEB_PORT}/asset_failure_type_predict",
            "--",
            self.token,
            replay,
            str(offset),
        ]
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON "))
        summary = json.loads(line.removeprefix("BENCH_JSON "))
        summary["rps"] = round(summary["requests"] / (summary["duration_us"] / 1e6), 1)
        return summary

    def b1_intake(self, *, key: str) -> None:
        """B1: new bodies, 16 connections, through gunicorn."""
        log(f"{key} intake, new bodies, 16 connections, {self.args.duration}s")
        with self.web():
            wait_until(lambda: web_ready(WEB_PORT), timeout=60, what="gunicorn")
            # Warm every worker with bodies of their own (they stay; rows_added ignores them).
            self.wrk_run(connections=16, duration=3, offset=10_000_000)
            before = self.job_count()
            summary = self.wrk_run(connections=16, duration=self.args.duration)
            summary["rows_added"] = self.job_count() - before
        summary["ratio_to_B0"] = round(summary["rps"] / self.results["B0"]["tps"], 3)
        self.results[key] = summary

    def replay_files(self) -> tuple[str, int]:
        """Write, per wrk thread, the body numbers B1 stored; (file prefix, how many).

        wrk may drop a generated request (a connection closed before it was written), so
        "sent" is not "stored": the replays read the stored bodies back.
        """
        from predictions.models import PredictionJob

        base, per_thread = 1577836800, 20_000_000  # as in bench/intake.lua
        seen: dict[int, list[int]] = {0: [], 1: []}
        for value in PredictionJob.objects.values_list("payload__source_sys_time", flat=True):
            offset = int(datetime.fromisoformat(value).timestamp()) - base
            tid, n = divmod(offset, per_thread)
            if tid in seen and n < 10_000_000:
                seen[tid].append(n)
        prefix = RESULTS / "replay-"
        for tid, numbers in seen.items():
            Path(f"{prefix}{tid}.txt").write_text("".join(f"{n}\n" for n in sorted(numbers)))
        return str(prefix), sum(len(v) for v in seen.values())

    def b1b_replays(self) -> None:
        """B1b: the same bodies again; the row count must not move."""
        log("B1b intake, replays of B1's bodies")
        prefix, bodies = self.replay_files()
        with self.web():
            wait_until(lambda: web_ready(WEB_PORT), timeout=60, what="gunicorn")
            self.wrk_run(connections=16, duration=3, replay=prefix)  # warm up, replays too
            before = self.job_count()
            summary = self.wrk_run(connections=16, duration=self.args.duration, replay=prefix)
            summary["rows_before"] = before
            summary["rows_after"] = self.job_count()
        summary["distinct_bodies"] = bodies
        summary["ratio_to_B1"] = round(summary["rps"] / max(self.results["B1"]["rps"], 0.1), 3)
        self.results["B1b"] = summary
        self.jobs_clear()

    # -- B2

    def qcluster(self, name: str, **env: str) -> contextlib.AbstractContextManager[Proc]:
        """A `manage.py qcluster` process."""
        return running(name, [str(VENV_BIN / "python"), "manage.py", "qcluster"], self.env(**env))

    def cluster_ready(self, proc: Proc) -> None:
        """Wait until the cluster's workers are up (it logs 'running')."""
        wait_until(
            lambda: "running" in proc.log_text() or proc.proc.poll() is not None,
            timeout=60,
            what=f"{proc.name} to start",
        )
        if proc.proc.poll() is not None:
            raise RuntimeError(f"{proc.name} exited:\n{proc.log_text()[-3000:]}")
        time.sleep(1.0)

    def b2_queue(self) -> None:
        """B2: django-q2 draining N no-op tasks: our Q_CLUSTER, then django-q2's defaults."""
        from django.db import transaction
        from django_q.models import OrmQ
        from django_q.tasks import async_task

        n = self.args.tasks
        out: dict[str, Any] = {"tasks": n}
        for label, env in [
            ("ours", {}),
            ("defaults", {"DJANGO_SETTINGS_MODULE": "bench.settings_qdefaults"}),
        ]:
            log(f"B2 queue floor, {n} no-op tasks, {label} settings")
            self.jobs_clear()
            with self.qcluster(f"qcluster-b2-{label}", LOG_LEVEL="INFO", **env) as proc:
                self.cluster_ready(proc)
                with transaction.atomic():
                    for _ in range(n):
                        async_task("bench.tasks.noop")
                t0 = time.monotonic()
                wait_until(lambda: not OrmQ.objects.exists(), timeout=600, what=f"B2 {label} drain")
                elapsed = time.monotonic() - t0
            out[label] = {"seconds": round(elapsed, 2), "tasks_per_s": round(n / elapsed, 1)}
        out["ratio"] = round(out["ours"]["tasks_per_s"] / out["defaults"]["tasks_per_s"], 2)
        self.results["B2"] = out
        self.jobs_clear()

    # -- B3

    def jobs_submit(self, n: int, *, offset: int) -> tuple[datetime, datetime]:
        """Create n distinct jobs (and their tasks) in one transaction; (start, commit) times."""
        from django.db import transaction
        from django.utils import timezone

        from predictions import services
        from predictions.models import ApiClient, EndpointType

        client = ApiClient.objects.get(pk=self.client_pk)
        base = datetime(2021, 1, 1, tzinfo=UTC) + timedelta(seconds=offset)
        mark = timezone.now()
        with transaction.atomic():
            for i in range(n):
                body = {**SEED, "source_sys_time": (base + timedelta(seconds=i)).isoformat()}
                services.job_create(
                    client=client,
                    endpoint_type=EndpointType.ASSET_FAILURE_TYPE,
                    data=self.validated(body),
                )
        return mark, timezone.now()

    def jobs_drained(
        self, n: int, mark: datetime, since: datetime, timeout: float
    ) -> dict[str, Any]:
        """Wait until the n jobs created after `mark` are final; seconds from `since` to last."""
        from django.db.models import Count, Max

        from predictions.models import PredictionJob

        jobs = PredictionJob.objects.filter(created_at__gte=mark)
        wait_until(
            lambda: jobs.filter(status__in=FINAL).count() >= n,
            timeout=timeout,
            what=f"{n} jobs to finish",
        )
        by_status = dict(jobs.values_list("status").annotate(c=Count("pk")))
        last = jobs.aggregate(m=Max("finished_at"))["m"]
        return {"by_status": by_status, "seconds": (last - since).total_seconds()}

    def b3_drain(self, *, key: str, latencies: tuple[int, ...]) -> None:
        """B3: N real jobs through the pipeline, simulator at each latency."""
        from django_q.conf import Conf

        n = self.args.jobs
        workers = int(Conf.WORKERS)
        out: dict[str, Any] = {"jobs": n, "workers": workers}
        for latency in latencies:
            log(f"{key} worker drain, {n} jobs, simulator {latency} ms")
            self.jobs_clear()
            self.sim.set_latency(latency)
            calls_before = self.sim_calls()
            with self.qcluster(f"qcluster-{key.lower()}-{latency}ms", LOG_LEVEL="INFO") as proc:
                self.cluster_ready(proc)
                mark, since = self.jobs_submit(n, offset=latency * 1_000_000)
                drained = self.jobs_drained(n, mark, since, timeout=600)
            calls = (self.sim_calls() - calls_before) / n
            rate = n / drained["seconds"]
            row: dict[str, Any] = {
                "jobs_per_s": round(rate, 1),
                "seconds": round(drained["seconds"], 2),
                "by_status": drained["by_status"],
                "cmms_calls_per_job": round(calls, 2),
            }
            if latency:
                bound = workers / (calls * latency / 1000)
                row["bound_jobs_per_s"] = round(bound, 1)
                row["ratio_to_bound"] = round(rate / bound, 3)
            if "B2" in self.results:
                row["ratio_to_B2"] = round(rate / self.results["B2"]["ours"]["tasks_per_s"], 3)
            out[f"{latency}ms"] = row
        self.sim.set_latency(0)
        self.results[key] = out
        self.jobs_clear()

    def sim_calls(self) -> int:
        """Contract calls the simulator has answered so far."""
        return int(self.sim.request_counts()["total"])

    # -- B4

    def b4_end_to_end(self) -> None:
        """B4: open-loop POSTs at half of B3's 50 ms capacity; 202 → done from job timestamps."""
        import requests
        from django.db.models import F
        from django.utils import timezone

        from predictions.models import PredictionJob

        capacity = self.results["B3"]["50ms"]["jobs_per_s"]
        rate = max(1.0, capacity / 2)
        duration = self.args.duration
        total = int(rate * duration)
        log(f"B4 end to end: {total} requests at {rate:.1f}/s, simulator 50 ms")
        self.jobs_clear()
        self.sim.set_latency(50)
        statuses: list[int] = []
        lock = threading.Lock()
        mark = timezone.now()
        jobs = PredictionJob.objects.filter(created_at__gte=mark)

        def sender(index: int, threads: int, start: float) -> None:
            session = requests.Session()
            session.headers["Authorization"] = f"Token {self.token}"
            for i in range(index, total, threads):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                when = datetime(2022, 1, 1, tzinfo=UTC) + timedelta(seconds=i)
                body = {**SEED, "source_sys_time": when.isoformat()}
                response = session.post(
                    f"http://127.0.0.1:{WEB_PORT}/asset_failure_type_predict", json=body, timeout=10
                )
                with lock:
                    statuses.append(response.status_code)

        with self.web(), self.qcluster("qcluster-b4", LOG_LEVEL="INFO") as proc:
            wait_until(lambda: web_ready(WEB_PORT), timeout=60, what="gunicorn")
            self.cluster_ready(proc)
            start = time.monotonic() + 0.2
            threads = [
                threading.Thread(target=sender, args=(i, 8, start), daemon=True) for i in range(8)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wait_until(
                lambda: jobs.filter(status__in=FINAL).count() >= total,
                timeout=300,
                what="B4 jobs to finish",
            )
        self.sim.set_latency(0)
        durations = sorted(
            (d.total_seconds() * 1000)
            for d in jobs.annotate(d=F("finished_at") - F("created_at")).values_list("d", flat=True)
        )
        q = statistics.quantiles(durations, n=100)
        self.results["B4"] = {
            "rate_per_s": round(rate, 1),
            "requests": total,
            "non_202": sum(1 for s in statuses if s != 202),
            "done": jobs.filter(status="done").count(),
            "p50_ms": round(q[49], 1),
            "p95_ms": round(q[94], 1),
            "max_ms": round(durations[-1], 1),
        }
        self.jobs_clear()

    # -- B5

    def columns(self, table: str) -> list[str]:
        """The table's column names."""
        from django.db import connection

        with connection.cursor() as cursor:
            return [c.name for c in connection.introspection.get_table_description(cursor, table)]

    def template_job(self) -> uuid.UUID:
        """A real job run to `done` through the pipeline: the row B5 copies."""
        from cmms.client import CmmsClient
        from predictions import services
        from predictions.models import ApiClient, EndpointType

        client = ApiClient.objects.get(pk=self.client_pk)
        body = {**SEED, "source_sys_time": "2019-06-01T00:00:00Z"}
        job_id, _ = services.job_create(
            client=client, endpoint_type=EndpointType.ASSET_FAILURE_TYPE, data=self.validated(body)
        )
        cmms = CmmsClient(base_url=self.sim.base_url, token=CMMS_TOKEN)
        job = services.job_run(job_id=job_id, client=cmms)
        assert job is not None and job.status == "done", job and job.error_message
        return job_id

    def b5_growth(self) -> None:
        """B5: B1 and B3 again with 1,000,000 existing jobs and predictions."""
        from django.db import connection

        rows = self.args.growth_rows
        log(f"B5 growth: generating {rows:,} jobs and predictions")
        t0 = time.monotonic()
        template_job = self.template_job()
        with connection.cursor() as cursor:
            # Copies of one real job and its prediction (so columns other engineers add come
            # along); each copy's prediction id is known up front, so no UPDATE pass.
            cursor.execute(
                clone_sql(
                    "predictions_predictionjob",
                    self.columns("predictions_predictionjob"),
                    {
                        "job_id": "gen_random_uuid()",
                        "request_hash": "md5('b5-' || i) || md5('b5x' || i)",
                        "prediction_id": "md5('b5p' || i)::uuid",
                        "created_at": "now() - make_interval(secs => i)",
                        "updated_at": "now() - make_interval(secs => i)",
                        "started_at": "now() - make_interval(secs => i)",
                        "finished_at": "now() - make_interval(secs => i)",
                    },
                    "t.job_id = %s",
                ),
                [rows, template_job],
            )
            cursor.execute(
                clone_sql(
                    "predictions_prediction",
                    self.columns("predictions_prediction"),
                    {
                        "prediction_id": "j.prediction_id",
                        "job_id": "j.job_id",
                        "time": "j.created_at",
                        "prediction_future_time": "j.created_at + interval '7 days'",
                        "created_at": "j.created_at",
                        "cmms_posted_at": "j.created_at",
                    },
                    "t.job_id = %s",
                    source="predictions_predictionjob j "
                    "WHERE j.job_id <> t.job_id AND j.prediction_id IS NOT NULL AND",
                ),
                [template_job],
            )
        psql(self.db_url, "VACUUM ANALYZE")
        self.growth_mark = datetime.now(UTC)
        generated = time.monotonic() - t0
        log(f"B5 generated in {generated:.0f}s")
        keep = {k: self.results[k] for k in ("B1", "B3")}
        self.b1_intake(key="B1")
        b1_big = self.results["B1"]
        self.results["B1"] = keep["B1"]
        self.b3_drain(key="B3", latencies=(0, 50))
        b3_big = self.results["B3"]
        self.results["B3"] = keep["B3"]
        self.results["B5"] = {
            "existing_rows": rows,
            "generate_s": round(generated, 1),
            "B1": b1_big,
            "B3": b3_big,
            "B1_ratio": round(b1_big["rps"] / keep["B1"]["rps"], 3),
            "B3_0ms_ratio": round(b3_big["0ms"]["jobs_per_s"] / keep["B3"]["0ms"]["jobs_per_s"], 3),
            "B3_50ms_ratio": round(
                b3_big["50ms"]["jobs_per_s"] / keep["B3"]["50ms"]["jobs_per_s"], 3
            ),
        }


def clone_sql(
    table: str, columns: list[str], overrides: dict[str, str], where: str, source: str = ""
) -> str:
    """INSERT copies of a template row `t` (selected by `where`), some columns overridden.

    Without `source` the copies come from generate_series(1, %s) AS i; with it, one copy
    per row of `source` (a FROM item ending in WHERE … AND).
    """
    # Identifiers come from the database's own catalogue, values are parameters.
    select = ", ".join(overrides.get(c, f't."{c}"') for c in columns)
    cols = ", ".join(f'"{c}"' for c in columns)
    head = f"INSERT INTO {table} ({cols}) SELECT {select} FROM {table} t, "  # noqa: S608
    if source:
        return f"{head}{source} {where}"
    return f"{head}generate_series(1, %s) AS i WHERE {where}"


# --- report ---------------------------------------------------------------------------------


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def table_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(benchmark, figure, reference, ratio, target, met) rows."""
    rows: list[tuple[str, str, str, str, str, str]] = []
    b0 = r["B0"]
    rows.append(("B0 pgbench INSERT, 4 clients", f"{b0['tps']:.0f} tx/s", "—", "—", "floor", ""))
    b1 = r["B1"]
    rows.append(
        (
            "B1 intake new bodies, 16 conn",
            f"{b1['rps']:.0f} req/s; p50 {b1['p50_ms']:.1f} ms, p99 {b1['p99_ms']:.1f} ms; "
            f"non-2xx {b1['non2xx']}",
            f"B0 {b0['tps']:.0f}",
            f"{b1['ratio_to_B0']:.2f}×",
            "≥ 0.25×, p99 < 25 ms, 0 non-2xx",
            _met(b1["ratio_to_B0"] >= 0.25 and b1["p99_ms"] < 25 and b1["non2xx"] == 0),
        )
    )
    b1b = r["B1b"]
    same = b1b["rows_before"] == b1b["rows_after"]
    rows.append(
        (
            "B1b intake replays, 16 conn",
            f"{b1b['rps']:.0f} req/s; p99 {b1b['p99_ms']:.1f} ms; "
            f"rows {b1b['rows_before']} → {b1b['rows_after']}",
            f"B1 {b1['rps']:.0f}",
            f"{b1b['ratio_to_B1']:.2f}×",
            "≥ 1.5×, no row added",
            _met(b1b["ratio_to_B1"] >= 1.5 and same and b1b["non2xx"] == 0),
        )
    )
    q = r["queries"]
    rows.append(
        (
            "Queries per request",
            f"new {q['new_request']}, replay {q['replay']}",
            "—",
            "—",
            "≤ 2, 1",
            _met(q["new_request"] <= 2 and q["replay"] <= 1),
        )
    )
    kinds = ", ".join(f"{k} {v}" for k, v in q["job_pipeline_by_kind"].items())
    rows.append(("Queries per job (pipeline)", f"{q['job_pipeline']} ({kinds})", "—", "—", "", ""))
    b2 = r["B2"]
    rows.append(
        (
            f"B2 django-q2 no-op drain, {b2['tasks']} tasks",
            f"ours {b2['ours']['tasks_per_s']:.0f} tasks/s",
            f"defaults {b2['defaults']['tasks_per_s']:.0f}",
            f"{b2['ratio']:.2f}×",
            "≥ 5×",
            _met(b2["ratio"] >= 5),
        )
    )
    rows.extend(_b3_rows("B3", r["B3"], b2["ours"]["tasks_per_s"]))
    if "B4" in r:
        b4 = r["B4"]
        rows.append(
            (
                f"B4 end to end at {b4['rate_per_s']:.0f} req/s (50 ms CMMS)",
                f"p50 {b4['p50_ms']:.0f} ms, p95 {b4['p95_ms']:.0f} ms; "
                f"{b4['done']}/{b4['requests']} done",
                "—",
                "—",
                "p95 ≤ 1 s",
                _met(b4["p95_ms"] <= 1000 and b4["done"] == b4["requests"]),
            )
        )
    if "B5" in r:
        b5 = r["B5"]
        rows.append(
            (
                f"B5 B1 with {b5['existing_rows']:,} rows",
                f"{b5['B1']['rps']:.0f} req/s; p99 {b5['B1']['p99_ms']:.1f} ms",
                f"B1 {b1['rps']:.0f}",
                f"{b5['B1_ratio']:.2f}×",
                "≥ 0.9×",
                _met(b5["B1_ratio"] >= 0.9),
            )
        )
        for lat in ("0ms", "50ms"):
            ratio = b5[f"B3_{lat}_ratio"]
            rows.append(
                (
                    f"B5 B3 {lat} with {b5['existing_rows']:,} rows",
                    f"{b5['B3'][lat]['jobs_per_s']:.0f} jobs/s",
                    f"B3 {r['B3'][lat]['jobs_per_s']:.0f}",
                    f"{ratio:.2f}×",
                    "≥ 0.9×",
                    _met(ratio >= 0.9),
                )
            )
    return rows


def _b3_rows(
    key: str, b3: dict[str, Any], b2_ours: float
) -> list[tuple[str, str, str, str, str, str]]:
    rows = []
    zero = b3["0ms"]
    rows.append(
        (
            f"{key} worker drain, {b3['jobs']} jobs, CMMS 0 ms",
            f"{zero['jobs_per_s']:.0f} jobs/s ({zero['cmms_calls_per_job']:.0f} CMMS call/job)",
            f"B2 {b2_ours:.0f}",
            f"{zero['ratio_to_B2']:.2f}×",
            "≥ 0.5× B2",
            _met(zero["ratio_to_B2"] >= 0.5 and set(zero["by_status"]) == {"done"}),
        )
    )
    fifty = b3["50ms"]
    rows.append(
        (
            f"{key} worker drain, {b3['jobs']} jobs, CMMS 50 ms",
            f"{fifty['jobs_per_s']:.0f} jobs/s",
            f"bound {fifty['bound_jobs_per_s']:.0f} ({b3['workers']} workers)",
            f"{fifty['ratio_to_bound']:.2f}×",
            "≥ 0.8× bound",
            _met(fifty["ratio_to_bound"] >= 0.8 and set(fifty["by_status"]) == {"done"}),
        )
    )
    return rows


def table_markdown(rows: list[tuple[str, ...]]) -> str:
    """The rows as a Markdown table."""
    head = ("benchmark", "figure", "reference", "ratio", "target", "met")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def table_text(rows: list[tuple[str, ...]]) -> str:
    """The rows as a plain aligned table for the terminal."""
    head = ("benchmark", "figure", "reference", "ratio", "target", "met")
    all_rows = [head, *rows]
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*(c.replace("**", "") for c in row)) for row in rows]
    return "\n".join(out)


BEGIN = "<!-- bench:begin (written by bench/run.py; edit outside these markers) -->"
END = "<!-- bench:end -->"


def doc_write(results: dict[str, Any], rows: list[tuple[str, ...]]) -> None:
    """Replace the generated block of docs/benchmarks.md (the rest of the file is kept)."""
    m = results["machine"]
    block = "\n".join(
        [
            BEGIN,
            f"Latest run: {results['date']}, `{results['command']}` "
            f"({results['elapsed_s']:.0f} s in all).",
            "",
            f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory_gib']} GiB RAM, "
            f"PostgreSQL {m['postgresql']}, Python {m['python']}, Linux {m['kernel']}. "
            "Shared with other work: absolute figures are noisy, ratios hold better.",
            "",
            table_markdown(rows),
            "",
            "Raw figures: `bench/results/latest.json` (git-ignored).",
            END,
        ]
    )
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)


def main() -> int:
    """Parse the options, run, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N, 5 s runs, no B5")
    parser.add_argument("--no-growth", action="store_true", help="skip B5")
    parser.add_argument("--duration", type=int, default=None, help="seconds per load run")
    parser.add_argument("--jobs", type=int, default=None, help="jobs per B3 drain")
    parser.add_argument("--tasks", type=int, default=None, help="no-op tasks per B2 drain")
    parser.add_argument("--growth-rows", type=int, default=1_000_000, help="rows for B5")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite the doc")
    args = parser.parse_args()
    if args.quick:
        args.no_growth = True
    args.duration = args.duration or (5 if args.quick else 12)
    args.jobs = args.jobs or (200 if args.quick else 1000)
    args.tasks = args.tasks or (500 if args.quick else 2000)
    command = "make bench" + (
        " BENCH_ARGS='" + " ".join(sys.argv[1:]) + "'" if sys.argv[1:] else ""
    )

    bench = Bench(args)
    results = bench.run()
    results["machine"] = machine_info(bench.server)
    results["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    results["command"] = command
    results["options"] = {
        "duration_s": args.duration,
        "jobs": args.jobs,
        "tasks": args.tasks,
        "growth_rows": None if args.no_growth else args.growth_rows,
    }
    rows = table_rows(results)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table_text(rows))
    if not args.no_doc:
        doc_write(results, rows)
        log(f"wrote {DOC.relative_to(ROOT)} and bench/results/latest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
