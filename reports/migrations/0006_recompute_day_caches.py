"""The day caches' rows are recomputed: customers are credited by the model's exact weights,
the time-decay remainder goes to the largest share, and walk-ins without a coupon count in the
unattributed row. The caches are derived data: emptying them only costs the next report time."""

from django.db import migrations


def empty_caches(apps, schema_editor):
    apps.get_model("reports", "AttributedDay").objects.all().delete()
    apps.get_model("reports", "ContactDay").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("reports", "0005_day_caches_per_time_zone")]
    operations = [migrations.RunPython(empty_caches, migrations.RunPython.noop)]
