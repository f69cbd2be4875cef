"""Tracking numbers are stored in E.164 (`campaigns.phones.normalize_phone`), as contacts'
phones are, so a call-tracking provider's "+15125550142" finds the campaign whose number was
typed "512-555-0142" (stored "5125550142" until now)."""

from django.db import migrations


def tracking_phones_e164(apps, schema_editor):
    from campaigns.phones import normalize_phone

    Campaign = apps.get_model("campaigns", "Campaign")
    rows = list(
        Campaign.objects.exclude(tracking_phone__isnull=True)
        .order_by("id")
        .values_list("id", "tracking_phone")
    )
    taken = {phone for _, phone in rows}
    for pk, phone in rows:
        e164 = normalize_phone(phone) or None
        if e164 is None or e164 == phone:
            continue
        # Two campaigns whose numbers were one line typed two ways: the one that holds the
        # E.164 form (already, or first) keeps it, the other keeps its text as it was, so the
        # unique constraint stays true; the admin shows both for someone to correct.
        if e164 in taken:
            continue
        Campaign.objects.filter(pk=pk).update(tracking_phone=e164)
        taken.discard(phone)
        taken.add(e164)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0011_search_channels")]
    operations = [
        migrations.RunPython(tracking_phones_e164, migrations.RunPython.noop, elidable=True)
    ]
