"""`manage.py run_cmms_simulator`: serve the CMMS simulator in the foreground."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cmms.simulator.server import DEFAULT_DATA_PATH, CmmsSimulator, load_data


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into KeyboardInterrupt so both signals stop the server the same way."""
    raise KeyboardInterrupt


class Command(BaseCommand):
    """Run the CMMS simulator (demo data by default) until SIGTERM or SIGINT."""

    help = "Run the CMMS simulator: a local HTTP CMMS with demo data, for the demo and tests."
    requires_system_checks: list[str] = []  # the simulator needs neither models nor the DB

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare the command-line options."""
        parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
        parser.add_argument("--port", type=int, default=8081, help="port (0 picks a free one)")
        parser.add_argument(
            "--data", type=Path, default=DEFAULT_DATA_PATH, help="JSON data file to serve"
        )
        parser.add_argument(
            "--token",
            default=None,
            help="bearer token clients must send (default: settings.CMMS_TOKEN, then $CMMS_TOKEN)",
        )
        parser.add_argument("--page-size", type=int, default=50, help="items per list page")
        parser.add_argument(
            "--latency-ms", type=float, default=0, help="delay added to every contract call"
        )
        parser.add_argument(
            "--record", type=Path, default=None, help="append each effective POST to this JSONL"
        )
        parser.add_argument("--verbose", action="store_true", help="log every request")

    def handle(self, *args: Any, **options: Any) -> None:
        """Start the simulator and serve until interrupted."""
        token = (
            options["token"]
            or getattr(settings, "CMMS_TOKEN", None)
            or os.environ.get("CMMS_TOKEN")
        )
        if not token:
            raise CommandError("No token: pass --token or set CMMS_TOKEN.")
        try:
            simulator = CmmsSimulator(
                data=load_data(options["data"]),
                token=token,
                host=options["host"],
                port=options["port"],
                page_size=options["page_size"],
                latency_ms=options["latency_ms"],
                record_path=options["record"],
                verbose=options["verbose"],
            )
            simulator.start()
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot start the CMMS simulator: {exc}") from exc

        self.stdout.write(f"CMMS simulator listening on {simulator.base_url}")
        self.stdout.flush()

        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            while True:
                time.sleep(3600)  # the work happens in the server's threads
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            simulator.stop()
        self.stdout.write("CMMS simulator stopped")
