"""Refunds (issue 13): Sales and Integration record them (Integration through the API) and
read them; Marketing reads them beside purchases. Nobody but a superuser deletes one (a
refund recorded by mistake), as with purchases."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ACTIONS = {"Sales": ("view", "add"), "Integration": ("view", "add"), "Marketing": ("view",)}


def _permissions(apps, actions):
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.filter(
        content_type__app_label="leads",
        codename__in=[f"{action}_refund" for action in actions],
    )


def grant(apps, schema_editor):
    app_config = apps.get_app_config("leads")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    for group in apps.get_model("auth", "Group").objects.filter(name__in=ACTIONS):
        group.permissions.add(*_permissions(apps, ACTIONS[group.name]))


def revoke(apps, schema_editor):
    for group in apps.get_model("auth", "Group").objects.filter(name__in=ACTIONS):
        group.permissions.remove(*_permissions(apps, ACTIONS[group.name]))


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0013_refund"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
