"""The periodic reports' beat entries, stored with django-celery-beat (editable in the admin)."""

import json

from django.conf import settings
from django.db import migrations

SCHEDULES = [
    # name, granularity, crontab (minute, hour, day_of_month, day_of_week), expires after (s)
    ("Daily ROI report", "daily", ("0", "6", "*", "*"), 6 * 3600),
    ("Weekly ROI report", "weekly", ("30", "6", "*", "1"), 24 * 3600),
    ("Monthly ROI report", "monthly", ("0", "7", "1", "*"), 48 * 3600),
]


def create_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, granularity, (minute, hour, day_of_month, day_of_week), expire in SCHEDULES:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute, hour=hour, day_of_month=day_of_month, day_of_week=day_of_week,
            month_of_year="*", timezone=settings.TIME_ZONE,
        )
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={
                "task": "reports.tasks.generate_periodic",
                "crontab": crontab,
                "args": json.dumps([granularity]),
                # A report that could not start within this time is skipped: the next one comes.
                "expire_seconds": expire,
                "description": f"Generate and email the {granularity} reports.",
            },
        )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[s[0] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create_schedules, remove_schedules)]
