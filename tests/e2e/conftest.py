"""End-to-end fixtures: a real `manage.py qcluster` process against the test database."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import CMMS_TEST_TOKEN

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the test database the test process uses."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


class QCluster:
    """A qcluster subprocess in its own process group (so SIGKILL takes all its children)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> "QCluster":
        """Start the cluster."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        """SIGKILL the whole cluster: no clean-up, as a crash or the OOM killer would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), then SIGKILL whatever is left."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        if self.proc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def log(self) -> str:
        """What the cluster printed."""
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def qcluster_factory(
    transactional_db, cmms_sim, data_dir, tmp_path
) -> Iterator[Callable[..., QCluster]]:
    """Start qcluster processes wired to the test DB, the simulator and DATA_DIR."""
    clusters: list[QCluster] = []

    def start(**extra_env: str) -> QCluster:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CMMS_BASE_URL": cmms_sim.base_url,
            "CMMS_TOKEN": CMMS_TEST_TOKEN,
            "DATA_DIR": str(data_dir),
            # django-q2 signs tasks with the secret key: the worker must share the intake's.
            "SECRET_KEY": settings.SECRET_KEY,
            "CMMS_MAX_RETRIES": "2",
            "CMMS_BACKOFF_FACTOR": "0.05",
            "CMMS_READ_TIMEOUT": "5",
            "Q_WORKERS": "2",
            "Q_POLL": "0.05",
            "Q_TIMEOUT": "20",
            "Q_RETRY": "30",
            "JOB_LEASE_SECONDS": "25",
            "CONN_MAX_AGE": "0",
            **extra_env,
        }
        cluster = QCluster(env, tmp_path / f"qcluster-{len(clusters)}.log").start()
        clusters.append(cluster)
        return cluster

    yield start
    for cluster in clusters:
        cluster.stop()
    connection.close()


def wait_for(
    predicate: Callable[[], object],
    *,
    timeout: float,
    what: str,
    log: Callable[[], str] | None = None,
) -> object:
    """Poll until `predicate()` is truthy; fail with `what` (and the cluster log) on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    detail = f"\n--- qcluster log ---\n{log()[-4000:]}" if log else ""
    pytest.fail(f"timed out after {timeout}s waiting for {what}{detail}")
