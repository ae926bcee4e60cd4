"""manage.py create_api_client NAME: create (or reuse) a client and print a new token last."""

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from predictions.models import ApiClient, ApiToken


class Command(BaseCommand):
    """Create an API client and print a new token as the last line of output."""

    help = "Create an API client (or add a token to an existing one); prints the token last."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A name for the client, e.g. plant-a-scada")
        parser.add_argument(
            "--expires-in-days", type=int, default=None, help="Token lifetime (default: none)"
        )

    def handle(self, *args: Any, name: str, expires_in_days: int | None, **options: Any) -> None:
        client, created = ApiClient.objects.get_or_create(name=name)
        expires_at = None
        if expires_in_days is not None:
            expires_at = timezone.now() + timedelta(days=expires_in_days)
        _, raw = ApiToken.issue(client=client, expires_at=expires_at)
        verb = "Created client" if created else "Client exists:"
        self.stdout.write(f"{verb} {client.name!r}; new token (shown once, keep it secret):")
        self.stdout.write(raw)
