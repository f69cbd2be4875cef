"""Sales and Marketing import files from the admin (issue 12): both groups may see and start
import jobs, Marketing may also delete them (Sales deletes nothing); what a job may import still
follows the group's own permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ACTIONS = {"Sales": ("view", "add"), "Marketing": ("view", "add", "delete")}


def _permissions(apps, actions):
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.filter(
        content_type__app_label="campaigns",
        codename__in=[f"{action}_importjob" for action in actions],
    )


def grant(apps, schema_editor):
    app_config = apps.get_app_config("campaigns")
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
        ("campaigns", "0009_import_jobs"),
        ("leads", "0002_role_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
