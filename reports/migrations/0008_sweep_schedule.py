"""The sweeper's beat entry (editable in the admin): every five minutes it sends again the jobs
of saved reports that nobody is working on (reports.services.reports_sweep)."""

from django.db import migrations

NAME = "Sweep abandoned reports"


def create_schedules(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_five, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "reports.tasks.sweep_reports",
            "interval": every_five,
            # A sweep that could not start before the next one is due is dropped: sweeps would
            # only pile up while the workers are away.
            "expire_seconds": 4 * 60,
            "description": "Queue again the reports pending or running with nobody on them.",
        },
    )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0007_report_claims"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create_schedules, remove_schedules)]
