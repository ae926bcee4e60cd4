"""The `planner` group: views everything, retries jobs, tunes reliability inputs."""

from django.contrib.auth.models import Group, Permission

PLANNER_GROUP = "planner"
VIEW_APPS = ("cmms", "predictions", "workrequests", "django_q")
EXTRA_PERMISSIONS = (
    ("predictions", "retry_predictionjob"),
    # Planners enter Weibull parameters and the default reliability each maintenance restores.
    ("predictions", "add_etabeta"),
    ("predictions", "change_etabeta"),
    ("predictions", "change_assetfailuretypemaintenancelist"),
    # Planners import failure history (CSV) and correct it; a refit follows.
    ("predictions", "add_failureobservation"),
    ("predictions", "delete_failureobservation"),
    # Planners decide on work-request proposals and set thresholds.
    ("workrequests", "decide_workrequestproposal"),
    ("workrequests", "add_reliabilitythreshold"),
    ("workrequests", "change_reliabilitythreshold"),
)


def planner_group_ensure() -> Group:
    """Create or update the planner group with exactly its permissions (idempotent)."""
    group, _ = Group.objects.get_or_create(name=PLANNER_GROUP)
    view = Permission.objects.filter(
        content_type__app_label__in=VIEW_APPS, codename__startswith="view_"
    ).exclude(content_type__model="apitoken")
    extra = Permission.objects.none()
    for app_label, codename in EXTRA_PERMISSIONS:
        extra = extra | Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        )
    group.permissions.set(list(view) + list(extra))
    return group
