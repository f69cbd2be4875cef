"""Saved reports name their "(no campaign)" rows with the channel, as fresh ones do.

A label is derived from the row's key and the catalogue (a renamed channel or campaign already
regenerates every saved report), not a figure: rewriting it changes no number, and keeps
`verify_reports` (which compares a saved report with a fresh one, labels included) quiet."""

from django.db import migrations

OLD = "(no campaign)"


def _relabel(apps, to_new: bool) -> None:
    Channel = apps.get_model("campaigns", "Channel")
    Report = apps.get_model("reports", "Report")
    names = dict(Channel.objects.values_list("slug", "name"))
    changed = []
    for report in Report.objects.filter(group_by="campaign").exclude(data=None).iterator():
        touched = False
        for part in ("roi", "funnel"):
            for row in ((report.data or {}).get(part) or {}).get("rows", []):
                key = str(row.get("key", ""))
                if not key.startswith("none:") or key[5:] not in names:
                    continue
                new = f"{names[key[5:]]} {OLD}"
                wanted, current = (new, OLD) if to_new else (OLD, new)
                if row.get("label") == current:
                    row["label"] = wanted
                    touched = True
        if touched:
            changed.append(report)
    Report.objects.bulk_update(changed, ["data"], batch_size=200)


def forwards(apps, schema_editor):
    _relabel(apps, to_new=True)


def backwards(apps, schema_editor):
    _relabel(apps, to_new=False)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0004_not_in_future"),
        ("reports", "0010_sweep_every_minute"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
