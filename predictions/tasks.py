"""django-q2 entry points: take ids, call a service, own the job's final state."""

import uuid

from predictions import services


def job_run_task(job_id: str) -> str | None:
    """Run one prediction job; a second delivery of the same task does nothing."""
    job = services.job_run(job_id=uuid.UUID(job_id))
    return None if job is None else job.status


def jobs_requeue_stale_task() -> int:
    """Periodic: requeue jobs whose worker died or whose task was lost."""
    return services.jobs_requeue_stale()


def weibull_refit_task(aft_id: str) -> str | None:
    """Refit one AFT's Weibull parameters from its failure history (queued, debounced)."""
    fit = services.weibull_refit(aft_id=uuid.UUID(aft_id))
    return None if fit is None else fit.status
