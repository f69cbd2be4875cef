"""Marketers map ad platforms' campaign names (issue 12): the Marketing group gets every
permission on `campaigns.CampaignAlias`; Sales and Integration read them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ACTIONS = {
    "Marketing": ("view", "add", "change", "delete"),
    "Sales": ("view",),
    "Integration": ("view",),
}


def _permissions(apps, actions):
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.filter(
        content_type__app_label="campaigns",
        codename__in=[f"{action}_campaignalias" for action in actions],
    )


def grant(apps, schema_editor):
    app_config = apps.get_app_config("campaigns")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for name, actions in ACTIONS.items():
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.add(*_permissions(apps, actions))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name, actions in ACTIONS.items():
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.remove(*_permissions(apps, actions))


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0005_campaign_aliases"),
        ("leads", "0002_role_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
