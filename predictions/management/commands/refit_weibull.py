"""manage.py refit_weibull [--aft ID]: fit Weibull η, β from the failure history now."""

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from predictions import services
from predictions.management.commands.import_failures import _fit_line
from predictions.models import AssetFailureType


class Command(BaseCommand):
    """Refit one AFT, or every AFT with failure observations, and print the outcome."""

    help = "Refit Weibull parameters from the failure history (all AFTs, or --aft ID)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--aft", type=uuid.UUID, action="append", help="AFT id (aft_id); repeatable"
        )

    def handle(self, *args: Any, aft: list[uuid.UUID] | None, **options: Any) -> None:
        if aft:
            known = set(AssetFailureType.objects.filter(pk__in=aft).values_list("pk", flat=True))
            unknown = [str(aft_id) for aft_id in aft if aft_id not in known]
            if unknown:
                raise CommandError(f"unknown AFT id(s): {', '.join(unknown)}")
        fits = services.weibull_refit_all(aft_ids=aft)
        for fit in fits:
            self.stdout.write(_fit_line(fit))
        self.stdout.write(f"{len(fits)} AFTs refitted")
