"""Work requests: low predicted reliability becomes a CMMS work request a planner approves."""

from django.apps import AppConfig


class WorkRequestsConfig(AppConfig):
    """App config for work-request proposals."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "workrequests"
    verbose_name = "Work requests"

    def ready(self) -> None:
        from predictions.signals import prediction_done
        from workrequests.receivers import propose_after_prediction

        prediction_done.connect(propose_after_prediction, dispatch_uid="workrequests.propose")
