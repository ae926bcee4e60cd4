"""manage.py demo_setup: an admin login and an API token for a newcomer's first `make run`."""

import secrets
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from predictions.models import ApiClient, ApiToken


class Command(BaseCommand):
    """Ensure an `admin` superuser and a `demo` API client; print their credentials."""

    help = "Create the demo admin login and a demo API token (printed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password-file",
            default=".local/admin-password",
            help="Where the generated admin password is kept between runs.",
        )

    def handle(self, *args: Any, password_file: str, **options: Any) -> None:
        path = Path(password_file)
        if path.exists():
            password = path.read_text().strip()
        else:
            password = secrets.token_urlsafe(12)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(password + "\n")
            path.chmod(0o600)
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        user.set_password(password)
        user.save()
        client, _ = ApiClient.objects.get_or_create(name="demo")
        _, raw = ApiToken.issue(client=client)
        self.stdout.write(f"Admin login: admin / {password}   (password kept in {path})")
        self.stdout.write("API token for the `demo` client (send as 'Authorization: Token …'):")
        self.stdout.write(raw)
