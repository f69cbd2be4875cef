"""The weekly verdict's beat entry (editable in the admin): Monday morning, after the weekly
reports (06:30) and the daily run that caches yesterday's figures (06:00)."""

from django.conf import settings
from django.db import migrations

NAME = "Weekly verdict"


def create_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="7", day_of_month="*", day_of_week="1", month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "reports.tasks.send_weekly_verdict",
            "crontab": crontab,
            # A verdict that could not start the same day is skipped: it would be old news.
            "expire_seconds": 12 * 3600,
            "description": "Email (and post to Slack) last week's verdict per channel.",
        },
    )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0021_verdict_deliveries"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create_schedules, remove_schedules)]
