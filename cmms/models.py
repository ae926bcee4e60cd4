"""Master data mirrored from the CMMS. The CMMS owns it; dtwin only copies what it needs."""

from django.db import models


class Asset(models.Model):
    """A physical asset (pump, motor, line) as the CMMS knows it."""

    asset_id = models.UUIDField(primary_key=True)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    fetched_at = models.DateTimeField(auto_now=True, help_text="When the CMMS last sent it.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name or str(self.asset_id)


class FailureType(models.Model):
    """A way an asset can fail (bearing wear, seal leak, ...)."""

    failure_type_id = models.UUIDField(primary_key=True)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    fetched_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name or str(self.failure_type_id)


class MaintenanceList(models.Model):
    """A maintenance task list (what a maintenance operation does)."""

    maintenance_list_id = models.UUIDField(primary_key=True)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    fetched_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name or str(self.maintenance_list_id)


class OperationMaintenanceList(models.Model):
    """Link: a maintenance operation carries out a maintenance list."""

    operation_id = models.UUIDField(db_index=True)
    maintenance_list = models.ForeignKey(
        MaintenanceList, on_delete=models.CASCADE, related_name="operation_links"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["operation_id", "maintenance_list"], name="uniq_operation_maintenance_list"
            )
        ]
        verbose_name = "operation ↔ maintenance list"
        verbose_name_plural = "operation ↔ maintenance lists"

    def __str__(self) -> str:
        return f"{self.operation_id} → {self.maintenance_list_id}"


class AssetMaintenanceList(models.Model):
    """Link: a maintenance list applies to an asset."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="maintenance_links")
    maintenance_list = models.ForeignKey(
        MaintenanceList, on_delete=models.CASCADE, related_name="asset_links"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "maintenance_list"], name="uniq_asset_maintenance_list"
            )
        ]
        verbose_name = "asset ↔ maintenance list"
        verbose_name_plural = "asset ↔ maintenance lists"

    def __str__(self) -> str:
        return f"{self.asset} → {self.maintenance_list}"
