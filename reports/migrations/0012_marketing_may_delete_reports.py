"""Marketers may delete a saved report from its page (issue 11): the Marketing group gets
`reports.delete_report`."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    app_config = apps.get_app_config("reports")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Marketing").first()
    if group is not None:
        group.permissions.add(
            Permission.objects.get(content_type__app_label="reports", codename="delete_report")
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Marketing").first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="reports", codename="delete_report")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0011_no_campaign_labels"),
        ("leads", "0002_role_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
