"""The predictions app: jobs, the pipeline and the reliability model."""

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _planner_group_after_migrate(sender: AppConfig, **kwargs: Any) -> None:
    """Keep the planner group's permissions current after every migrate."""
    from predictions.roles import planner_group_ensure

    planner_group_ensure()


class PredictionsConfig(AppConfig):
    """App config for predictions."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "predictions"
    verbose_name = "Predictions"

    def ready(self) -> None:
        post_migrate.connect(_planner_group_after_migrate, sender=self)
