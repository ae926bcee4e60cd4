"""The periodic django-q2 schedule that requeues jobs whose worker died or task was lost."""

from django.db import migrations

NAME = "dtwin: requeue stale jobs"


def schedule_create(apps, schema_editor):
    """Run predictions.tasks.jobs_requeue_stale_task every minute."""
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "predictions.tasks.jobs_requeue_stale_task",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def schedule_delete(apps, schema_editor):
    """Remove the schedule."""
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("predictions", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(schedule_create, schedule_delete)]
