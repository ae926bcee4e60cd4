"""A real gunicorn server in a subprocess, for tests that need real HTTP (chunked bodies,
a database that goes away, logs of the whole system)."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """`gunicorn` with the project's config, in its own process group."""

    def __init__(self, env: dict[str, str], log_path: Path, workers: int = 2) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            **env,
            "PORT": str(self.port),
            "BIND_HOST": "127.0.0.1",
            "WEB_CONCURRENCY": str(workers),
        }
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> "Gunicorn":
        """Start and wait until /healthz answers (any status)."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "dtwin_project.wsgi:application",
                "--config",
                "dtwin_project/gunicorn.conf.py",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log()[-3000:]}")
            with contextlib.suppress(requests.ConnectionError):
                requests.get(f"{self.url}/healthz", timeout=2)
                return self
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer in {timeout}s:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL the group."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def log(self) -> str:
        """What gunicorn and Django printed."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
