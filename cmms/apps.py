"""The CMMS app: the client for the plant's CMMS and the master data mirrored from it."""

from django.apps import AppConfig


class CmmsConfig(AppConfig):
    """App config for the CMMS mirror."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "cmms"
    verbose_name = "CMMS master data"
