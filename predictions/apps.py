"""The predictions app: jobs, the pipeline and the reliability model."""

from django.apps import AppConfig


class PredictionsConfig(AppConfig):
    """App config for predictions."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "predictions"
    verbose_name = "Predictions"
