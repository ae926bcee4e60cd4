"""manage.py import_failures PATH: failure history from CSV (format in docs/reliability.md)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from predictions import services


class Command(BaseCommand):
    """Import failure and survival times; print row-numbered errors; exit 1 if any."""

    help = (
        "Import failure history from a CSV with columns asset_id, failure_type_id, "
        "maintenance_end_time, failure_start_time, censored_at (one of the last two per row)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="CSV file, UTF-8, header on line 1")
        parser.add_argument("--dry-run", action="store_true", help="Validate only; store nothing.")
        parser.add_argument(
            "--refit",
            action="store_true",
            help="Refit the affected AFTs now instead of waiting for the queued refit tasks.",
        )

    def handle(self, *args: Any, path: Path, dry_run: bool, refit: bool, **options: Any) -> None:
        try:
            with path.open(newline="", encoding="utf-8-sig") as stream:
                report = services.failure_observations_import(stream=stream, dry_run=dry_run)
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        for line, message in report.errors:
            self.stderr.write(f"{path}:{line}: {message}")
        verb = "valid" if dry_run else "imported"
        self.stdout.write(
            f"{report.created} {verb}, {report.duplicates} already known, "
            f"{len(report.errors)} errors"
        )
        if refit and not dry_run:
            for fit in services.weibull_refit_all(aft_ids=sorted(report.aft_ids)):
                self.stdout.write(_fit_line(fit))
        if report.errors:
            raise CommandError(f"{len(report.errors)} rows had errors (see above)")


def _fit_line(fit: Any) -> str:
    """One line describing a refit's outcome."""
    if fit.status == "fitted":
        return (
            f"AFT {fit.asset_failure_type_id}: η={fit.eta_hours:.1f} h, β={fit.beta:.3f} "
            f"({fit.n_failures} failures, {fit.n_censored} censored)"
        )
    return f"AFT {fit.asset_failure_type_id}: {fit.status}: {fit.message}"
