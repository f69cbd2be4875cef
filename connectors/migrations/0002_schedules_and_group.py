"""The connectors' beat entries (editable in the admin) and the group that may set them up.

Every five minutes the sweep queues again the deliveries whose task was lost; once a day the
delivery log older than 30 days is deleted. Members of "Connectors" (and superusers) manage
connectors; Marketing maps the shops' unknown discount codes to coupons."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SCHEDULES = [
    ("Sweep connector deliveries", "connectors.tasks.sweep_deliveries", 5, "minutes", 4 * 60),
    ("Purge old connector deliveries", "connectors.tasks.purge_deliveries", 1, "days", 3600),
]
GRANTS = {
    "Connectors": ["manage_connectors", "view_discountcode", "change_discountcode"],
    "Marketing": ["view_discountcode", "change_discountcode"],
}


def create_schedules(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, period, expires in SCHEDULES:
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={"task": task, "interval": interval, "expire_seconds": expires},
        )


def remove_schedules(apps, schema_editor):
    names = [s[0] for s in SCHEDULES]
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=names).delete()


def grant(apps, schema_editor):
    app_config = apps.get_app_config("connectors")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="connectors", codename__in=codenames
            )
        )


def revoke(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Connectors").delete()


def forward(apps, schema_editor):
    create_schedules(apps, schema_editor)
    grant(apps, schema_editor)


def backward(apps, schema_editor):
    remove_schedules(apps, schema_editor)
    revoke(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("connectors", "0001_initial"),
        ("leads", "0002_role_groups"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(forward, backward)]
