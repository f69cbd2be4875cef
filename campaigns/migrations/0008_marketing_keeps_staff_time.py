"""Marketers keep staff time (issue 12): the Marketing group gets every permission on staff
members, their hourly rates and time entries."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = ("staffmember", "hourlyrate", "timeentry")
ACTIONS = ("view", "add", "change", "delete")


def _permissions(apps):
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.filter(
        content_type__app_label="campaigns",
        codename__in=[f"{action}_{model}" for model in MODELS for action in ACTIONS],
    )


def grant(apps, schema_editor):
    app_config = apps.get_app_config("campaigns")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    group = apps.get_model("auth", "Group").objects.filter(name="Marketing").first()
    if group is not None:
        group.permissions.add(*_permissions(apps))


def revoke(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name="Marketing").first()
    if group is not None:
        group.permissions.remove(*_permissions(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0007_staff_time"),
        ("leads", "0002_role_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
