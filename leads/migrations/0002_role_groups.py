"""The role groups of the product (Sales, Marketing, Integration) and their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "Sales": {
        "leads": {
            "contact": ["add", "change", "view", "merge"],
            "touchpoint": ["add", "change", "view"],
            "purchase": ["add", "change", "view"],
            "stagechange": ["view"],
            "contactmerge": ["view"],
        },
        "campaigns": {"channel": ["view"], "campaign": ["view"], "coupon": ["view"]},
    },
    "Marketing": {
        "campaigns": {
            "channel": ["add", "change", "view"],
            "channelalias": ["add", "change", "delete", "view"],
            "campaign": ["add", "change", "delete", "view"],
            "cost": ["add", "change", "delete", "view"],
            "coupon": ["add", "change", "delete", "view"],
            "engagementstat": ["add", "change", "delete", "view"],
        },
        "leads": {
            "contact": ["view"],
            "touchpoint": ["view"],
            "purchase": ["view"],
            "stagechange": ["view"],
        },
        "reports": {
            "report": ["add", "change", "view", "view_dashboard"],
            "reportsubscription": ["add", "change", "delete", "view"],
        },
    },
    "Integration": {
        "leads": {
            "contact": ["add", "change", "view"],
            "touchpoint": ["add", "view"],
            "purchase": ["add", "view"],
            "stagechange": ["view"],
        },
        "campaigns": {
            "channel": ["view"],
            "campaign": ["view"],
            "coupon": ["view"],
            "engagementstat": ["add", "change", "view"],
        },
    },
}

# Custom permissions are named in full; the CRUD ones are "<action>_<model>".
CUSTOM = {"merge": "merge_contact", "view_dashboard": "view_dashboard"}


def create_groups(apps, schema_editor):
    # Permissions are normally made after all migrations; make them now so groups can hold them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, by_app in ROLES.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        for app_label, by_model in by_app.items():
            for model, actions in by_model.items():
                codenames = [CUSTOM.get(a, f"{a}_{model}") for a in actions]
                perms = Permission.objects.filter(
                    content_type__app_label=app_label, codename__in=codenames
                )
                missing = set(codenames) - set(perms.values_list("codename", flat=True))
                if missing:
                    raise RuntimeError(f"missing permissions for {group_name}: {sorted(missing)}")
                group.permissions.add(*perms)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0001_initial"),
        ("campaigns", "0002_default_channels"),
        ("reports", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_groups, remove_groups)]
