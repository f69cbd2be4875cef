"""Search channels for the click ids a site or a shop reports (gclid: Google, msclkid: Bing)."""

from django.db import migrations

CHANNELS = [
    ("google", "Google", "search", ["google.com", "www.google.com", "googleads", "adwords"]),
    ("bing", "Bing", "search", ["bing.com", "www.bing.com", "microsoft ads"]),
]


def create_channels(apps, schema_editor):
    Channel = apps.get_model("campaigns", "Channel")
    ChannelAlias = apps.get_model("campaigns", "ChannelAlias")
    for slug, name, kind, aliases in CHANNELS:
        channel, _ = Channel.objects.get_or_create(slug=slug, defaults={"name": name, "kind": kind})
        for alias in aliases:
            ChannelAlias.objects.get_or_create(alias=alias, defaults={"channel": channel})


def remove_channels(apps, schema_editor):
    Channel = apps.get_model("campaigns", "Channel")
    Channel.objects.filter(
        slug__in=[c[0] for c in CHANNELS], campaigns__isnull=True, touchpoints__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0010_import_job_permissions")]
    operations = [migrations.RunPython(create_channels, remove_channels)]
