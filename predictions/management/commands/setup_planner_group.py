"""manage.py setup_planner_group [--user NAME]: the planner group, optionally with a user in it."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from predictions.roles import planner_group_ensure


class Command(BaseCommand):
    """Create/refresh the `planner` group; optionally add a staff user to it."""

    help = "Create or refresh the planner group (also done after every migrate)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="Add this user (made staff) to the group.")

    def handle(self, *args: Any, user: str | None = None, **options: Any) -> None:
        group = planner_group_ensure()
        self.stdout.write(f"Group {group.name!r}: {group.permissions.count()} permissions.")
        if user:
            account = get_user_model().objects.get(username=user)
            account.is_staff = True
            account.save(update_fields=["is_staff"])
            account.groups.add(group)
            self.stdout.write(f"User {user!r} is a planner.")
