"""manage.py demo_setup: logins, an API token and demo reliability data for a first `make run`."""

import secrets
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from cmms.models import Asset, FailureType
from cmms.simulator.server import load_data
from predictions.models import ApiClient, ApiToken, AssetFailureType, EtaBeta, ParameterSource
from predictions.roles import planner_group_ensure

# The simulator's gearbox with planner-entered Weibull parameters: η = 300 h, β = 2 gives
# R(7 days = 168 h) = exp(-(168/300)^2) = 0.731, below the default work-request threshold 0.8.
DEMO_GEARBOX = "58745652-b1b0-4104-9db6-b1d8b3850756"
DEMO_BEARING_WEAR = "702ab05a-7427-4a36-a298-0331bd56510a"
DEMO_ETA_HOURS, DEMO_BETA = 300.0, 2.0


def _password(path: Path) -> str:
    """The password kept in `path`, generated on first use."""
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


class Command(BaseCommand):
    """Ensure admin and planner logins, a demo API token and the demo gearbox's parameters."""

    help = "Create the demo logins, a demo API token (printed last) and demo reliability data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password-dir", default=".local", help="Where generated passwords are kept."
        )

    def handle(self, *args: Any, password_dir: str, **options: Any) -> None:
        users = get_user_model()
        logins = []
        for username, superuser in (("admin", True), ("planner", False)):
            path = Path(password_dir) / f"{username}-password"
            password = _password(path)
            user, _ = users.objects.get_or_create(
                username=username, defaults={"is_staff": True, "is_superuser": superuser}
            )
            user.set_password(password)
            user.save()
            if not superuser:
                user.groups.add(planner_group_ensure())
            logins.append(f"{username} / {password}")
        self._demo_reliability_data()
        client, _ = ApiClient.objects.get_or_create(name="demo")
        _, raw = ApiToken.issue(client=client)
        self.stdout.write(f"Admin logins: {'   '.join(logins)}   (passwords in {password_dir}/)")
        self.stdout.write("API token for the `demo` client (send as 'Authorization: Token …'):")
        self.stdout.write(raw)

    def _demo_reliability_data(self) -> None:
        """Planner-entered Weibull parameters for the simulator's gearbox and bearing wear."""
        data = load_data()
        asset = next(a for a in data["assets"] if a["asset_id"] == DEMO_GEARBOX)
        failure = next(
            f for f in data["failure_types"] if f["failure_type_id"] == DEMO_BEARING_WEAR
        )
        gearbox, _ = Asset.objects.get_or_create(
            asset_id=DEMO_GEARBOX,
            defaults={"name": asset["name"], "description": asset.get("description", "")},
        )
        bearing, _ = FailureType.objects.get_or_create(
            failure_type_id=DEMO_BEARING_WEAR,
            defaults={"name": failure["name"], "description": failure.get("description", "")},
        )
        aft, _ = AssetFailureType.objects.get_or_create(asset=gearbox, failure_type=bearing)
        EtaBeta.objects.get_or_create(
            asset_failure_type=aft,
            source=ParameterSource.MANUAL,
            defaults={"eta_hours": DEMO_ETA_HOURS, "beta": DEMO_BETA},
        )
