"""Subscriptions name an email address (issue 11): step 2, each existing subscription gets its
user's address, in the compared form (lower case). A user with no address received nothing,
and an inactive one nothing either: their rows go. Two accounts with one address keep one row
per kind."""

from django.db import migrations


def addresses(apps, schema_editor):
    Subscription = apps.get_model("reports", "ReportSubscription")
    seen = set()
    for sub in Subscription.objects.select_related("added_by").order_by("id"):
        user = sub.added_by
        email = (user.email or "").strip().lower() if user is not None else ""
        if (
            not email
            or not user.is_active
            or sub.granularity not in ("daily", "weekly", "monthly")
            or (email, sub.granularity) in seen
        ):
            sub.delete()
            continue
        seen.add((email, sub.granularity))
        Subscription.objects.filter(pk=sub.pk).update(email=email)


def back(apps, schema_editor):
    """Down: only the rows still tied to a user survive the unique (user, granularity) again."""
    Subscription = apps.get_model("reports", "ReportSubscription")
    Subscription.objects.filter(added_by__isnull=True).delete()
    seen = set()
    for sub in Subscription.objects.order_by("id"):
        if (sub.added_by_id, sub.granularity) in seen:
            sub.delete()
        seen.add((sub.added_by_id, sub.granularity))


class Migration(migrations.Migration):
    dependencies = [("reports", "0013_subscription_addresses")]
    operations = [migrations.RunPython(addresses, back)]
