"""Saved reports remember who claimed them and when they were queued, so a job whose worker
died, or whose queue message was lost, is taken up again (reports.services.reports_sweep)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('reports', '0006_recompute_day_caches'),
    ]

    operations = [
        migrations.AddField(
            model_name='report',
            name='enqueued_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='report',
            name='interruptions',
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='report',
            name='task_id',
            field=models.CharField(blank=True, default='', max_length=255),
        ),
    ]
