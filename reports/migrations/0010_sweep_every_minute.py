"""The sweeper runs every minute (it was every five): a report asked for while Redis was away
has no job on its way, and the first sweep after Redis is back sends it. A sweep is one small
query on the reports table. An interval already edited in the admin is kept."""

from django.db import migrations

NAME = "Sweep abandoned reports"


def create_schedules(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    entry = PeriodicTask.objects.filter(name=NAME).select_related("interval").first()
    if entry is None:
        PeriodicTask.objects.create(
            name=NAME,
            task="reports.tasks.sweep_reports",
            interval=every_minute,
            expire_seconds=50,
            description="Queue again the reports pending or running with nobody on them.",
        )
    elif entry.interval and (entry.interval.every, entry.interval.period) == (5, "minutes"):
        entry.interval = every_minute
        # A sweep that could not start before the next one is due is dropped.
        entry.expire_seconds = 50
        entry.save(update_fields=["interval", "expire_seconds"])


def back_to_five_minutes(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_five, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.filter(
        name=NAME, interval__every=1, interval__period="minutes"
    ).update(interval=every_five, expire_seconds=4 * 60)


class Migration(migrations.Migration):
    dependencies = [("reports", "0009_verify_schedule")]
    operations = [migrations.RunPython(create_schedules, back_to_five_minutes)]
