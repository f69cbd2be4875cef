"""The daily check's beat entry (editable in the admin): it recomputes a sample of the cached
figures from the data and logs an error for any that disagrees (reports.verify)."""

import json

from django.conf import settings
from django.db import migrations

NAME = "Verify cached figures"


def create_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # After the daily reports (06:00), so yesterday's freshly cached day can be in the sample.
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="45", hour="6", day_of_month="*", day_of_week="*", month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "reports.tasks.verify_caches",
            "crontab": crontab,
            # Ten random days of the last 400 (every cached row of each) and ten reports.
            "kwargs": json.dumps({"days": 400, "sample": 10}),
            "expire_seconds": 6 * 3600,
            "description": "Recompute a sample of the cached figures; log an error on any mismatch.",
        },
    )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0008_sweep_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create_schedules, remove_schedules)]
