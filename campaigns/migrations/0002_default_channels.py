"""The default channels and the names integrations use for them."""

from django.db import migrations

CHANNELS = [
    # slug, name, kind, aliases (utm_source values and referrer hosts)
    (
        "facebook",
        "Facebook",
        "social",
        [
            "fb",
            "fb.com",
            "fb.me",
            "facebook.com",
            "www.facebook.com",
            "l.facebook.com",
            "m.facebook.com",
            "lm.facebook.com",
            "meta",
        ],
    ),
    (
        "instagram",
        "Instagram",
        "social",
        ["ig", "insta", "instagram.com", "www.instagram.com", "l.instagram.com"],
    ),
    (
        "x",
        "X (Twitter)",
        "social",
        [
            "twitter",
            "t.co",
            "x.com",
            "www.x.com",
            "twitter.com",
            "www.twitter.com",
            "mobile.twitter.com",
        ],
    ),
    ("linkedin", "LinkedIn", "social", ["li", "lnkd.in", "linkedin.com", "www.linkedin.com"]),
    ("pinterest", "Pinterest", "social", ["pin", "pin.it", "pinterest.com", "www.pinterest.com"]),
    ("tiktok", "TikTok", "social", ["tt", "tiktok.com", "www.tiktok.com", "vm.tiktok.com"]),
    (
        "youtube",
        "YouTube",
        "social",
        ["yt", "youtu.be", "youtube.com", "www.youtube.com", "m.youtube.com"],
    ),
    ("email", "Email", "email", ["newsletter", "mail", "e-mail", "mailchimp", "klaviyo"]),
    ("referral", "Referral", "referral", ["ref", "partner"]),
    ("direct", "Direct", "direct", ["(direct)", "(none)", "none", "typein"]),
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
    Channel.objects.filter(slug__in=[c[0] for c in CHANNELS], campaigns__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0001_initial")]
    operations = [migrations.RunPython(create_channels, remove_channels)]
